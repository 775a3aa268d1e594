"""`check_task`: the one helper every task model test uses (after KerasHub's `run_task_test`).

It checks a task model end to end, as a user trains, saves and serves it: build and run, one
training step with the model's own `compile()`, a config round-trip, a `.keras` save/load
round-trip in the same process, and (optionally) an export reloaded in a fresh Python process.
`tests/layer_checks.py` (`check_layer`) is its layer half.

What differs between tasks is given as arguments: how to predict (`predict`), and what to
export and how a fresh process reloads and runs it (`ExportCheck`).
"""

import dataclasses
import json
import os
import subprocess
import sys
from typing import Callable

import keras
import numpy as np
import pytest

from lstm_keras.saving import load_keras_model

# The line of the fresh process' stdout that carries its outputs (TensorFlow may print too).
_OUTPUTS_MARKER = "TASK_CHECK_OUTPUTS "
# The fresh process runs its imports at once, then waits for what to load on stdin: its imports
# (seconds for TensorFlow) overlap the checks of this process.
_SCRIPT_HEADER = """\
import json, sys
"""
_SCRIPT_REQUEST = """
request = json.loads(sys.stdin.readline())
path, inputs = request["path"], request["inputs"]
"""
_SCRIPT_FOOTER = f"""
print({_OUTPUTS_MARKER!r} + json.dumps(outputs))
"""


@dataclasses.dataclass
class ExportCheck:
    """An export of a task model and how a fresh Python process reloads and runs it.

    Attributes:
        write: `(model, directory) -> path`: writes the export into `directory` (an empty folder)
            and returns the path the fresh process loads (a SavedModel folder, a model folder,
            a `.keras` file).
        script: Python code run by `sys.executable -c` with the current `KERAS_BACKEND`. It
            finds `path` (what `write` returned) and `inputs` (the JSON-decoded `inputs` below)
            defined, and must assign `outputs`, a JSON-serialisable value, which is printed.
        imports: Python code the fresh process runs first, while this process builds, fits and
            exports the model (its slow imports: `import tensorflow as tf`); names it defines
            are visible to `script`.
        inputs: a JSON-serialisable value handed to the script.
        expected: `model -> outputs` in this process, for the same inputs; compared with the
            script's `outputs` (floats within `atol`, everything else exactly).
        backends: the Keras backends the export works on (e.g. `("tensorflow",)` for a
            SavedModel), or None for any; on others this part is skipped.
        timeout: the fresh process' time limit in seconds.
    """

    write: Callable
    script: str
    inputs: object
    expected: Callable
    imports: str = ""
    backends: tuple = None
    timeout: float = 300


def check_task(make_model, train_data, tmp_dir, predict=None, compile_kwargs=None, export=None, atol=1e-5,
               static_weights=()):
    """Checks one task model in every way a user will use it.

    1. `make_model()` builds the model; `predict(model)` runs it (outputs must be finite);
    2. `model.compile(**compile_kwargs)` (the model's own defaults) and `fit` one step on
       `train_data`: the loss is finite and every trainable weight moves;
    3. `from_config(get_config())` gives a model of the same class with the same config;
    4. the fitted model saved as `.keras` and reloaded (`lstm_keras.saving.load_keras_model`,
       with its compiled state) gives the same predictions, config and optimizer;
    5. with `export`: the fitted model exported, reloaded and run in a fresh Python process
       gives the outputs `export.expected(model)` gives in this process.

    Args:
        make_model: a zero-argument callable returning a fresh model (tiny, dropout 0).
        train_data: `(x, y)`, NumPy arrays (or tuples of them), one batch.
        tmp_dir: a folder for the `.keras` file and the export (pytest's `tmp_path`).
        predict: `model -> outputs` (arrays, lists, dicts of them); default `model(x)`.
        compile_kwargs: arguments of `model.compile()` besides its defaults (e.g.
            `run_eagerly=True` to skip tracing a training function for one step).
        export: an `ExportCheck`, or None.
        atol: tolerance of the comparisons of floats.
        static_weights: paths of trainable weights that one step need not move.

    Returns:
        The fitted model, for further assertions.
    """
    x, y = train_data
    predict = predict or (lambda model: keras.ops.convert_to_numpy(model(x, training=False)))
    if export is not None and export.backends is not None and keras.backend.backend() not in export.backends:
        skip_export, export = f"the export needs the {' or '.join(export.backends)} backend", None
    else:
        skip_export = None
    fresh = FreshProcess(export.imports, export.script) if export is not None else None
    try:
        model = _check_model(make_model, train_data, tmp_dir, predict, compile_kwargs, atol, static_weights)
        if fresh is not None:
            # (5) Export, reloaded in a fresh process (started above: its imports are done by now).
            directory = os.path.join(str(tmp_dir), "export")
            os.makedirs(directory)
            path = export.write(model, directory)
            expected = export.expected(model)
            served = fresh.run(path, export.inputs, export.timeout)
            assert_same_outputs(served, expected, atol, "fresh-process export")
    finally:
        if fresh is not None:
            fresh.close()
    if skip_export:
        pytest.skip(f"checks 1-4 passed; {skip_export}, not {keras.backend.backend()}")
    return model


