"""What every command group shares: argument types, the staged `train` run and progress logs."""

import argparse
import contextlib
import copy
import json
import math
import os
import shutil
import sys
import tempfile

from lstm_keras.commands.output import check_out
from lstm_keras.commands.output import data_fingerprint
from lstm_keras.commands.output import install
from lstm_keras.commands.output import out_lock
from lstm_keras.distribute import STRATEGIES
from lstm_keras.distribute import get_strategy
from lstm_keras.distribute import is_chief
from lstm_keras.layers.cells import CELLS
from lstm_keras.layers.cells import check_cell
from lstm_keras.io import write_text
from lstm_keras.training import log
from lstm_keras.training import non_finite
from lstm_keras.training import print_metrics

# The staging folder of a `train` run inside `--out`, and the arguments kept in it.
STAGING = ".in_progress"
ARGUMENTS_FILE = "arguments.json"
# The longest text (bytes) that `run`, `predict` and `score` read.
MAX_LINE_BYTES = 1 << 20


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in `--help`, once: not for options without one (None, off) or whose help names it."""

    def _format_action(self, action):
        if action.help is None and action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            action = copy.copy(action)
            action.help = "(default: %(default)s)"
        return super()._format_action(action)

    def _get_help_string(self, action):
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def add_command(commands, name, help):
    """Adds the sub-command `name` to `commands` (a sub-parsers object), with defaults shown in its `--help`."""
    return commands.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".",
                               formatter_class=HelpFormatter)


def resume_hint(args):
    """What to tell a user who interrupted a command: how to resume a `train`, from which epoch."""
    staging = os.path.join(args.out, STAGING) if getattr(args, "out", None) else None
    if staging is None or not os.path.isdir(staging):
        return ""
    epoch = 1
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        with open(os.path.join(staging, "backup", "training_metadata.json"), encoding="utf-8") as f:
            epoch = int(json.load(f)["epoch"]) + 1  # the epochs completed, then the next one
    return f"; run the same command again to resume from epoch {epoch} ({staging} holds the run)"


def read_texts(texts):
    """The texts of a `run` / `predict` / `score` command: its arguments, else one a line of stdin (as bytes).

    Arguments go back to their original bytes (undecodable ones included). A line over
    `MAX_LINE_BYTES` is refused with its number: one text that long would not fit in memory
    once tokenised.

    Raises:
        ValueError: a text is longer than `MAX_LINE_BYTES`.
    """
    lines = [os.fsencode(text) for text in texts] if texts else sys.stdin.buffer.read().splitlines()
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_LINE_BYTES:
            raise ValueError(f"text {number} has {len(line):,} bytes, more than the {MAX_LINE_BYTES:,} a text may "
                             "have: split it into sentences or paragraphs")
    return lines


def int_list(value):
    """An argparse type: comma-separated integers.

    Example:
    >>> int_list("2000,10000")
    [2000, 10000]
    """
    try:
        return [int(part) for part in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 2000,10000, received {value!r}"
        ) from None


def int_at_least(minimum, maximum=None):
    """An argparse type: an integer >= `minimum` (and <= `maximum` if given).

    Example:
    >>> int_at_least(1)("3")
    3
    """

    def parse(value):
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, received {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, received {value!r}")
        if maximum is not None and number > maximum:
            raise argparse.ArgumentTypeError(f"expected an integer <= {maximum}, received {value!r}")
        return number

    return parse


def number_in(low=None, high=None, low_open=False, high_open=False):
    """An argparse type: a finite number in the interval given (None: unbounded on that side).

    Every command checks the same option with the same type, so an option means the same
    everywhere (`POSITIVE` learning rates and budgets, `NON_NEGATIVE` clipping, `RATE` dropout).

    Example:
    >>> number_in(0, 1, high_open=True)("0.25")
    0.25
    """
    lower = "(-inf" if low is None else f"{'(' if low_open else '['}{low:g}"
    upper = "inf)" if high is None else f"{high:g}{')' if high_open else ']'}"
    interval = f"{lower}, {upper}"

    def parse(value):
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, received {value!r}") from None
        too_low = low is not None and (number < low or low_open and number == low)
        too_high = high is not None and (number > high or high_open and number == high)
        if not math.isfinite(number) or too_low or too_high:
            raise argparse.ArgumentTypeError(f"expected a number in {interval}, received {value!r}")
        return number

    return parse


POSITIVE = number_in(0, low_open=True)  # learning rates, time budgets (minutes), temperatures
NON_NEGATIVE = number_in(0)  # gradient clipping (0: none), length penalties
RATE = number_in(0, 1, high_open=True)  # dropout, label smoothing
fraction = number_in(0, 1, low_open=True, high_open=True)  # shares of the data


# Every decoding flag, defined once; each command picks those its models use (`add_decoding_arguments`).
DECODING_FLAGS = {
    "beam_size": ("--beam-size", {"type": int_at_least(1), "help": "beam size; 1 for greedy decoding"}),
    "length_penalty": ("--length-penalty", {"type": NON_NEGATIVE, "help": "GNMT length penalty alpha of beam search"}),
    "greedy": ("--greedy", {"action": "store_true", "help": "the most probable token at every step"}),
    "temperature": ("--temperature", {"type": POSITIVE, "help": "divides the logits; > 0"}),
    "top_k": ("--top-k", {"type": int_at_least(1), "help": "sample among the K most probable tokens"}),
    "top_p": ("--top-p", {"type": number_in(0, 1, low_open=True), "help": "nucleus sampling: the fewest tokens with "
                                                                          "probability >= P"}),
    "seed": ("--seed", {"type": int, "help": "seed of the random draws (repeatable output)"}),
    "coverage_penalty": ("--coverage-penalty", {"type": NON_NEGATIVE, "help": "GNMT coverage penalty beta of beam "
                                                                           "search (0: off)"}),
    "no_repeat_ngram": ("--no-repeat-ngram", {"type": int_at_least(0), "metavar": "N",
                                              "help": "never repeat an N-gram within an output (0: off)"}),
}


def add_decoding_arguments(parser, defaults, note=""):
    """Adds the decoding flags named by `defaults` (a dict name -> default) to `parser`.

    Args:
        parser: an argparse parser or group.
        defaults: the flags to add (keys of `DECODING_FLAGS`) and their defaults.
        note: appended to each flag's help (e.g. " (default: the model's)").
    """
    for name, default in defaults.items():
        flag, options = DECODING_FLAGS[name]
        options = dict(options, help=options["help"] + note)
        if options.get("action") == "store_true":
            parser.add_argument(flag, **options)
        else:
            parser.add_argument(flag, default=default, **options)


def sampler_from_arguments(args):
    """The sampler of the decoding flags that `args` holds (`lstm_keras.decoding.from_options`)."""
    from lstm_keras import decoding

    names = ("beam_size", "length_penalty", "greedy", "top_k", "top_p", "seed", "no_repeat_ngram")
    options = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    return decoding.from_options(**options)


def run_staged_training(train, args, group):
    """Runs `train(args, staging_dir)` in `--out`'s staging folder, whose files then replace `--out`'s own.

    `--out` must be new, empty or an earlier lstm-keras output (`lstm_keras.commands.output`:
    anything else is refused unless `--overwrite`, and even then only lstm-keras's own files are
    replaced); a lock file stops a second run on it. The run writes into `OUT/.in_progress/`
    (`STAGING`), so `--out`'s earlier artifacts stay as they were until the run succeeds. A run
    that fails before writing anything leaves nothing behind; otherwise the staging folder
    survives the failure or a kill (SIGKILL included), with the training state of
    `keras.callbacks.BackupAndRestore` in it: the same command started again resumes from the last
    completed epoch. The command's arguments and a fingerprint of its data are kept beside it
    (`arguments.json`): a run with other arguments, or on changed data, starts over instead. A run
    whose metrics are not finite (it diverged) is refused: `--out` keeps the earlier model.

    With `args.strategy` other than `"default"`, the whole run (model building, training,
    evaluation, export) happens inside that `tf.distribute` strategy's scope; on a multi-worker
    strategy only the chief writes `--out`, the other workers write into a temporary folder that
    is removed at the end.

    Keras' progress bars go to stderr; stdout gets only the final metrics, as one JSON line.

    Args:
        train: `train(args, out_dir)`, returning the metrics dict.
        args: the parsed arguments (with `out`, and `strategy` where the command has one).
        group: the command group, for progress lines (`"translate"`, ...).

    Returns:
        The exit status, 0.
    """
    if hasattr(args, "cell"):
        check_cell(args.cell, args.gating)  # a combination no model accepts: refused before anything runs
    strategy = _strategy(args, group)
    with contextlib.redirect_stdout(sys.stderr), (strategy.scope() if strategy else contextlib.nullcontext()):
        if strategy is None or is_chief(strategy):
            metrics = _train_staged(train, args, group)
        else:
            with tempfile.TemporaryDirectory() as scratch:
                metrics = train(args, scratch)
    print_metrics(metrics)
    return 0


def _train_staged(train, args, group):
    """`train` in `OUT/.in_progress/`, whose files then go into `OUT`; returns the metrics."""
    check_out(args, STAGING)
    out_existed = os.path.isdir(args.out)
    staging = os.path.join(args.out, STAGING)
    try:
        with out_lock(args.out, lambda message: log(group, message)):
            _prepare_staging(staging, args, group)
            try:
                metrics = train(args, staging)
            except BaseException:
                if os.listdir(staging) == [ARGUMENTS_FILE]:  # failed before writing anything: nothing to resume
                    shutil.rmtree(staging)
                raise
            diverged = non_finite(metrics)
            if diverged:
                shutil.rmtree(staging)
                raise ValueError(f"training diverged ({', '.join(diverged)} not finite): --out keeps what it held; "
                                 "try a lower --learning-rate or gradient clipping (--clipnorm)")
            os.remove(os.path.join(staging, ARGUMENTS_FILE))
            install(staging, args.out, f"{group} train")
    finally:
        if not out_existed and os.path.isdir(args.out) and not os.listdir(args.out):
            os.rmdir(args.out)
    return metrics


def _prepare_staging(staging, args, group):
    """Keeps a staging folder of the same command on the same data (to resume it), or starts a fresh one."""
    arguments = {key: value for key, value in sorted(vars(args).items()) if key not in ("handler", "overwrite")}
    arguments = json.loads(json.dumps(arguments, default=str))
    record = {"arguments": arguments, "data": data_fingerprint(args)}
    marker = os.path.join(staging, ARGUMENTS_FILE)
    if os.path.isdir(staging):
        previous = None
        if os.path.isfile(marker):
            with contextlib.suppress(OSError, ValueError):
                with open(marker, encoding="utf-8") as f:
                    previous = json.load(f)
        if previous == record:
            log(group, f"resuming the interrupted run in {staging}")
        else:
            changed = "data" if isinstance(previous, dict) and previous.get("arguments") == arguments else "arguments"
            log(group, f"{staging} holds a run with other {changed}: starting over")
            shutil.rmtree(staging)
    os.makedirs(staging, exist_ok=True)
    write_text(marker, json.dumps(record, indent=1))


def _strategy(args, group):
    """The `tf.distribute` strategy of `--strategy`, or None for the default (one device)."""
    name = getattr(args, "strategy", "default")
    if name == "default":
        return None
    strategy = get_strategy(name)
    log(group, f"--strategy {name}: {strategy.num_replicas_in_sync} replicas in sync")
    return strategy


def add_header_argument(parser):
    """Adds `--header` / `--no-header`: whether a TSV data set's first line names its columns (default: detected)."""
    parser.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                        help="the first line of a TSV file is a header (--header) or data (--no-header); by default a "
                             "first line of column names such as label<TAB>text is detected and skipped")


