"""Tests of `lstm_keras.fine_tuning`: the slanted triangular schedule against the paper's formula,
`LayerwiseAdam` against a NumPy Adam, gradual unfreezing in `fit` (TensorFlow here, JAX in a
fresh process), and a saved model's optimizer reloaded."""

import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from lstm_keras.fine_tuning import GradualUnfreezing
from lstm_keras.fine_tuning import LayerwiseAdam
from lstm_keras.fine_tuning import SlantedTriangular

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def paper_stlr(t, total, peak, cut_frac, ratio):
    """ULMFiT's eq. 3, written from the paper, step by step in plain Python."""
    cut = math.floor(total * cut_frac)
    if t < cut:
        p = t / cut
    else:
        p = 1 - (t - cut) / (cut * (1 / cut_frac - 1))
    return peak * (1 + p * (ratio - 1)) / ratio


@pytest.mark.parametrize("total, cut_frac, ratio", [(100, 0.1, 32), (37, 0.25, 10), (1000, 0.05, 32)])
def test_slanted_triangular_is_the_papers_formula(total, cut_frac, ratio):
    schedule = SlantedTriangular(0.02, total, cut_fraction=cut_frac, ratio=ratio)
    got = np.array([float(schedule(t)) for t in range(total)])
    expected = np.array([paper_stlr(t, total, 0.02, cut_frac, ratio) for t in range(total)])
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert got.argmax() == math.floor(total * cut_frac)
    # Past the schedule's end the rate stays at its lowest.
    np.testing.assert_allclose(float(schedule(total + 50)), 0.02 / ratio, rtol=1e-5)
    assert SlantedTriangular.from_config(schedule.get_config()).get_config() == schedule.get_config()


def test_slanted_triangular_bad_arguments():
    with pytest.raises(ValueError, match="total_steps"):
        SlantedTriangular(0.01, 0)
    with pytest.raises(ValueError, match="cut_fraction"):
        SlantedTriangular(0.01, 10, cut_fraction=1.0)


def numpy_adam(value, gradients, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras' Adam (bias corrections folded into the rate), steps with the given gradients."""
    m, v = np.zeros_like(value), np.zeros_like(value)
    for step, gradient in enumerate(gradients, start=1):
        m = beta_1 * m + (1 - beta_1) * gradient
        v = beta_2 * v + (1 - beta_2) * gradient**2
        rate = learning_rate * math.sqrt(1 - beta_2**step) / (1 - beta_1**step)
        value = value - rate * m / (np.sqrt(v) + epsilon)
    return value


def two_layer_model():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, name="body")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(hidden))


def test_layerwise_adam_steps_each_group_at_its_rate_and_frozen_groups_not_at_all():
    model = two_layer_model()
    optimizer = LayerwiseAdam([["head"], ["body"]], decay=2.0, learning_rate=0.01)
    variables = model.trainable_variables
    optimizer.build(variables)
    start = [np.array(v.numpy()) for v in variables]
    rng = np.random.default_rng(0)
    gradients = [[rng.normal(size=v.shape).astype("float32") for v in variables] for _ in range(3)]
    optimizer.unfreeze(1)  # the head alone
    optimizer.apply(gradients[0], variables)
    optimizer.unfreeze(2)
    for step in gradients[1:]:
        optimizer.apply(step, variables)
    for index, variable in enumerate(variables):
        steps = [g[index] for g in gradients]
        if variable.path.startswith("head"):
            expected = numpy_adam(start[index], steps, 0.01)
        else:
            # A frozen step moves nothing but the moments: replay it at rate 0, then two at 0.01 / 2.
            m_only = numpy_adam(start[index], steps, 0.005)
            first = numpy_adam(start[index], steps[:1], 0.005)
            expected = m_only - (first - start[index])
        np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5, atol=1e-6, err_msg=variable.path)


def fit_and_record_changes(model, optimizer, epochs):
    """Which layers' weights changed in each epoch of a short fit with gradual unfreezing."""
    model.compile(optimizer=optimizer, loss="mse")
    changes = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.before = {v.path: np.array(v.numpy()) for v in model.trainable_variables}

        def on_epoch_end(self, epoch, logs=None):
            changes.append(sorted({
                v.path.split("/")[0] for v in model.trainable_variables
                if not np.array_equal(v.numpy(), self.before[v.path])
            }))

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 3)).astype("float32"), rng.normal(size=(32, 2)).astype("float32")
    model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, callbacks=[GradualUnfreezing(optimizer), Record()])
    return changes


def test_gradual_unfreezing_adds_one_group_per_epoch():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, name="bottom")(inputs)
    hidden = keras.layers.Dense(4, name="middle")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(hidden))
    optimizer = LayerwiseAdam([["head"], ["middle"], ["bottom"]], learning_rate=SlantedTriangular(0.01, 16))
    changes = fit_and_record_changes(model, optimizer, epochs=4)
    assert changes == [["head"], ["head", "middle"], ["bottom", "head", "middle"], ["bottom", "head", "middle"]]
    assert [round(float(f), 3) for f in optimizer.group_factors()] == [1.0, round(1 / 2.6, 3), round(1 / 2.6**2, 3)]


_JAX_SCRIPT = """
import json, keras, numpy as np
from tests.test_fine_tuning import fit_and_record_changes, two_layer_model
from lstm_keras.fine_tuning import LayerwiseAdam
model = two_layer_model()
print(json.dumps(fit_and_record_changes(model, LayerwiseAdam([["head"], ["body"]], learning_rate=0.01), 2)))
"""


def test_gradual_unfreezing_on_jax_reads_the_factor_as_state():
    """A jitted step must see the group count change between epochs, not the value it was traced with."""
    pytest.importorskip("jax")
    result = subprocess.run(
        [sys.executable, "-c", _JAX_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [["head"], ["body", "head"]]


def test_saved_model_reloads_its_layerwise_optimizer(tmp_path):
    model = two_layer_model()
    optimizer = LayerwiseAdam([["head"], ["body"]], decay=3.0, learning_rate=SlantedTriangular(0.02, 50), clipnorm=1.0)
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=1, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded.optimizer, LayerwiseAdam)
    assert reloaded.optimizer.groups == [["head"], ["body"]] and reloaded.optimizer.decay == 3.0
    assert reloaded.optimizer.learning_rate is not None
    assert reloaded.optimizer.get_config()["learning_rate"] == optimizer.get_config()["learning_rate"]
