"""tf.distribute: mirrored over two logical CPU devices, and two workers on localhost."""

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


def result(process, timeout=180):
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"training process timed out; stderr tail: {err[-2000:]}")
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_mirrored_over_two_cpu_devices_matches_one_device(tmp_path):
    single = result(run_tiny("default", tmp_path / "single"))
    mirrored = result(run_tiny("mirrored", tmp_path / "mirrored", env={"LSTM_KERAS_CPU_DEVICES": "2"}))
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
    results = [result(p) for p in processes]
    single = result(run_tiny("default", tmp_path / "single"))
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