def add_output_arguments(parser):
    """Adds `--out` and `--overwrite` (what a `train` may do to the folder: `lstm_keras.commands.output`)."""
    parser.add_argument("--out", required=True,
                        help="the output folder: new, empty, or an earlier output of lstm-keras (replaced when the run "
                             "succeeds)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into an --out that holds other files too (only lstm-keras's own files are "
                             "replaced)")


def add_export_command(commands, group, handler, what, fused_lstm=False):
    """Adds `<group> export --model DIR --format F --out PATH [--overwrite]`, which prints the export's summary as JSON.

    Args:
        commands: the group's sub-parsers.
        group: the command group (`classify`, `lm`, `translate`), named in the help.
        handler: `handler(directory, out, format, overwrite)` -> the summary (a dict).
        what: what the LiteRT and ONNX files compute, for the help.
        fused_lstm: whether the task offers `--fused-lstm` (then passed to `handler` as `fused_lstm`).
    """
    from lstm_keras.conversion import FORMATS

    export = add_command(commands, "export", f"export a trained model as a SavedModel, LiteRT or ONNX file ({what})")
    export.add_argument("--model", required=True, help=f"the --out folder of `{group} train`")
    export.add_argument("--format", required=True, choices=FORMATS,
                        help="saved_model: a folder served from raw text by TensorFlow; tflite, onnx: a file on token "
                             "ids, checked by its runtime (pip install \"lstm_keras[export]\"), with its vocabulary, a "
                             "plain-Python tokenizer and a JSON description beside it")
    export.add_argument("--out", required=True,
                        help="the SavedModel folder, or the .tflite / .onnx file (the suffix may be left out)")
    export.add_argument("--overwrite", action="store_true", help="replace files that exist")
    if fused_lstm:
        export.add_argument("--fused-lstm", action="store_true",
                            help="tflite: the standard LSTM layers as TFLite's fused LSTM kernel instead of a loop "
                                 "(it keeps its state between calls: reset the interpreter's variables after "
                                 "every sequence, as the JSON description says)")

    def run(args):
        options = {"fused_lstm": args.fused_lstm} if fused_lstm else {}
        summary = handler(args.model, args.out, args.format, overwrite=args.overwrite, **options)
        print(json.dumps(summary, ensure_ascii=False))
        return 0

    export.set_defaults(handler=run)


