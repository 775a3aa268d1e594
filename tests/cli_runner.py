"""`run_cli`: runs the `lstm-keras` command line in process, for the command tests; `damage_folder` breaks a model folder."""

import io
import json
import os
import sys

from lstm_keras import cli
from lstm_keras.saving import MARKER_FILE


def run_cli(argv, stdin=None):
    """Runs the CLI in process; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr, sys.stdin
    sys.stdout, sys.stderr = out, err
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse errors
        code = exit_.code
    finally:
        sys.stdout, sys.stderr, sys.stdin = old
    return code, out.getvalue(), err.getvalue()


# The ways a user's model folder gets damaged, and the one-line error each must give (`damage_folder`).
DAMAGES = {
    "garbage model": "model.keras is truncated or corrupted",
    "truncated model": "model.keras is truncated or corrupted",
    "damaged settings": "is damaged: not valid JSON",
    "other task": "holds the output of `lstm-keras other train`",
    "newer version": "newer than this",
}


def damage_folder(folder, damage, settings_file):
    """Damages a copy of a `train` output folder the way `damage` (a key of `DAMAGES`) names."""
    model = os.path.join(folder, "model.keras")
    if damage == "garbage model":
        with open(model, "wb") as f:
            f.write(b"not a zip file at all")
    elif damage == "truncated model":
        with open(model, "rb") as f:
            head = f.read()[: os.path.getsize(model) // 2]
        with open(model, "wb") as f:
            f.write(head)
    elif damage == "damaged settings":
        with open(os.path.join(folder, settings_file), "w") as f:
            f.write('{"sampler": ')
    else:
        path = os.path.join(folder, MARKER_FILE)
        with open(path) as f:
            marker = json.load(f)
        marker.update({"command": "other train"} if damage == "other task" else {"version": "99.0.0"})
        with open(path, "w") as f:
            json.dump(marker, f)
