"""`benchmarks/gpu_translation.py`: prepare with TensorFlow, train and time on JAX without TensorFlow, finish.

The device machines have JAX and no TensorFlow, so the `train` and `decode` steps run here in
processes where importing TensorFlow fails. The check that ties the backends together: the
validation loss that JAX reported for the best epoch is the loss TensorFlow computes with the
weights that came back, on the same arrays.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks", "gpu_translation.py")
# Runs a script with TensorFlow (and TensorFlow Text) impossible to import, as on a device machine.
WITHOUT_TENSORFLOW = """
import importlib.util, runpy, sys
BLOCKED = ("tensorflow", "tensorflow_text")
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed on a device machine")
find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: None if name.split(".")[0] in BLOCKED else find_spec(name, package)
sys.meta_path.insert(0, Block())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run(args, backend, block_tensorflow=False):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-c", WITHOUT_TENSORFLOW, SCRIPT] if block_tensorflow else [sys.executable, SCRIPT]
    result = subprocess.run(command + args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dates")
    with open(os.path.join(ROOT, "data", "dates.tsv"), encoding="utf-8") as f:
        lines = f.readlines()
    for name, part in (("train", lines[:300]), ("valid", lines[300:340]), ("test", lines[340:370])):
        with open(folder / f"{name}.tsv", "w", encoding="utf-8") as f:
            f.writelines(part)
    return folder


@pytest.mark.large  # four fresh processes: run it with --large before a run on a device machine
def test_prepare_train_on_jax_without_tensorflow_decode_and_finish(corpus, tmp_path):
    pytest.importorskip("jax")
    folder, device_run, out = tmp_path / "folder", tmp_path / "device_run", tmp_path / "out"
    shapes = run(["prepare", "--folder", str(folder), "--", "--dataset", str(corpus / "train.tsv"), "--valid",
                  str(corpus / "valid.tsv"), "--test", str(corpus / "test.tsv"), "--units", "8",
                  "--embedding-dim", "8", "--epochs", "2", "--batch-size", "32"], "tensorflow")[-1]
    assert shapes["train_source"][0] == 300 and shapes["valid_source"][0] == 40 and shapes["test_source"][0] == 30

    trained = run(["train", "--folder", str(folder), "--time-budget", "5", "--out", str(device_run)], "jax",
                  block_tensorflow=True)[-1]
    assert len(trained["val_loss"]) == 2 and all(np.isfinite(trained["val_loss"]))
    assert sorted(os.listdir(device_run)) == ["history.json", "weights_0.npz"]

    timings = run(["decode", "--folder", str(folder), "--run", str(device_run), "--batch-sizes", "1,4",
                   "--repeats", "1"], "jax", block_tensorflow=True)
    assert [row["batch"] for row in timings] == [1, 4]
    for row in timings:
        assert row["greedy"]["seconds"] > 0 and row["beam5"]["seconds"] > 0
        assert row["beam5_over_greedy"] == pytest.approx(row["beam5"]["seconds"] / row["greedy"]["seconds"], abs=0.01)

    metrics = run(["finish", "--folder", str(folder), "--run", str(device_run), "--out", str(out)], "tensorflow")[-1]
    assert metrics["epochs_trained"] == 2 and metrics["sentences"] == 30 and metrics["trained_on"].endswith("(jax)")
    for name in ("model.keras", "saved_model", "metrics.json", "test_translations.tsv", "training_curves.png"):
        assert os.path.exists(out / name), name

    # The finished model (TensorFlow) has the weights JAX trained: same validation loss.
    import keras

    from lstm_keras.models.translation import training as recipe
    from lstm_keras.models.translation.export import load_translation_model

    module = load_translation_model(str(out))
    with open(folder / "device" / "training.json", encoding="utf-8") as f:
        arguments = argparse.Namespace(**json.load(f))
    recipe.compile_for_training(module.translator, arguments, 300)
    arrays = np.load(folder / "device" / "arrays.npz")
    loss = module.translator.evaluate((arrays["valid_source"], arrays["valid_target_in"]), arrays["valid_target_out"],
                                      batch_size=40, verbose=0, return_dict=True)["loss"]
    assert keras.backend.backend() == "tensorflow"
    np.testing.assert_allclose(loss, min(trained["val_loss"]), rtol=1e-4)
    assert len(module(["3 de marzo de 1999", ""])) == 2
