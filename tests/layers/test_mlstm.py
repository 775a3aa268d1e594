"""`MLSTM`: float64 NumPy references of the unstabilised and stabilised recurrences, parallel = chunkwise =
recurrent = step (any length, initial states, masks), finiteness where exp(i~) overflows float32, gradients
against finite differences, saving, stateful, go_backwards and Bidirectional, bad arguments."""

import doctest

import keras
import numpy as np
import pytest
from keras import ops

from layer_checks import assert_gradient_matches
from lstm_keras.layers import mlstm
from lstm_keras.layers.mlstm import MLSTM

INPUT_DIM, UNITS = 3, 6
MODES = ["parallel", "chunkwise", "recurrent"]
TOL = {"atol": 1e-5, "rtol": 1e-5}


def make_layer(mode="parallel", num_heads=2, chunk_size=3, seed=0, scale=0.7, **kwargs):
    """A built layer with random weights (gate biases included)."""
    layer = MLSTM(UNITS, num_heads=num_heads, mode=mode, chunk_size=chunk_size, return_sequences=True, **kwargs)
    layer.build((None, None, INPUT_DIM))
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        weight.assign(rng.normal(scale=scale, size=weight.shape).astype("float32"))
    return layer


def copy_layer(layer, **kwargs):
    """A layer of the same weights with other settings."""
    config = {**layer.get_config(), **kwargs}
    config.pop("name")
    clone = MLSTM.from_config(config)
    clone.build((None, None, INPUT_DIM))
    clone.set_weights(layer.get_weights())
    return clone


def random_inputs(batch=2, time=7, seed=1):
    return np.random.default_rng(seed).normal(size=(batch, time, INPUT_DIM)).astype("float32")


def random_state(num_heads, batch=2, seed=2):
    """Scaled states [C, n, m] (float32); the true memory is C exp(m)."""
    d = UNITS // num_heads
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, num_heads, d, d)).astype("float32"),
            rng.normal(size=(batch, num_heads, d)).astype("float32"),
            rng.normal(size=(batch, num_heads)).astype("float32")]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def parameters(layer):
    return {w.name: np.asarray(w, "float64") for w in layer.weights}


def projections(p, x, num_heads):
    """q, k, v `(batch, heads, d)`, i~, f~ `(batch, heads)` and o `(batch, units)` of one step, float64."""
    batch, d = x.shape[0], UNITS // num_heads

    def heads(name):
        return (x @ p[f"{name}_kernel"] + p[f"{name}_bias"]).reshape(batch, num_heads, d)

    gates = x @ p["gate_kernel"] + p["gate_bias"]
    return (heads("query"), heads("key") / np.sqrt(d), heads("value"), gates[:, :num_heads], gates[:, num_heads:],
            sigmoid(x @ p["output_gate_kernel"] + p["output_gate_bias"]))


def gated_output(p, o, hidden):
    """`o * h~` `(batch, units)` from h~ `(batch, heads, d)`; with the layer's `head_norm` weights, each head of h~
    normalised to zero mean and unit variance (epsilon 1e-5) first, then scaled and offset per channel."""
    if "head_norm_scale" in p:
        mean, variance = hidden.mean(-1, keepdims=True), hidden.var(-1, keepdims=True)
        hidden = (hidden - mean) / np.sqrt(variance + 1e-5)
        hidden = hidden.reshape(len(o), UNITS) * p["head_norm_scale"] + p["head_norm_offset"]
    return o * hidden.reshape(len(o), UNITS)


