"""What every command group shares: argument types, the staged `train` run and progress logs."""

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile

from lstm_keras.distribute import STRATEGIES
from lstm_keras.distribute import get_strategy
from lstm_keras.distribute import is_chief
from lstm_keras.io import replace_path
from lstm_keras.io import write_text
from lstm_keras.training import log
from lstm_keras.training import print_metrics

# The staging folder of a `train` run inside `--out`, and the arguments kept in it.
STAGING = ".in_progress"
ARGUMENTS_FILE = "arguments.json"


def int_at_least(minimum):
    """An argparse type: an integer >= `minimum`.

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
        return number

    return parse


def fraction(value):
    """An argparse type: a number strictly between 0 and 1."""
    number = float(value)
    if not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), received {value!r}")
    return number


# Every decoding flag, defined once; each command picks those its models use (`add_decoding_arguments`).
DECODING_FLAGS = {
    "beam_size": ("--beam-size", {"type": int_at_least(1), "help": "beam size; 1 for greedy decoding"}),
    "length_penalty": ("--length-penalty", {"type": float, "help": "GNMT length penalty alpha of beam search"}),
    "greedy": ("--greedy", {"action": "store_true", "help": "the most probable token at every step"}),
    "temperature": ("--temperature", {"type": float, "help": "divides the logits; > 0"}),
    "top_k": ("--top-k", {"type": int, "help": "sample among the K most probable tokens"}),
    "top_p": ("--top-p", {"type": float, "help": "nucleus sampling: the fewest tokens with probability >= P"}),
    "seed": ("--seed", {"type": int, "help": "seed of the random draws (repeatable output)"}),
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

    names = ("beam_size", "length_penalty", "greedy", "top_k", "top_p", "seed")
    return decoding.from_options(**{name: getattr(args, name) for name in names if getattr(args, name, None) is not None})


def run_staged_training(train, args, group):
    """Runs `train(args, staging_dir)` in `--out`'s staging folder, renamed onto `--out` on success.

    The run writes into `OUT/.in_progress/` (`STAGING`), so `--out`'s earlier artifacts stay as
    they were until the run succeeds; then the staging folder replaces `--out` in one rename.
    A run that fails before writing anything leaves nothing behind; otherwise the staging folder
    survives the failure or a kill (SIGKILL included), with the training state
    of `keras.callbacks.BackupAndRestore` in it: the same command started again resumes from the
    last completed epoch. The command's arguments are kept beside it (`arguments.json`): a run
    with other arguments starts over instead of resuming a different model.

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
    arguments = json.dumps({k: v for k, v in sorted(vars(args).items()) if k != "handler"}, default=str, indent=1)
    strategy = _strategy(args, group)
    with contextlib.redirect_stdout(sys.stderr), (strategy.scope() if strategy else contextlib.nullcontext()):
        if strategy is None or is_chief(strategy):
            metrics = _train_staged(train, args, group, arguments)
        else:
            with tempfile.TemporaryDirectory() as scratch:
                metrics = train(args, scratch)
    print_metrics(metrics)
    return 0


def _train_staged(train, args, group, arguments):
    """`train` in `OUT/.in_progress/`, which then replaces `OUT`; returns the metrics."""
    out_existed = os.path.isdir(args.out)
    staging = os.path.join(args.out, STAGING)
    _prepare_staging(staging, arguments, group)
    try:
        metrics = train(args, staging)
    except BaseException:
        if os.listdir(staging) == [ARGUMENTS_FILE]:  # failed before writing anything: nothing to resume
            shutil.rmtree(staging)
            if not out_existed:
                os.rmdir(args.out)
        raise
    os.remove(os.path.join(staging, ARGUMENTS_FILE))
    parent = os.path.dirname(os.path.abspath(args.out))
    finished = tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(args.out))}.", suffix=".done", dir=parent)
    os.rename(staging, os.path.join(finished, "out"))  # out of --out, which it replaces
    replace_path(os.path.join(finished, "out"), args.out)
    shutil.rmtree(finished, ignore_errors=True)
    return metrics


def _prepare_staging(staging, arguments, group):
    """Keeps a staging folder of the same command (to resume it), or starts a fresh one."""
    marker = os.path.join(staging, ARGUMENTS_FILE)
    if os.path.isdir(staging):
        previous = None
        if os.path.isfile(marker):
            with open(marker, encoding="utf-8") as f:
                previous = f.read()
        if previous == arguments:
            log(group, f"resuming the interrupted run in {staging}")
        else:
            log(group, f"{staging} holds a run with other arguments: starting over")
            shutil.rmtree(staging)
    os.makedirs(staging, exist_ok=True)
    write_text(marker, arguments)


def _strategy(args, group):
    """The `tf.distribute` strategy of `--strategy`, or None for the default (one device)."""
    name = getattr(args, "strategy", "default")
    if name == "default":
        return None
    strategy = get_strategy(name)
    log(group, f"--strategy {name}: {strategy.num_replicas_in_sync} replicas in sync")
    return strategy


def add_strategy_argument(parser):
    """Adds `--strategy default | mirrored | multi-worker` (see `lstm_keras.distribute`)."""
    parser.add_argument(
        "--strategy", choices=STRATEGIES, default="default",
        help="default: one device; mirrored: all GPUs of this machine; multi-worker: several machines, configured "
             "by TF_CONFIG. --batch-size is the global batch, split evenly across the replicas",
    )

