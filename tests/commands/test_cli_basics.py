"""The `lstm-keras` entry point as a user meets it: `--version`, defaults in `--help`, quiet start-up."""

import os
import re
import subprocess
import sys

import pytest

from cli_runner import run_cli
from lstm_keras import __version__


def test_version():
    code, stdout, _ = run_cli(["--version"])
    assert code == 0 and stdout.strip() == f"lstm-keras {__version__}"


@pytest.mark.parametrize("command, shown", [
    (["translate", "train"], ["--epochs EPOCHS", "(default: 20)", "--attention", "(default: bahdanau)"]),
    (["lm", "train"], ["(default: 10)", "--learning-rate", "SGD at 20 for lstm and slstm, Adam at 0.002",
                       "--cell CELL", "(default: lstm)"]),
    (["lm", "generate"], ["--temperature", "(default: 1.0)", "--tokens", "(default: 50)"]),
    (["classify", "train"], ["--batch-size", "(default: 32)", "--header, --no-header"]),
])
def test_help_shows_the_defaults(command, shown):
    code, stdout, _ = run_cli([*command, "--help"])
    assert code == 0
    flat = " ".join(stdout.split())
    for text in shown:
        assert text in flat, text
    assert "(default: None)" not in flat and flat.count("(default: the model's) (default") == 0


def test_tensorflow_logs_are_silenced_unless_verbose(tmp_path):
    """Importing TensorFlow prints native lines (CUDA drivers, CPU instructions) even with TF_CPP_MIN_LOG_LEVEL=2:
    a command shows none of them unless `--verbose`."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    native = re.compile(r"^[IWE]\d{4} |absl::InitializeLog", re.MULTILINE)
    error = f"lstm-keras: error: model folder not found: {tmp_path / 'missing'}"
    for verbose in ([], ["--verbose"]):
        done = subprocess.run([sys.executable, "-m", "lstm_keras", *verbose, "classify", "predict", "--model",
                               str(tmp_path / "missing"), "text"], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 2 and done.stderr.strip().splitlines()[-1] == error
        assert bool(native.findall(done.stderr)) == bool(verbose), done.stderr[:2000]
