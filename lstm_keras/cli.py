"""The `lstm-keras` command: `translate`, `classify`, `lm` and `synthetic` sub-commands.

Each command group lives in `lstm_keras/commands/<group>.py` and exposes `register(subparsers)`,
which adds its sub-commands; every sub-command's handler returns an exit code. A user's mistake
(a bad argument, a missing or damaged file, an `--out` that is not the run's to write) is one
line on stderr and exit code 2, never a traceback; Ctrl-C is one line and exit code 130.
TensorFlow's C++ logs (start-up lines, harmless error-level lines while training) are silenced
unless `--verbose`.
"""

import argparse
import contextlib
import importlib
import os
import sys
import time

COMMAND_GROUPS = ("classify", "translate", "lm", "synthetic")


def build_parser():
    """Builds the argument parser with every command group."""
    from lstm_keras import __version__

    parser = argparse.ArgumentParser(prog="lstm-keras", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"lstm-keras {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own logs (silenced by default); may stand anywhere on the line")
    subparsers = parser.add_subparsers(dest="group", required=True)
    for group in COMMAND_GROUPS:
        importlib.import_module(f"lstm_keras.commands.{group}").register(subparsers)
    return parser


def main(argv=None):
    """Runs the command line; returns the exit status."""
    started = time.monotonic()  # a --time-budget covers the whole command, imports included
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv
    argv = [argument for argument in argv if argument != "--verbose"]
    if not verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # TensorFlow's C++ logs, errors included ("NodeDef mentions ...")
    with contextlib.nullcontext() if verbose else _native_stderr_silenced():
        parser = build_parser()
        _start_devices()
    args = parser.parse_args(argv)
    from lstm_keras.training import command_clock

    try:
        with command_clock(started):
            return args.handler(args) or 0
    except KeyboardInterrupt:
        from lstm_keras.commands.arguments import resume_hint

        print(f"lstm-keras: interrupted{resume_hint(args)}", file=sys.stderr)
        return 130
    except (ValueError, OSError) as error:
        print(f"lstm-keras: error: {error}", file=sys.stderr)
        return 2


def run():
    """The `lstm-keras` program: `main`, then the process ends at once with its status.

    Python's teardown of a process that ran TensorFlow (its graphs, thread pools and buffers) was
    seen to take up to 40 s after a command had finished and printed its results, time that a
    `--time-budget` cannot plan for; every file is written and closed by then, and the standard
    streams are flushed first.
    """
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


@contextlib.contextmanager
def _native_stderr_silenced():
    """Sends file descriptor 2 to /dev/null for the block: what TensorFlow's C++ prints while it loads.

    Those lines (CUDA drivers not found, CPU instructions, absl's start-up warning) are written
    before any logging setting applies. Python's own `sys.stderr` is untouched when it is not fd 2.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no fd 2 to redirect
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _start_devices():
    """Lets TensorFlow find its devices now (inside the silenced block), if it is loaded."""
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].config.list_physical_devices()


if __name__ == "__main__":
    run()
