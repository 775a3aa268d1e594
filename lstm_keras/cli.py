"""The `lstm-keras` command: `translate`, `classify` and `lm` sub-commands.

Each command group lives in `lstm_keras/commands/<group>.py` and exposes `register(subparsers)`,
which adds its sub-commands; every sub-command's handler returns an exit code.
"""

import argparse
import importlib
import sys

COMMAND_GROUPS = ("classify", "translate", "lm")


def build_parser():
    """Builds the argument parser with every command group."""
    parser = argparse.ArgumentParser(prog="lstm-keras", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="group", required=True)
    for group in COMMAND_GROUPS:
        importlib.import_module(f"lstm_keras.commands.{group}").register(subparsers)
    return parser


def main(argv=None):
    """Runs the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except (ValueError, FileNotFoundError) as error:
        print(f"lstm-keras: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