def unstabilised_reference(p, inputs, num_heads, state=None, mask=None):
    """The paper's recurrence, step by step, unstabilised, in float64: outputs and the true final C, n."""
    x = np.asarray(inputs, "float64")
    batch, time, _ = x.shape
    d = UNITS // num_heads
    if state is None:
        c, n = np.zeros((batch, num_heads, d, d)), np.zeros((batch, num_heads, d))
    else:  # the true state of the scaled one
        scale = np.exp(np.asarray(state[2], "float64"))
        c, n = state[0] * scale[..., None, None], state[1] * scale[..., None]
    mask = np.ones((batch, time), bool) if mask is None else mask
    outputs = []
    for t in range(time):
        q, k, v, i_tilde, f_tilde, o = projections(p, x[:, t], num_heads)
        i, f = np.exp(i_tilde), sigmoid(f_tilde)
        keep = mask[:, t, None]
        i, f = np.where(keep, i, 0.0), np.where(keep, f, 1.0)
        c = f[..., None, None] * c + i[..., None, None] * v[..., :, None] * k[..., None, :]  # value x key
        n = f[..., None] * n + i[..., None] * k
        hidden = np.einsum("bhvk,bhk->bhv", c, q) / np.maximum(np.abs(np.einsum("bhk,bhk->bh", n, q)), 1.0)[..., None]
        outputs.append(gated_output(p, o, hidden))
    return np.stack(outputs, axis=1), c, n


def stabilised_reference(p, inputs, num_heads, state=None, mask=None):
    """The stabilised recurrence (m_t = max(log f + m_{t-1}, i~)) in float64: outputs and the final C, n, m."""
    x = np.asarray(inputs, "float64")
    batch, time, _ = x.shape
    d = UNITS // num_heads
    if state is None:
        c, n, m = np.zeros((batch, num_heads, d, d)), np.zeros((batch, num_heads, d)), np.zeros((batch, num_heads))
    else:
        c, n, m = (np.asarray(s, "float64") for s in state)
    mask = np.ones((batch, time), bool) if mask is None else mask
    outputs = []
    for t in range(time):
        q, k, v, i_tilde, f_tilde, o = projections(p, x[:, t], num_heads)
        log_f = -np.logaddexp(0.0, -f_tilde)
        keep = mask[:, t, None]
        log_f, i_tilde = np.where(keep, log_f, 0.0), np.where(keep, i_tilde, -np.inf)
        m_new = np.maximum(log_f + m, i_tilde)
        forget, write = np.exp(log_f + m - m_new), np.exp(i_tilde - m_new)
        c = forget[..., None, None] * c + write[..., None, None] * v[..., :, None] * k[..., None, :]
        n = forget[..., None] * n + write[..., None] * k
        m = m_new
        denominator = np.maximum(np.abs(np.einsum("bhk,bhk->bh", n, q)), np.exp(-m))
        hidden = np.einsum("bhvk,bhk->bhv", c, q) / denominator[..., None]
        outputs.append(gated_output(p, o, hidden))
    return np.stack(outputs, axis=1), c, n, m


def run(layer, inputs, state=None, mask=None):
    """outputs, C, n, m as NumPy arrays (a return_state copy of `layer`)."""
    full = copy_layer(layer, return_state=True)
    return [ops.convert_to_numpy(x) for x in full(inputs, initial_state=state, mask=mask)]


def true_states(c, n, m):
    scale = np.exp(np.asarray(m, "float64"))
    return c * scale[..., None, None], n * scale[..., None]


MASKS = {
    "right-padded": np.array([[True] * 7, [True] * 3 + [False] * 4]),
    "left-padded": np.array([[True] * 7, [False] * 4 + [True] * 3]),
    "holes": np.array([[True, False, True, True, False, False, True], [False, True, True, False, True, True, True]]),
}


# ---------------------------------------------------------------------- 1. the unstabilised reference
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("time, num_heads, initial", [
    pytest.param(1, 1, False, marks=pytest.mark.one_backend), (7, 1, True), (16, 2, False)])
def test_modes_match_the_unstabilised_reference(mode, time, num_heads, initial):
    layer = make_layer(mode, num_heads)
    inputs, state = random_inputs(time=time), random_state(num_heads) if initial else None
    outputs, c, n, m = run(layer, inputs, state)
    expected, expected_c, expected_n = unstabilised_reference(parameters(layer), inputs, num_heads, state)
    np.testing.assert_allclose(outputs, expected, **TOL)
    true_c, true_n = true_states(c, n, m)
    np.testing.assert_allclose(true_c, expected_c, **TOL)
    np.testing.assert_allclose(true_n, expected_n, **TOL)


