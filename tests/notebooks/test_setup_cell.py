"""The setup cell of every notebook (`notebooks/tools/setup_cell.py`): present, unchanged, and right about installs."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from notebook_checks import ALL
from notebook_checks import ROOT
from notebook_checks import name_of

sys.path.insert(0, os.path.join(ROOT, "notebooks", "tools"))

from setup_cell import SETUP_MARKDOWN  # noqa: E402
from setup_cell import SETUP_SOURCE  # noqa: E402
from setup_cell import setup_index  # noqa: E402


@pytest.mark.parametrize("path", ALL, ids=name_of)
def test_every_notebook_runs_the_setup_cell_first(path):
    nb = nbformat.read(path, as_version=4)
    index = setup_index(nb)
    assert index is not None, f"{name_of(path)} has no setup cell: run python notebooks/tools/setup_cell.py"
    assert nb.cells[index].source == SETUP_SOURCE and nb.cells[index - 1].source == SETUP_MARKDOWN, (
        f"{name_of(path)}'s setup cell differs from notebooks/tools/setup_cell.py: run that script")
    first_code = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
    assert first_code == index


def run_setup(monkeypatch, tmp_path, installed, files=(), package=None):
    """Runs the setup cell's code in `tmp_path` as if lstm_keras were (not) `installed`; returns the pip calls."""
    calls = []
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: real_find_spec(name, *a) if installed or name != "lstm_keras" else None)
    monkeypatch.setattr(subprocess, "check_call", lambda command: calls.append(command))
    monkeypatch.chdir(tmp_path)
    if package is None:
        monkeypatch.delenv("LSTM_KERAS_PACKAGE", raising=False)
    else:
        monkeypatch.setenv("LSTM_KERAS_PACKAGE", package)
    for name in files:
        (tmp_path / name).write_bytes(b"")
    exec(compile(SETUP_SOURCE, "setup-cell", "exec"), {})
    return [command[command.index("install") + 1:] for command in calls]


def test_the_setup_cell_installs_the_uploaded_wheel_or_the_named_requirement(monkeypatch, tmp_path):
    wheels = ["lstm_keras-0.1.0-py3-none-any.whl", "lstm_keras-0.2.0-py3-none-any.whl"]
    assert run_setup(monkeypatch, tmp_path, installed=True, files=wheels) == []
    assert run_setup(monkeypatch, tmp_path, installed=False, files=wheels) == [["-q", f"{wheels[1]}[tf]"]]
    url = "lstm_keras[tf] @ git+https://example.org/lstm_keras.git"
    assert run_setup(monkeypatch, tmp_path, installed=False, package=url) == [["-q", url]]


def test_the_setup_cell_says_what_to_upload_when_it_finds_nothing(monkeypatch, tmp_path):
    with pytest.raises(RuntimeError, match=r"make wheel.*LSTM_KERAS_PACKAGE"):
        run_setup(monkeypatch, tmp_path, installed=False)


def test_the_wheel_holds_what_the_notebooks_need_outside_the_checkout(tmp_path):
    """`make wheel`'s command, installed apart from the checkout: the notebooks' imports and generated data sets."""
    source = tmp_path / "source"
    shutil.copytree(os.path.join(ROOT, "lstm_keras"), source / "lstm_keras",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), source)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("lstm_keras-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(tmp_path / "site"),
                    str(wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / "runtime"
    elsewhere.mkdir()
    script = SETUP_SOURCE + """
import json
import lstm_keras
from lstm_keras.datasets.language_modeling import load_language_modeling_data
from lstm_keras.datasets.translation import load_translation_data
train, valid, test = load_translation_data("dates")
lm_train = load_language_modeling_data("tiny").train
print(json.dumps({"file": lstm_keras.__file__, "pairs": len(train), "example": train[0], "lm": len(lm_train)}))
"""
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "KERAS_BACKEND": "numpy"}
    env.pop("LSTM_KERAS_PACKAGE", None)
    result = subprocess.run([sys.executable, "-c", script], cwd=elsewhere, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["file"].startswith(str(tmp_path / "site"))
    assert served["pairs"] > 1000 and len(served["example"]) == 2 and served["lm"] > 0
