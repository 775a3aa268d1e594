"""lstm_keras.diagnostics: gradients and input-gradient norms against NumPy and finite differences."""

import keras
import numpy as np
import pytest
from keras import ops

from lstm_keras.diagnostics import accelerators
from lstm_keras.diagnostics import agreement_tolerance
from lstm_keras.diagnostics import device_report
from lstm_keras.diagnostics import exact_float32
from lstm_keras.diagnostics import gradients
from lstm_keras.diagnostics import input_gradient_norms
from lstm_keras.layers import GatedLSTM


def test_gradients_match_the_analytic_ones():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(4,))
    gx, gy = gradients(lambda a, b: ops.sum(ops.sin(a) * b), [x, y])
    np.testing.assert_allclose(gx, np.cos(x) * y, rtol=1e-5)
    np.testing.assert_allclose(gy, np.sin(x).sum(axis=0), rtol=1e-5)


def test_gradients_of_a_disconnected_argument_is_a_clear_error():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("JAX differentiates a disconnected argument to zeros")
    with pytest.raises(ValueError, match=r"argument\(s\) \[1\]"):
        gradients(lambda a, b: ops.sum(a), [np.ones(2), np.ones(2)])


def test_input_gradient_norms_of_a_linear_model_match_numpy():
    # L = mean_b (x_b . w - y_b)^2, so dL/dx_b = 2 / B (x_b . w - y_b) w.
    rng = np.random.default_rng(1)
    batch, steps, features = 5, 6, 3
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    y = rng.normal(size=(batch, 1)).astype("float32")
    w = rng.normal(size=(steps * features, 1)).astype("float32")
    model = keras.Sequential(
        [keras.Input((steps, features)), keras.layers.Flatten(), keras.layers.Dense(1, use_bias=False)]
    )
    model.layers[-1].set_weights([w])
    residual = x.reshape(batch, -1) @ w - y  # (batch, 1)
    expected = (2.0 / batch) * residual * w[:, 0]  # (batch, steps * features)
    expected = np.linalg.norm(expected.reshape(batch, steps, features), axis=(0, 2))  # (steps,)
    np.testing.assert_allclose(input_gradient_norms(model, x, y), expected, rtol=1e-5)


def matmul_precision_is_exact():
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return not tf.config.experimental.tensor_float_32_execution_enabled()
    import jax

    return jax.config.jax_default_matmul_precision == "float32"


@pytest.mark.skipif(keras.backend.backend() not in ("tensorflow", "jax"), reason="TF32 is a TensorFlow / JAX setting")
def test_exact_float32_sets_and_restores_the_precision():
    before = matmul_precision_is_exact()
    with exact_float32():
        assert matmul_precision_is_exact()
    assert matmul_precision_is_exact() == before
    with pytest.raises(RuntimeError):
        with exact_float32():
            raise RuntimeError("restored on errors too")
    assert matmul_precision_is_exact() == before


def test_input_gradient_norms_keep_tiny_float32_gradients():
    # dL/dx_t = 2 (x . w - y) w_t: a float32 gradient of about 1e-30, whose square would flush to 0 in float32.
    x = np.ones((1, 2, 1), "float32")
    model = keras.Sequential([keras.Input((2, 1)), keras.layers.Flatten(), keras.layers.Dense(1, use_bias=False)])
    model.layers[-1].set_weights([np.array([[1e-30], [1.0]], "float32")])
    norms = input_gradient_norms(model, x, np.zeros((1, 1), "float32"))
    np.testing.assert_allclose(norms, 2 * (1 + 1e-30) * np.array([1e-30, 1.0]), rtol=1e-5)


def test_input_gradient_norms_of_an_lstm_match_finite_differences():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 4, 2)).astype("float64")
    y = rng.normal(size=(2, 3))
    layer = GatedLSTM(3, dtype="float64")

    def loss(values):
        return float(np.mean((np.asarray(layer(values)) - y) ** 2))

    # Float64 where the backend computes in it (JAX only with x64 enabled).
    double = np.asarray(layer(x)).dtype == np.float64
    eps, rtol = (1e-6, 1e-6) if double else (1e-2, 2e-2)
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        numeric[index] = (loss(up) - loss(down)) / (2 * eps)
    norms = input_gradient_norms(layer, x, y)
    assert norms.shape == (4,)
    np.testing.assert_allclose(norms, np.linalg.norm(numeric, axis=(0, 2)), rtol=rtol)


def test_device_report_names_each_layer_and_the_fused_path():
    report = device_report({"vanilla": GatedLSTM(8), "phased": GatedLSTM(8, variant="phased")})
    lines = report.splitlines()
    assert lines[0].startswith(f"Keras {keras.__version__} on {keras.backend.backend()}")
    gpu = bool(accelerators())
    assert lines[1] == ("device: GPU " + accelerators()[0] if gpu else "device: CPU only")
    assert lines[2] == (f"cuDNN path for vanilla: {'active' if gpu else 'not active'} "
                        f"(fused_kernel_compatible=True, GPU={gpu})")
    assert lines[3] == f"cuDNN path for phased: not active (fused_kernel_compatible=False, GPU={gpu})"


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_agreement_tolerance_holds_for_a_text_alone_and_padded_in_a_batch(policy):
    """The check of tutorial 02: a masked bidirectional LSTM gives one text the same probabilities alone and padded."""
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((None,), dtype="int32"), keras.layers.Embedding(500, 32, mask_zero=True),
            keras.layers.Bidirectional(GatedLSTM(32)), keras.layers.Dense(2, activation="softmax", dtype="float32")])
    finally:
        keras.config.set_dtype_policy("float32")
    rng = np.random.default_rng(0)
    texts = rng.integers(1, 500, size=(8, 12))
    padded = np.concatenate([texts, np.zeros((8, 28), "int64")], axis=1)
    alone = ops.convert_to_numpy(model(texts))
    in_batch = ops.convert_to_numpy(model(padded))
    tolerance = agreement_tolerance(model.layers[1].compute_dtype)
    assert tolerance == {"float32": 1e-5}.get(policy, 1e-3)
    np.testing.assert_allclose(in_batch, alone, atol=tolerance)
