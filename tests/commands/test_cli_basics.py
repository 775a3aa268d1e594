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
    (["lm", "train"], ["(default: 10)", "--learning-rate", "(default: 20.0)"]),
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
    """A tiny `translate train` prints no native log line, even with TF_CPP_MIN_LOG_LEVEL=2; `--verbose` shows them."""
    data = tmp_path / "pairs.tsv"
    words = ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis"]
    data.write_text("".join(f"{a} {b}\t{words.index(a)} {words.index(b)}\n" for a in words for b in words))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "lstm_keras", "translate", "train", "--dataset", str(data), "--epochs", "1",
               "--units", "4", "--embedding-dim", "4", "--beam-size", "1"]
    quiet = subprocess.run(command + ["--out", str(tmp_path / "a")], capture_output=True, text=True, env=env,
                           timeout=600)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    native = re.compile(r"^[IWE]\d{4} |absl::InitializeLog|cuda", re.MULTILINE)
    assert not native.findall(quiet.stderr), quiet.stderr[:2000]
    missing = subprocess.run([sys.executable, "-m", "lstm_keras", "--verbose", "classify", "predict", "--model",
                              str(tmp_path / "missing"), "text"], capture_output=True, text=True, env=env, timeout=300)
    assert missing.returncode == 2 and native.findall(missing.stderr)  # the import's own lines, shown
    assert missing.stderr.strip().splitlines()[-1] == f"lstm-keras: error: model folder not found: {tmp_path / 'missing'}"