@pytest.mark.parametrize("mode, mask_name, num_heads, initial", [
    ("parallel", "holes", 2, True), ("chunkwise", "left-padded", 1, True), ("chunkwise", "holes", 2, False),
    ("recurrent", "right-padded", 2, True),
])
def test_masks_keep_the_state(mode, num_heads, mask_name, initial):
    layer, mask = make_layer(mode, num_heads), MASKS[mask_name]
    inputs, state = random_inputs(time=7), random_state(num_heads) if initial else None
    outputs, c, n, m = run(layer, inputs, state, mask)
    expected, expected_c, expected_n = unstabilised_reference(parameters(layer), inputs, num_heads, state, mask)
    np.testing.assert_allclose(outputs, np.where(mask[:, :, None], expected, 0.0), **TOL)
    true_c, true_n = true_states(c, n, m)
    np.testing.assert_allclose(true_c, expected_c, **TOL)
    np.testing.assert_allclose(true_n, expected_n, **TOL)
    # The last output is the one of each row's last unmasked step.
    last = copy_layer(layer, return_sequences=False)(inputs, initial_state=state, mask=mask)
    np.testing.assert_allclose(ops.convert_to_numpy(last)[1], expected[1, np.flatnonzero(mask[1])[-1]], **TOL)


# ---------------------------------------------------------------------- 2. the stabilised reference
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("initial", [True])
def test_large_input_gates_stay_finite(mode, initial):
    layer = make_layer(mode, num_heads=2)
    gate_bias = np.array(layer.gate_bias)
    gate_bias[:2] = [100.0, 120.0]  # i~ of 100 and more: exp(i~) is inf in float32
    layer.gate_bias.assign(gate_bias)
    inputs, state = random_inputs(time=7), random_state(2) if initial else None
    p = parameters(layer)
    i_tilde = projections(p, inputs.reshape(-1, INPUT_DIM).astype("float64"), 2)[3]
    with np.errstate(over="ignore"):
        assert i_tilde.min() > 95 and np.isinf(np.exp(i_tilde.astype("float32"))).all()
    outputs, c, n, m = run(layer, inputs, state)
    assert all(np.isfinite(x).all() for x in (outputs, c, n, m))
    expected, expected_c, expected_n, expected_m = stabilised_reference(p, inputs, 2, state)
    # float32 holds i~ = 100 to 8e-6 (its ulp), so the weights exp(i~ - m) carry relative errors of about 1e-5:
    # 1e-4 here, 1e-5 elsewhere.
    tolerance = {"atol": 1e-4, "rtol": 1e-4}
    np.testing.assert_allclose(outputs, expected, **tolerance)
    # m is defined the same way in every mode, so the scaled states themselves agree.
    np.testing.assert_allclose(m, expected_m, **tolerance)
    np.testing.assert_allclose(c, expected_c, **tolerance)
    np.testing.assert_allclose(n, expected_n, **tolerance)


