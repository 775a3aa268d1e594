"""Staged, resumable `train` runs: `run_staged_training`, and a real training process killed mid-epoch."""

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from lstm_keras.commands.arguments import STAGING
from lstm_keras.commands.arguments import run_staged_training
from lstm_keras.saving import MARKER_FILE


def fake_train(files, fail=False):
    """A `train(args, out)` that writes `files` ({name: text}) and optionally fails after them."""

    def train(args, out):
        for name, text in files.items():
            with open(os.path.join(out, name), "w") as f:
                f.write(text)
        if fail:
            raise RuntimeError("simulated crash")
        return {"seen": sorted(os.listdir(out))}

    return train


def earlier_run(out):
    """`out` holding an earlier run's output (`old.txt`), as `run_staged_training` leaves it."""
    run_staged_training(fake_train({"old.txt": "earlier run"}), argparse.Namespace(out=str(out), epochs=1), "test")


def test_success_replaces_out_and_leaves_nothing_staged(tmp_path, capsys):
    out = tmp_path / "run"
    earlier_run(out)
    capsys.readouterr()
    args = argparse.Namespace(out=str(out), epochs=3)
    assert run_staged_training(fake_train({"model.txt": "new"}), args, "test") == 0
    assert sorted(os.listdir(out)) == [MARKER_FILE, "model.txt"]  # the earlier run's files are replaced
    assert os.listdir(tmp_path) == ["run"]  # no temporaries beside it
    assert json.loads(capsys.readouterr().out) == {"seen": ["arguments.json", "model.txt"]}


def test_failure_keeps_out_and_the_same_command_resumes_the_staging(tmp_path, capsys):
    out = tmp_path / "run"
    earlier_run(out)
    args = argparse.Namespace(out=str(out), epochs=3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_staged_training(fake_train({"backup.txt": "epoch 1"}, fail=True), args, "test")
    assert (out / "old.txt").read_text() == "earlier run"
    assert (out / STAGING / "backup.txt").read_text() == "epoch 1"

    # Same arguments: the staging folder (and its backup) is kept for the run to resume from.
    seen = []

    def resume(args, staging):
        seen.append(sorted(os.listdir(staging)))
        return fake_train({"model.txt": "new"})(args, staging)

    run_staged_training(resume, args, "test")
    assert seen == [["arguments.json", "backup.txt"]]
    assert "resuming the interrupted run" in capsys.readouterr().err
    assert sorted(os.listdir(out)) == [MARKER_FILE, "backup.txt", "model.txt"]


def test_other_arguments_start_over(tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        run_staged_training(fake_train({"backup.txt": "3 epochs"}, fail=True), argparse.Namespace(out=str(out), epochs=3), "t")
    run_staged_training(fake_train({}), argparse.Namespace(out=str(out), epochs=5), "t")
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"seen": ["arguments.json"]}


# ------------------------------------------------------------------ a real run, killed mid-epoch
EPOCHS = 4


def write_reviews(path, n=2400, seed=0):
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            positive = i % 2 == 1
            word = rng.choice(["good", "fine"] if positive else ["bad", "dull"])
            f.write(f"{'positive' if positive else 'negative'}\tthe {rng.choice(['film', 'plot', 'cast'])} was {word}\n")
    return str(path)


def train_command(data, out):
    return [sys.executable, "-m", "lstm_keras", "classify", "train", "--dataset", data, "--epochs", str(EPOCHS),
            "--patience", str(EPOCHS), "--units", "8", "--embedding-dim", "8", "--vocab-size", "40",
            "--batch-size", "8", "--seed", "1", "--out", str(out)]


def run_to_end(command, timeout=240):
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def epochs_logged(out):
    with open(os.path.join(out, "history.csv")) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def test_a_training_process_killed_mid_epoch_resumes_and_finishes_the_same_epochs(tmp_path):
    import keras

    from lstm_keras.saving import load_keras_model

    data = write_reviews(tmp_path / "reviews.tsv")
    out = tmp_path / "killed"
    process = subprocess.Popen(train_command(data, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    backup = out / STAGING / "backup" / "training_metadata.json"
    deadline = time.monotonic() + 180
    while not backup.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before its first backup: " + process.stderr.read()[-2000:]
    assert backup.exists(), "no backup after 180 s"
    time.sleep(0.5)  # into the next epoch (about 2 s long): the kill comes mid-epoch
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    killed_after = json.loads(backup.read_text())["epoch"]
    assert 1 <= killed_after < EPOCHS
    assert not (out / "metrics.json").exists()  # nothing final was written

    metrics, stderr = run_to_end(train_command(data, out))
    assert "resuming the interrupted run" in stderr
    assert f"Epoch {killed_after + 1}/{EPOCHS}" in stderr and "Epoch 1/" not in stderr  # no epoch redone
    assert metrics["epochs_trained"] == EPOCHS
    assert epochs_logged(out) == list(range(EPOCHS))  # every epoch exactly once across both processes
    assert not (out / STAGING).exists() and not (out / "backup").exists()
    model = load_keras_model(out / "model.keras")
    probabilities = keras.ops.convert_to_numpy(model.predict_proba(["the film was good", "the plot was dull"]))
    assert probabilities.shape == (2, 2) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