def add_stopping_arguments(parser, defaults):
    """Adds `--patience`, `--time-budget` and `--seed` with the recipe's `defaults` (what ends and repeats a run)."""
    parser.add_argument("--patience", type=int_at_least(1), default=defaults["patience"])
    add_time_budget_argument(parser)
    parser.add_argument("--seed", type=int, default=defaults["seed"])


def add_time_budget_argument(parser):
    """Adds `--time-budget MINUTES`: a limit on the whole command (`lstm_keras.training.Deadline`)."""
    parser.add_argument(
        "--time-budget", type=POSITIVE, metavar="MINUTES",
        help="the most the whole command may take, from start to exit (loading, training, the final evaluation, the "
             "export): training stops in time for what follows it, keeping the best weights so far; several training "
             "runs (trials, folds, members) share it",
    )


def cell_name(value):
    """An argparse type: a cell name of `lstm_keras.layers.cells.CELLS` (checked, with what is allowed)."""
    try:
        check_cell(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def add_cell_argument(parser, default="lstm"):
    """Adds `--cell NAME`: the recurrent cell of every layer (`lstm_keras.layers.cells`)."""
    parser.add_argument(
        "--cell", type=cell_name, default=default, metavar="CELL",
        help=f"the recurrent cell of every layer: one of {', '.join(CELLS)} (lstm takes --gating; xlstm[A:B] is a "
             "stack of residual xLSTM blocks, A mLSTM blocks per B sLSTM blocks, e.g. xlstm[1:1])",
    )


def add_strategy_argument(parser):
    """Adds `--strategy default | mirrored | multi-worker` (see `lstm_keras.distribute`)."""
    parser.add_argument(
        "--strategy", choices=STRATEGIES, default="default",
        help="default: one device; mirrored: all GPUs of this machine; multi-worker: several machines, configured "
             "by TF_CONFIG. --batch-size is the global batch, split evenly across the replicas",
    )