def test_the_stabilised_reference_is_the_unstabilised_one():
    layer = make_layer(num_heads=2)
    inputs, state = random_inputs(time=9), random_state(2)
    for mask in (None, np.array([[True] * 9, [False] * 3 + [True] * 6])):
        expected, c, n = unstabilised_reference(parameters(layer), inputs, 2, state, mask)
        outputs, *states = stabilised_reference(parameters(layer), inputs, 2, state, mask)
        np.testing.assert_allclose(outputs, expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(true_states(*states)[0], c, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_head_norm_normalises_each_head_before_the_output_gate(mode):
    layer = make_layer(mode, num_heads=2, head_norm=True)
    assert {"head_norm_scale", "head_norm_offset"} <= {w.name for w in layer.weights}
    inputs, state, mask = random_inputs(time=7), random_state(2), MASKS["right-padded"]
    outputs, c, n, m = run(layer, inputs, state, mask)
    expected, expected_c, expected_n = unstabilised_reference(parameters(layer), inputs, 2, state, mask)
    np.testing.assert_allclose(outputs, np.where(mask[:, :, None], expected, 0.0), **TOL)
    np.testing.assert_allclose(true_states(c, n, m)[0], expected_c, **TOL)
    # The step form normalises too.
    output, _ = layer.step(inputs[:, 0], state)
    np.testing.assert_allclose(ops.convert_to_numpy(output), expected[:, 0], **TOL)


# ---------------------------------------------------------------------- 3. all forms agree
@pytest.mark.parametrize("time, chunk_size", [pytest.param(5, 1, marks=pytest.mark.one_backend), (11, 4)])
def test_parallel_chunkwise_recurrent_and_step_agree(time, chunk_size):
    layer = make_layer("parallel", num_heads=2)
    inputs, state = random_inputs(time=time), random_state(2)
    results = {mode: run(copy_layer(layer, mode=mode, chunk_size=chunk_size), inputs, state) for mode in MODES}
    c, n, m = state
    stepped = []
    for t in range(time):
        output, (c, n, m) = layer.step(inputs[:, t], [c, n, m])
        stepped.append(ops.convert_to_numpy(output))
    results["step"] = [np.stack(stepped, axis=1)] + [ops.convert_to_numpy(x) for x in (c, n, m)]
    outputs, c, n, m = results["parallel"]
    for mode, (other_outputs, other_c, other_n, other_m) in results.items():
        np.testing.assert_allclose(other_outputs, outputs, **TOL, err_msg=mode)
        np.testing.assert_allclose(other_m, m, **TOL, err_msg=mode)
        for other, expected in zip(true_states(other_c, other_n, other_m), true_states(c, n, m)):
            np.testing.assert_allclose(other, expected, **TOL, err_msg=mode)
    # A generation that continues a prefix from its final states gives the outputs of the whole sequence.
    if time > 3:
        prefix = run(layer, inputs[:, :3], state)
        continued = run(copy_layer(layer, mode="chunkwise", chunk_size=chunk_size), inputs[:, 3:], prefix[1:])
        np.testing.assert_allclose(continued[0], outputs[:, 3:], **TOL)


def test_unknown_time_in_a_compiled_function():
    layer = make_layer("chunkwise", num_heads=2, chunk_size=4)
    inputs = random_inputs(time=10)
    expected = ops.convert_to_numpy(layer(inputs))
    model_inputs = keras.Input((None, INPUT_DIM))
    model = keras.Model(model_inputs, layer(model_inputs))
    np.testing.assert_allclose(model.predict(inputs, verbose=0), expected, **TOL)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        function = tf.function(layer.__call__, input_signature=[tf.TensorSpec((None, None, INPUT_DIM))])
        for time in (3, 10):
            np.testing.assert_allclose(function(inputs[:, :time]).numpy(), expected[:, :time], **TOL)


# ---------------------------------------------------------------------- 4. gradients
def loss_and_gradients(layer, inputs, probe, mask=None):
    """sum(outputs * probe) and its gradients w.r.t. the inputs and the weights."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        inputs = tf.constant(inputs)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = ops.sum(layer(inputs, mask=mask) * probe)
        gradients = tape.gradient(loss, [inputs] + layer.trainable_variables)
        return float(loss), [np.asarray(g) for g in gradients]
    if keras.backend.backend() == "jax":
        import jax

        def loss(x, weights):
            outputs, _ = layer.stateless_call(weights, [], x, mask=mask)
            return ops.sum(outputs * probe)

        weights = [v.value for v in layer.trainable_variables]
        value, (gradient, weight_gradients) = jax.value_and_grad(loss, argnums=(0, 1))(inputs, weights)
        return float(value), [np.asarray(gradient)] + [np.asarray(g) for g in weight_gradients]
    pytest.skip(f"no autodiff helper for backend {keras.backend.backend()}")


@pytest.mark.parametrize("mode", [pytest.param("parallel", marks=pytest.mark.one_backend), "chunkwise"])
def test_input_gradients_against_finite_differences(mode):
    layer = make_layer(mode, num_heads=2, chunk_size=2)
    inputs = random_inputs(time=5)
    probe = np.random.default_rng(3).normal(size=(2, 5, UNITS))
    p = parameters(layer)

    def reference_loss(x):
        return float((unstabilised_reference(p, x, 2)[0] * probe).sum())

    loss, (gradient, *_) = loss_and_gradients(layer, inputs, probe.astype("float32"))
    np.testing.assert_allclose(loss, reference_loss(inputs), rtol=1e-5, atol=1e-5)
    assert_gradient_matches(gradient, reference_loss, inputs,
                            [(0, 0, 0), (0, 2, 1), (1, 4, 2), (1, 1, 0), (0, 3, 2), (1, 0, 1)])


@pytest.mark.parametrize("mode, mask_name", [pytest.param("parallel", "none", marks=pytest.mark.one_backend),
                                             ("chunkwise", "right-padded"),
                                             ("recurrent", "left-padded"), ("chunkwise", "left-padded")])
def test_gradients_are_finite_with_a_mask(mode, mask_name):
    """With input gates of 100 (exp(-m) underflows) and a tail padded to the chunk size (q = 0 there)."""
    layer = make_layer(mode, num_heads=2)
    gate_bias = np.array(layer.gate_bias)
    gate_bias[:2] = 100.0
    layer.gate_bias.assign(gate_bias)
    probe = np.random.default_rng(3).normal(size=(2, 7, UNITS)).astype("float32")
    _, gradients = loss_and_gradients(layer, random_inputs(time=7), probe, mask=MASKS.get(mask_name))
    assert all(np.isfinite(g).all() for g in gradients)
    assert np.abs(gradients[0]).sum() > 0


# ---------------------------------------------------------------------- 5. saving, stateful, backwards
# The modes compute one function (above): the Keras plumbing is checked once, in the training default.
@pytest.mark.keras_plumbing
@pytest.mark.parametrize("mode", ["chunkwise"])
def test_layer_checks_and_saving(mode, tmp_path):
    from layer_checks import check_layer

    inputs = random_inputs()
    for kwargs in ({}, {"return_sequences": True}, {"return_state": True}):
        outputs = check_layer(lambda: MLSTM(UNITS, num_heads=2, mode=mode, chunk_size=3, **kwargs), [inputs],
                              tmp_dir=str(tmp_path))
        expected = [(2, 7, UNITS)] if kwargs.get("return_sequences") else [(2, UNITS)]
        expected += [(2, 2, 3, 3), (2, 2, 3), (2, 2)] if kwargs.get("return_state") else []
        assert [o.shape for o in (outputs if isinstance(outputs, list) else [outputs])] == expected
    # A model saved with keras.saving and reloaded gives identical outputs.
    model_inputs = keras.Input((None, INPUT_DIM))
    layer = make_layer(mode, num_heads=2)
    model = keras.Model(model_inputs, keras.layers.Dense(2)(layer(model_inputs)))
    path = str(tmp_path / "model.keras")
    keras.saving.save_model(model, path)
    reloaded = keras.saving.load_model(path)
    assert reloaded.layers[1].get_config() == layer.get_config()
    np.testing.assert_array_equal(ops.convert_to_numpy(reloaded(inputs)), ops.convert_to_numpy(model(inputs)))


@pytest.mark.parametrize("mode", ["parallel", "chunkwise"])
def test_go_backwards_and_bidirectional(mode):
    layer = make_layer(mode, num_heads=2)
    inputs = random_inputs(time=6)
    mask = np.array([[True] * 6, [True] * 4 + [False] * 2])
    backwards = copy_layer(layer, go_backwards=True)
    # Backwards = forwards over the time-reversed sequence and mask, outputs in processing order.
    reversed_inputs, reversed_mask = inputs[:, ::-1], mask[:, ::-1]
    expected = unstabilised_reference(parameters(layer), reversed_inputs, 2, None, reversed_mask)[0]
    np.testing.assert_allclose(ops.convert_to_numpy(backwards(inputs, mask=mask)),
                               np.where(reversed_mask[:, :, None], expected, 0.0), **TOL)
    # Bidirectional: the backward half of each row reads that row's valid steps only, last to first.
    both = keras.layers.Bidirectional(MLSTM(UNITS, num_heads=2, mode=mode, chunk_size=4, return_sequences=True))
    outputs = ops.convert_to_numpy(both(inputs, mask=mask))
    assert outputs.shape == (2, 6, 2 * UNITS)
    row = unstabilised_reference(parameters(both.backward_layer), inputs[1:2, 3::-1], 2)[0]  # steps 3, 2, 1, 0
    np.testing.assert_allclose(outputs[1, :4, UNITS:], row[0, ::-1], **TOL)
    np.testing.assert_array_equal(outputs[1, 4:], 0.0)


@pytest.mark.parametrize("mode", ["chunkwise"])
def test_stateful_carries_the_state_across_batches(mode):
    layer = make_layer(mode, num_heads=2)
    inputs = random_inputs(time=8)
    stateful = MLSTM(UNITS, num_heads=2, mode=mode, chunk_size=3, return_sequences=True, stateful=True)
    model = keras.Sequential([keras.Input((None, INPUT_DIM), batch_size=2), stateful])
    stateful.set_weights(layer.get_weights())
    p = parameters(layer)
    first, second = (ops.convert_to_numpy(model(inputs[:, s])) for s in (slice(0, 5), slice(5, 8)))
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), unstabilised_reference(p, inputs, 2)[0],
                               **TOL)
    stateful.reset_state()
    np.testing.assert_allclose(ops.convert_to_numpy(model(inputs[:, 5:])),
                               unstabilised_reference(p, inputs[:, 5:], 2)[0], **TOL)
    with pytest.raises(ValueError, match="fixed batch size"):
        MLSTM(UNITS, stateful=True)(keras.Input((None, INPUT_DIM)))


# ---------------------------------------------------------------------- weights, config, bad arguments
@pytest.mark.keras_plumbing
def test_weight_layout_initialisation_and_config():
    layer = MLSTM(8, num_heads=4, mode="chunkwise", chunk_size=16)
    layer.build((None, None, INPUT_DIM))
    shapes = {w.name: tuple(w.shape) for w in layer.weights}
    assert shapes == {
        **{f"{name}_kernel": (INPUT_DIM, 8) for name in ("query", "key", "value", "output_gate")},
        **{f"{name}_bias": (8,) for name in ("query", "key", "value", "output_gate")},
        "gate_kernel": (INPUT_DIM, 8), "gate_bias": (8,),
    }
    assert layer.state_shapes == [(4, 2, 2), (4, 2), (4,)]
    np.testing.assert_array_equal(np.asarray(layer.gate_kernel), 0.0)
    gate_bias = np.asarray(layer.gate_bias)
    np.testing.assert_allclose(gate_bias[4:], [3.0, 4.0, 5.0, 6.0], rtol=1e-6)  # forget gates: slow forgetting
    assert np.abs(gate_bias[:4]).max() < 0.6  # input gates ~ N(0, 0.1^2)
    config = layer.get_config()
    assert {k: config[k] for k in ("units", "num_heads", "mode", "chunk_size", "head_norm")} == {
        "units": 8, "num_heads": 4, "mode": "chunkwise", "chunk_size": 16, "head_norm": False}
    assert "kernel_initializer" in config and "bias_initializer" in config
    assert MLSTM.from_config(config).get_config() == config


@pytest.mark.keras_plumbing
@pytest.mark.parametrize("kwargs, argument", [
    ({"num_heads": 4}, "num_heads"),
    ({"num_heads": 0}, "num_heads"),
    ({"num_heads": 1.5}, "num_heads"),
    ({"mode": "quadratic"}, "mode"),
    ({"mode": None}, "mode"),
    ({"chunk_size": 0}, "chunk_size"),
    ({"chunk_size": 2.0}, "chunk_size"),
    ({"chunk_size": True}, "chunk_size"),
])
def test_bad_arguments(kwargs, argument):
    (value,) = kwargs.values()
    with pytest.raises(ValueError, match=rf"Invalid value for argument `{argument}`: received {value!r}; allowed:"):
        MLSTM(UNITS, **kwargs)


@pytest.mark.keras_plumbing
def test_bad_mode_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="'parallel', 'chunkwise', 'recurrent'"):
        MLSTM(UNITS, mode="x")


@pytest.mark.keras_plumbing
def test_docstring_example():
    results = doctest.testmod(mlstm, raise_on_error=False)
    assert results.attempted > 0 and results.failed == 0
