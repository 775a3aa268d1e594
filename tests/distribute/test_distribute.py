"""tf.distribute: mirrored over two logical CPU devices, and two workers on localhost."""

import csv
import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from lstm_keras.distribute import get_strategy

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute needs TensorFlow")
SCRIPT = os.path.join(os.path.dirname(__file__), "train_tiny.py")


def run_tiny(strategy, out_dir, env=None):
    os.makedirs(out_dir, exist_ok=True)
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.Popen(
        [sys.executable, SCRIPT, strategy, str(out_dir)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


def finished(process, timeout=300):
    """Waits for a process started here; returns the JSON of its last output line and its stderr."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"training process timed out; stderr tail: {err[-2000:]}")
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1]), err


def result(process):
    return finished(process)[0]


def test_mirrored_over_two_cpu_devices_matches_one_device(tmp_path):
    # Both at once: each process is deterministic, and starting them together saves a process start.
    processes = [run_tiny("default", tmp_path / "single"),
                 run_tiny("mirrored", tmp_path / "mirrored", env={"LSTM_KERAS_CPU_DEVICES": "2"})]
    single, mirrored = [result(p) for p in processes]
    assert single["replicas"] == 1 and mirrored["replicas"] == 2
    np.testing.assert_allclose(mirrored["loss"], single["loss"], rtol=1e-4)
    assert (tmp_path / "mirrored" / "model.keras").exists()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_on_localhost_train_and_write_one_model(tmp_path):
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(run_tiny("multi-worker", tmp_path / f"worker{index}", env={"TF_CONFIG": json.dumps(config)}))
    processes.append(run_tiny("default", tmp_path / "single"))
    *results, single = [result(p) for p in processes]
    assert [r["replicas"] for r in results] == [2, 2]
    np.testing.assert_allclose(results[0]["loss"], results[1]["loss"], rtol=1e-5)
    # One replica per worker, the global batch split across them: the single-device curve.
    np.testing.assert_allclose(results[0]["loss"], single["loss"], rtol=1e-4)
    assert (tmp_path / "worker0" / "model.keras").exists()
    assert not (tmp_path / "worker1" / "model.keras").exists(), "only the chief writes the model"


def test_bad_strategy_names_and_missing_tf_config(monkeypatch):
    with pytest.raises(ValueError, match="strategy.*'parallel'.*mirrored"):
        get_strategy("parallel")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        get_strategy("multi-worker")


def history_losses(out):
    with open(os.path.join(out, "history.csv")) as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def start_train_cli(group, data, strategy, out, *options):
    """Starts `lstm-keras GROUP train` in a fresh process (two logical CPU devices)."""
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3", "LSTM_KERAS_CPU_DEVICES": "2"}
    return subprocess.Popen(
        [sys.executable, "-m", "lstm_keras", group, "train", "--dataset", data, "--strategy", strategy,
         "--epochs", "2", "--dropout", "0", "--seed", "0", "--out", str(out), *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


@pytest.mark.parametrize(
    "group, options",
    [
        # The commands' --strategy plumbing (`commands/arguments.py`), end to end; the strategy's numerics are
        # test_mirrored_over_two_cpu_devices_matches_one_device's: --large.
        pytest.param("classify", ["--units", "8", "--embedding-dim", "8", "--vocab-size", "40", "--batch-size", "16"],
                     marks=pytest.mark.large),
        # The same strategy plumbing (`commands/arguments.py`) as classify, with a longer run: --large.
        pytest.param("translate", ["--units", "8", "--embedding-dim", "8", "--batch-size", "16", "--beam-size", "1"],
                     marks=pytest.mark.large),
    ],
)
def test_train_commands_mirrored_match_one_device(tmp_path, group, options):
    words = ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis"]
    data = tmp_path / "data.tsv"
    if group == "classify":  # label<TAB>text: texts (strings in the model) split across replicas
        rows = [f"{'positive' if i % 2 else 'negative'}\tthe {words[i % 7]} was {'good' if i % 2 else 'bad'}"
                for i in range(600)]
    else:  # source<TAB>target
        rows = [f"{a} {b}\t{words.index(a)} {words.index(b)}" for a in words for b in words] * 4
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    processes = [start_train_cli(group, str(data), strategy, tmp_path / strategy, *options)
                 for strategy in ("default", "mirrored")]
    (single, _), (mirrored, stderr) = [finished(p) for p in processes]
    assert "--strategy mirrored: 2 replicas in sync" in stderr
    # The same global batch and seed: the same loss curve (the loss is scaled per replica, the
    # gradients summed across them).
    np.testing.assert_allclose(history_losses(tmp_path / "mirrored"), history_losses(tmp_path / "default"), rtol=1e-3)
    assert mirrored["epochs_trained"] == single["epochs_trained"] == 2
    assert (tmp_path / "mirrored" / "model.keras").exists()
