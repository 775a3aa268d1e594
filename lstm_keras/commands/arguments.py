"""What every command group shares: argument types, the staged `train` run and progress logs."""

import argparse
import contextlib
import sys

from lstm_keras.io import atomic_path
from lstm_keras.training import print_metrics


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


def run_staged_training(train, args):
    """Runs `train(args, staging_dir)` into a staging folder renamed onto `args.out` on success.

    Keras' progress bars go to stderr; stdout gets only the final metrics, as one JSON line.
    A run that fails leaves `--out` as it was.

    Returns:
        The exit status, 0.
    """
    with contextlib.redirect_stdout(sys.stderr):
        with atomic_path(args.out) as staging:
            metrics = train(args, staging)
    print_metrics(metrics)
    return 0


def log(group, message):
    """Prints a progress line for the `group` command on stderr."""
    print(f"lstm-keras {group}: {message}", file=sys.stderr, flush=True)