def _check_model(make_model, train_data, tmp_dir, predict, compile_kwargs, atol, static_weights):
    """Checks 1 to 4 of `check_task`; returns the fitted model."""
    x, y = train_data
    model = make_model()

    # (1) Build and run.
    _assert_finite(predict(model))

    # (2) One training step, compiled as the model's own `compile()` does.
    model.compile(**(compile_kwargs or {}))
    before = [np.array(w) for w in model.trainable_weights]
    assert before, f"{type(model).__name__} has no trainable weights"
    batch_size = len(keras.tree.flatten(x)[0])
    history = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    loss = history.history["loss"][-1]
    assert np.isfinite(loss), f"the loss of one training step is not finite: {loss}"
    still = [w.path for b, w in zip(before, model.trainable_weights)
             if np.array_equal(b, np.array(w)) and w.path not in static_weights]
    assert not still, f"weights not updated by a training step: {still}"

    # (3) Config round-trip.
    config = model.get_config()
    clone = type(model).from_config(config)
    assert type(clone) is type(model) and clone.get_config() == config

    # (4) `.keras` round-trip in this process: the same predictions and compiled state.
    expected = predict(model)
    _assert_finite(expected)
    path = os.path.join(str(tmp_dir), "model.keras")
    model.save(path)
    reloaded = load_keras_model(path, compile=True)
    assert type(reloaded) is type(model) and reloaded.get_config() == config
    assert type(reloaded.optimizer) is type(model.optimizer)
    assert int(reloaded.optimizer.iterations) == int(model.optimizer.iterations) == 1
    assert_same_outputs(predict(reloaded), expected, atol, "reloaded .keras")
    return model


class FreshProcess:
    """A fresh Python process (`sys.executable -c`, the current `KERAS_BACKEND`) that runs an `ExportCheck`'s code.

    It starts at once and runs `imports`; `run(path, inputs)` then hands it what to load and
    returns its `outputs`.
    """

    def __init__(self, imports, script):
        code = _SCRIPT_HEADER + imports + _SCRIPT_REQUEST + script + _SCRIPT_FOOTER
        env = {**os.environ, "KERAS_BACKEND": keras.backend.backend(), "TF_CPP_MIN_LOG_LEVEL": "3"}
        self.process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=env)

    def run(self, path, inputs, timeout=300):
        request = json.dumps({"path": os.fspath(path), "inputs": inputs}) + "\n"
        stdout, stderr = self.process.communicate(request, timeout=timeout)
        assert self.process.returncode == 0, f"the fresh process failed:\n{stderr[-3000:]}"
        lines = [line for line in stdout.splitlines() if line.startswith(_OUTPUTS_MARKER)]
        assert lines, f"the fresh process printed no outputs:\n{stdout[-2000:]}\n{stderr[-2000:]}"
        return json.loads(lines[-1][len(_OUTPUTS_MARKER):])

    def close(self):
        if self.process.poll() is None:  # a check failed before `run`
            self.process.kill()
            self.process.communicate()


def assert_same_outputs(actual, expected, atol=1e-5, where="outputs"):
    """Compares nested outputs (dicts, lists, tuples, arrays): floats within `atol`, the rest exactly."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and sorted(actual) == sorted(expected), (
            f"{where}: keys {sorted(actual) if isinstance(actual, dict) else type(actual)} != {sorted(expected)}"
        )
        for key in expected:
            assert_same_outputs(actual[key], expected[key], atol, f"{where}[{key!r}]")
        return
    try:
        expected_array, actual_array = np.asarray(expected), np.asarray(actual)
    except ValueError:  # ragged nested lists
        expected_array = actual_array = None
    if expected_array is None or expected_array.dtype == object or actual_array.dtype == object:
        assert isinstance(actual, (list, tuple)) and len(actual) == len(expected), f"{where}: {actual!r} != {expected!r}"
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert_same_outputs(a, e, atol, f"{where}[{index}]")
        return
    assert actual_array.shape == expected_array.shape, f"{where}: shape {actual_array.shape} != {expected_array.shape}"
    if expected_array.dtype.kind in "fc" or actual_array.dtype.kind in "fc":
        np.testing.assert_allclose(actual_array, expected_array, atol=atol, rtol=1e-5, err_msg=where)
    else:
        np.testing.assert_array_equal(actual_array, expected_array, err_msg=where)


def _assert_finite(outputs):
    for leaf in keras.tree.flatten(outputs):
        array = np.asarray(leaf)
        if array.dtype.kind in "fc":
            assert np.all(np.isfinite(array)), "outputs are not finite"
