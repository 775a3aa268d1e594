"""Gradients of GatedLSTM against finite differences, and a long-range learning test."""

import keras
import numpy as np
import pytest
from keras import ops

from lstm_keras.layers import GatedLSTM

GRADIENT_CONFIGS = {
    "vanilla": {"variant": "vanilla"},
    "peephole": {"variant": "peephole"},
    "cifg": {"variant": "cifg"},
    "fgr": {"variant": "fgr"},
    "phased": {"variant": "phased"},
    "layer_norm_nog": {"variant": "nog", "layer_norm": True},
}


def loss_and_gradient(layer, x, mask, probe):
    """`loss(values)` and `gradient(values)` of sum(outputs * probe) over the trainable weights.

    The gradient comes from the backend's autodiff; the loss is what finite differences probe.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        def loss(values):
            for weight, value in zip(layer.trainable_weights, values):
                weight.assign(value)
            return float(np.sum(np.asarray(layer(x, mask=mask)) * probe))

        def gradient(values):
            loss(values)
            with tf.GradientTape() as tape:
                total = ops.sum(layer(x, mask=mask) * probe)
            return [np.asarray(g) for g in tape.gradient(total, layer.trainable_weights)]

        return loss, gradient
    if keras.backend.backend() == "jax":
        import jax

        non_trainable = [v.value for v in layer.non_trainable_variables]

        def total(values):
            outputs, _ = layer.stateless_call(values, non_trainable, x, mask=mask)
            return ops.sum(outputs * probe)

        jitted, jitted_grad = jax.jit(total), jax.jit(jax.grad(total))
        return (lambda values: float(jitted(values))), (lambda values: [np.asarray(g) for g in jitted_grad(values)])
    pytest.skip(f"no autodiff helper for backend {keras.backend.backend()}")


def shifts_away_from_kinks(period, ratio, steps, rng, margin=0.03):
    """Seeded time shifts whose phases at times 0..steps-1 stay `margin` from the time gate's kinks.

    The Phased LSTM gate is piecewise linear in the phase, with kinks at 0, ratio / 2 and ratio;
    a finite difference across a kink does not approximate the one-sided derivative autodiff gives.
    """
    shifts = np.empty_like(period)
    times = np.arange(steps)
    for unit, (tau, r) in enumerate(zip(period, ratio)):
        kinks = np.array([0.0, 0.5 * r, r, 1.0])
        candidates = rng.uniform(0.0, tau, size=1000)
        phases = np.mod(times[None, :] - candidates[:, None], tau) / tau  # (1000, steps)
        distance = np.min(np.abs(phases[..., None] - kinks), axis=(1, 2))  # (1000,)
        assert distance.max() > margin, f"no shift keeps unit {unit}'s phases {margin} from a kink"
        shifts[unit] = candidates[np.argmax(distance > margin)]
    return shifts


@pytest.mark.parametrize("name", list(GRADIENT_CONFIGS))
def test_gradients_match_finite_differences(name):
    # Seeded initial weights too: on JAX the check runs in float32, where about one random start
    # in 400 puts a layer-norm block near zero variance and the finite difference 1% off.
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 3))
    mask = np.array([[True] * 5, [True] * 3 + [False] * 2])
    layer = GatedLSTM(4, return_sequences=True, dtype="float64", **GRADIENT_CONFIGS[name])
    layer(x)
    for w in layer.weights:
        if w.name == "time_period":
            w.assign(rng.uniform(2.0, 6.0, w.shape))
        elif w.name == "time_ratio":
            w.assign(rng.uniform(0.3, 0.9, w.shape))
        elif w.name != "time_shift":
            w.assign(w + rng.normal(0.0, 0.3, w.shape))
    if GRADIENT_CONFIGS[name].get("variant") == "phased":
        cell = layer.cell
        shifts = shifts_away_from_kinks(np.array(cell.time_period), np.array(cell.time_ratio), x.shape[1], rng)
        cell.time_shift.assign(shifts)
    probe = rng.normal(size=(2, 5, 4))
    loss, gradient = loss_and_gradient(layer, x, mask, probe)
    values = [np.array(w) for w in layer.trainable_weights]
    gradients = gradient(values)

    # Float64 where the backend computes in it (JAX does only with x64 enabled): a step and
    # tolerance that fit the precision actually used.
    if np.asarray(layer(x)).dtype == np.float64:
        eps, atol, rtol = 1e-6, 1e-6, 1e-4
    else:
        eps, atol, rtol = 1e-3, 2e-3, 1e-2
    for k, (weight, grad) in enumerate(zip(layer.trainable_weights, gradients)):
        flat_indices = rng.choice(values[k].size, size=min(6, values[k].size), replace=False)
        for flat in flat_indices:
            index = np.unravel_index(flat, values[k].shape)
            shifted = [v.copy() for v in values]
            shifted[k][index] += eps
            up = loss(shifted)
            shifted[k][index] -= 2 * eps
            down = loss(shifted)
            numeric = (up - down) / (2 * eps)
            assert abs(numeric - grad[index]) <= atol + rtol * abs(numeric), (
                f"{name}: d/d{weight.name}{index}: autodiff {grad[index]:.8f}, finite difference {numeric:.8f}"
            )


def adding_problem(n, steps, seed):
    """Hochreiter & Schmidhuber's adding problem: sum the two marked values of a long sequence."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, (n, steps))
    first = rng.integers(0, steps // 2, n)
    second = rng.integers(steps // 2, steps, n)
    markers = np.zeros((n, steps))
    markers[np.arange(n), first] = 1.0
    markers[np.arange(n), second] = 1.0
    x = np.stack([values, markers], -1).astype("float32")  # (n, steps, 2)
    y = (values[np.arange(n), first] + values[np.arange(n), second]).astype("float32")  # (n,)
    return x, y


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="learning test runs once, on TensorFlow")
@pytest.mark.parametrize("variant", ["vanilla", "cifg"])
def test_learns_the_adding_problem_at_length_50(variant):
    keras.utils.set_random_seed(0)
    x, y = adding_problem(4096, 50, seed=0)
    x_test, y_test = adding_problem(1024, 50, seed=1)
    chance = float(np.mean((y_test - 1.0) ** 2))  # predicting the mean sum: about 1/6
    model = keras.Sequential([keras.Input((50, 2)), GatedLSTM(32, variant=variant), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(1e-2, clipnorm=1.0), "mse")
    model.fit(x, y, batch_size=64, epochs=15, verbose=0, callbacks=[_StopBelow(0.01)])
    mse = model.evaluate(x_test, y_test, verbose=0)
    assert mse < 0.05 < chance, f"{variant}: test MSE {mse:.4f}, chance {chance:.4f}"


class _StopBelow(keras.callbacks.Callback):
    def __init__(self, threshold):
        super().__init__()
        self.threshold = threshold

    def on_epoch_end(self, epoch, logs=None):
        if logs["loss"] < self.threshold:
            self.model.stop_training = True
