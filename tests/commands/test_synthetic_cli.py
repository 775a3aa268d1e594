"""`lstm-keras synthetic train` end to end: a real run under a time budget in a fresh process, and bad input."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from cli_runner import run_cli


def test_a_budgeted_run_ends_in_time_and_reports_every_length_bucket(tmp_path):
    budget_minutes = 0.5
    out = tmp_path / "run"
    command = ["synthetic", "train", "--task", "parity", "--cell", "mingru", "--units", "16", "--train-lengths",
               "3-20", "--test-lengths", "21-30,31-50", "--steps-per-epoch", "5000", "--test-examples", "64",
               "--time-budget", str(budget_minutes), "--out", str(out)]
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "lstm_keras", *command], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    metrics = json.loads(lines[0])
    assert seconds <= 1.05 * budget_minutes * 60, (seconds, done.stderr[-2000:])
    assert metrics["stopped_by_time_budget"] and metrics["task"] == "parity" and metrics["cell"] == "mingru"
    assert list(metrics["by_length"]) == ["3-20", "21-30", "31-50"]
    for result in metrics["by_length"].values():
        assert 0 <= result["accuracy"] <= 1 and result["scored"] == 64
        assert result["scaled"] == pytest.approx(2 * result["accuracy"] - 1)
    unseen = [metrics["by_length"][name]["scaled"] for name in ("21-30", "31-50")]
    assert metrics["score"] == pytest.approx(np.mean(unseen))
    for name in ("model.keras", "metrics.json", "training_curves.png", "scores_by_length.png", "history.csv"):
        assert (out / name).exists(), name


@pytest.mark.parametrize("options, message", [
    (["--task", "nope"], "invalid choice"),
    (["--task", "parity", "--train-lengths", "40-3"], "1 <= A <= B"),
    (["--task", "parity", "--test-lengths", "41-64,x"], "expected lengths"),
    (["--task", "parity", "--cell", "mingru", "--gating", "cifg"], "gating"),
    (["--task", "mqar", "--train-lengths", "10-20"], "length must be an integer >= 33"),
    (["--task", "mqar", "--mqar-pairs", "9", "--mqar-keys", "8"], "num_pairs must be in [1, num_keys=8]"),
])
def test_bad_options_are_one_line_errors(tmp_path, options, message):
    code, stdout, stderr = run_cli(["synthetic", "train", *options, "--epochs", "1", "--steps-per-epoch", "1",
                                    "--units", "4", "--out", str(tmp_path / "out")])
    assert code == 2 and stdout == "" and message in stderr, stderr
    assert "Traceback" not in stderr


def test_help_lists_every_task():
    code, stdout, _ = run_cli(["synthetic", "train", "--help"])
    assert code == 0
    for name in ("parity", "even-pairs", "modular-arithmetic", "mqar", "selective-copying", "adding",
                 "temporal-order"):
        assert f"  {name} " in stdout


def test_mqar_at_other_sizes(tmp_path):
    code, stdout, stderr = run_cli(["synthetic", "train", "--task", "mqar", "--mqar-pairs", "3", "--mqar-keys", "6",
                                    "--mqar-values", "5", "--train-lengths", "12", "--cell", "mingru", "--units", "4",
                                    "--epochs", "1", "--steps-per-epoch", "2", "--test-examples", "8",
                                    "--out", str(tmp_path / "out")])
    assert code == 0, stderr[-2000:]
    metrics = json.loads(stdout)
    assert list(metrics["by_length"]) == ["12"] and metrics["by_length"]["12"]["scored"] == 8 * 3
    assert metrics["by_length"]["12"]["scaled"] == pytest.approx((metrics["by_length"]["12"]["accuracy"] - 0.2) / 0.8)
