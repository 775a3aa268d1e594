"""`lstm-keras synthetic train`: the generated tasks that separate the recurrent cells.

`train` trains a model (`--cell`, `--layers`, `--units`) on fresh sequences of a generated task
every epoch (`lstm_keras.datasets.synthetic`), keeps the weights of the best validation loss
(sequences of the training lengths), then scores it on new sequences of each test-length bucket:
the accuracy (the squared error for `adding`) over the scored positions, and the scaled score,
1 for a perfect model and 0 for chance. The formal languages train on lengths 3-40 and test on
41-256: whether a cell generalises to lengths it never saw. The run is staged and resumable as
every `train` (see `lstm-keras lm train --help`). `--out` then holds `model.keras`,
`metrics.json`, `training_curves.png`, `scores_by_length.png` and the callbacks' files; the
metrics are printed as one JSON line on stdout (`score`: the mean scaled score over the test
lengths beyond the training ones), progress on stderr.
"""

import argparse

from lstm_keras.commands.arguments import HelpFormatter
from lstm_keras.commands.arguments import NON_NEGATIVE
from lstm_keras.commands.arguments import POSITIVE
from lstm_keras.commands.arguments import add_cell_argument
from lstm_keras.commands.arguments import add_command
from lstm_keras.commands.arguments import add_output_arguments
from lstm_keras.commands.arguments import add_stopping_arguments
from lstm_keras.commands.arguments import int_at_least
from lstm_keras.commands.arguments import run_staged_training
from lstm_keras.datasets.synthetic import TASKS
from lstm_keras.datasets.synthetic import generate
from lstm_keras.layers.gating import VARIANTS
from lstm_keras.models.synthetic.training import DEFAULTS
from lstm_keras.models.synthetic.training import task_of
from lstm_keras.models.synthetic.training import train_synthetic_task


def register(subparsers):
    """Adds the `synthetic` group with its `train` sub-command."""
    group = subparsers.add_parser("synthetic", help="generated tasks that separate the cells", description=__doc__)
    commands = group.add_subparsers(dest="command", required=True)
    train = add_command(commands, "train", "train a cell on a generated task and score it by sequence length")
    train.epilog = "tasks:\n" + "\n".join(
        f"  {task.name:20s} {task.summary}; chance {task.chance:.3g} ({'accuracy' if task.num_classes else 'MSE'})"
        for task in TASKS.values())
    train.formatter_class = _TasksHelpFormatter
    data = train.add_argument_group("task")
    data.add_argument("--task", required=True, choices=tuple(TASKS), metavar="TASK",
                      help=f"one of {', '.join(TASKS)} (below)")
    data.add_argument("--train-lengths", type=length_range, default=DEFAULTS["train_lengths"], metavar="A-B",
                      help="the lengths of training (each sequence's drawn from A to B; default: the task's)")
    data.add_argument("--test-lengths", type=length_ranges, default=DEFAULTS["test_lengths"], metavar="A-B,C-D",
                      help="the test buckets (default: the task's)")
    data.add_argument("--test-examples", type=int_at_least(1), default=DEFAULTS["test_examples"],
                      help="sequences of each test bucket")
    data.add_argument("--mqar-pairs", type=int_at_least(1), default=DEFAULTS["mqar_pairs"],
                      help="mqar: the key-value pairs of a sequence (its length: --train-lengths, at least 2 per "
                           "pair plus 1)")
    data.add_argument("--mqar-keys", type=int_at_least(1), default=DEFAULTS["mqar_keys"],
                      help="mqar: the key vocabulary (at least --mqar-pairs)")
    data.add_argument("--mqar-values", type=int_at_least(2), default=DEFAULTS["mqar_values"],
                      help="mqar: the value vocabulary (chance is 1 / this)")
    model = train.add_argument_group("model")
    add_cell_argument(model, DEFAULTS["cell"])
    model.add_argument("--gating", choices=tuple(VARIANTS), default=DEFAULTS["gating"],
                       help="gating preset of the lstm cell (default: vanilla)")
    model.add_argument("--layers", type=int_at_least(1), default=DEFAULTS["layers"])
    model.add_argument("--units", type=int_at_least(1), default=DEFAULTS["units"],
                       help="the width of the embedding and every layer")
    training = train.add_argument_group("training")
    training.add_argument("--batch-size", type=int_at_least(1), default=DEFAULTS["batch_size"])
    training.add_argument("--steps-per-epoch", type=int_at_least(1), default=DEFAULTS["steps_per_epoch"],
                          help="batches of fresh sequences per epoch")
    training.add_argument("--epochs", type=int_at_least(1), default=DEFAULTS["epochs"])
    training.add_argument("--learning-rate", type=POSITIVE, default=DEFAULTS["learning_rate"], help="Adam's")
    training.add_argument("--clipnorm", type=NON_NEGATIVE, default=DEFAULTS["clipnorm"],
                          help="gradient clipping by global norm; 0 for none")
    add_stopping_arguments(training, DEFAULTS)
    add_output_arguments(train)
    train.set_defaults(handler=run_train, valid_examples=DEFAULTS["valid_examples"])


class _TasksHelpFormatter(argparse.RawDescriptionHelpFormatter, HelpFormatter):
    """The defaults in `--help`, and the tasks' table as written."""


def run_train(args):
    """Runs `synthetic train`; prints the metrics as one JSON line."""
    task = task_of(args)
    for lengths in [args.train_lengths or task.train_lengths, *(args.test_lengths or task.test_lengths)]:
        generate(task, 1, tuple(lengths), rng=0)  # a length or size the task cannot have: its error, before anything
    return run_staged_training(train_synthetic_task, args, "synthetic")


def length_range(value):
    """An argparse type: `A-B` (or `A`) with 1 <= A <= B, as `(A, B)`.

    Example:
    >>> length_range("3-40"), length_range("100")
    ((3, 40), (100, 100))
    """
    try:
        parts = [int(part) for part in value.split("-")]
        if len(parts) not in (1, 2) or not 1 <= parts[0] <= parts[-1]:
            raise ValueError(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected lengths A-B (or one length A) with 1 <= A <= B, e.g. 3-40; received {value!r}") from None
    return parts[0], parts[-1]


def length_ranges(value):
    """An argparse type: comma-separated `A-B` buckets.

    Example:
    >>> length_ranges("41-64,65-128")
    [(41, 64), (65, 128)]
    """
    return [length_range(part) for part in value.split(",")]
