"""What a `train` may do to `--out`: foreign folders refused, the data and `.` protected, a lock, no diverged model."""

import argparse
import json
import os
import socket
import subprocess
import sys

import pytest

from lstm_keras import cli
from lstm_keras.commands.arguments import STAGING
from lstm_keras.commands.arguments import run_staged_training
from lstm_keras.commands.output import LOCK_FILE
from lstm_keras.saving import MARKER_FILE
from lstm_keras.training import print_metrics


def fake_train(files, metrics=None, fail=None):
    """A `train(args, out)` that writes `files` ({name: text}), then raises `fail` or returns `metrics`."""

    def train(args, out):
        for name, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(out, name)), exist_ok=True)
            with open(os.path.join(out, name), "w") as f:
                f.write(text)
        if fail is not None:
            raise fail
        return metrics or {"accuracy": 0.5}

    return train


def run(out, files=None, metrics=None, fail=None, **arguments):
    args = argparse.Namespace(out=str(out), epochs=1, **arguments)
    return run_staged_training(fake_train(files or {"model.txt": "new"}, metrics, fail), args, "test")


def strict_json(line):
    def reject(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(line, parse_constant=reject)


def test_a_folder_of_someone_elses_files_is_refused_and_left_as_it_was(tmp_path):
    out = tmp_path / "u"
    out.mkdir()
    (out / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"holds files that lstm-keras did not write \(notes.txt\).*--overwrite"):
        run(out)
    assert sorted(os.listdir(out)) == ["notes.txt"] and (out / "notes.txt").read_text() == "x"


def test_overwrite_replaces_only_the_projects_own_files(tmp_path, capsys):
    out = tmp_path / "u"
    out.mkdir()
    (out / "notes.txt").write_text("x")
    run(out, {"model.txt": "first", "attention_3.png": "plot"}, overwrite=True)
    assert sorted(os.listdir(out)) == [MARKER_FILE, "attention_3.png", "model.txt", "notes.txt"]
    # A second run: its own files replace the first run's, which it did not write again are removed.
    run(out, {"model.txt": "second"}, overwrite=True)
    assert sorted(os.listdir(out)) == [MARKER_FILE, "model.txt", "notes.txt"]
    assert (out / "model.txt").read_text() == "second" and (out / "notes.txt").read_text() == "x"
    marker = json.loads((out / MARKER_FILE).read_text())
    assert marker["files"] == ["model.txt"] and marker["command"] == "test train"
    capsys.readouterr()


def test_an_earlier_output_is_replaced_without_overwrite(tmp_path):
    out = tmp_path / "run"
    run(out, {"model.txt": "first"})
    run(out, {"model.txt": "second"})
    assert (out / "model.txt").read_text() == "second" and sorted(os.listdir(out)) == [MARKER_FILE, "model.txt"]


@pytest.mark.parametrize("where", ["data folder", "data inside", "current folder"])
def test_out_may_not_be_the_data_or_the_current_folder(tmp_path, monkeypatch, where):
    data = tmp_path / "folderds"
    (data / "pos").mkdir(parents=True)
    (data / "pos" / "a.txt").write_text("good")
    if where == "data folder":
        out, dataset = data, str(data)
    elif where == "data inside":
        out, dataset = tmp_path, str(data)
    else:
        monkeypatch.chdir(tmp_path / "folderds")
        out, dataset = ".", "elsewhere.tsv"
    with pytest.raises(ValueError, match="data|current folder"):
        run(out, dataset=dataset)
    assert (data / "pos" / "a.txt").read_text() == "good"


def test_a_running_process_holds_the_lock(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": "now"}
    (out / LOCK_FILE).write_text(json.dumps(holder))
    with pytest.raises(ValueError, match=f"another run \\(process {os.getpid()}"):
        run(out)
    assert sorted(os.listdir(out)) == [LOCK_FILE]  # nothing staged, the lock untouched


def test_the_lock_of_a_dead_process_is_taken_over(tmp_path, capsys):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_FILE).write_text(json.dumps({"pid": dead_pid, "host": socket.gethostname(), "started": "before"}))
    assert run(out) == 0
    assert "took over the lock" in capsys.readouterr().err
    assert sorted(os.listdir(out)) == [MARKER_FILE, "model.txt"]  # the lock is gone with the run


def test_a_diverged_run_keeps_the_good_model(tmp_path, capsys):
    out = tmp_path / "run"
    run(out, {"model.txt": "good"})
    with pytest.raises(ValueError, match=r"diverged \(test_perplexity not finite\)"):
        run(out, {"model.txt": "diverged"}, metrics={"test_perplexity": float("inf"), "valid_perplexity": 3.0})
    assert (out / "model.txt").read_text() == "good" and not (out / STAGING).exists()
    capsys.readouterr()


def test_metrics_lines_are_strict_json(capsys):
    line = print_metrics({"perplexity": float("inf"), "loss": float("nan"), "per_epoch": [2.0, float("-inf")], "n": 3})
    assert strict_json(line) == {"perplexity": None, "loss": None, "per_epoch": [2.0, None], "n": 3}
    assert strict_json(capsys.readouterr().out) == strict_json(line)


def test_a_changed_data_file_starts_over(tmp_path, capsys):
    data = tmp_path / "data.tsv"
    data.write_text("a\tb\n")
    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        run(out, {"backup.txt": "epoch 1"}, fail=RuntimeError("killed"), dataset=str(data))
    data.write_text("a\tb\nc\td\n")
    run(out, dataset=str(data))
    assert "holds a run with other data: starting over" in capsys.readouterr().err


def test_ctrl_c_is_one_line_with_the_epoch_to_resume_from(tmp_path, monkeypatch, capsys):
    from lstm_keras.commands import translate

    metadata = os.path.join("backup", "training_metadata.json")
    monkeypatch.setattr(translate, "train_translator", fake_train({metadata: json.dumps({"epoch": 2})},
                                                                  fail=KeyboardInterrupt()))
    data = tmp_path / "pairs.tsv"
    data.write_text("hola\thello\n" * 10)
    code = cli.main(["translate", "train", "--dataset", str(data), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("lstm-keras: interrupted; run the same command again to resume "
                                                   "from epoch 3")
