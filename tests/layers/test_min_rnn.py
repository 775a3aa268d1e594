"""`MinGRU` and `MinLSTM`: a float64 NumPy reference of their equations, scan = step (also from an initial state,
the bug of lucidrains/minGRU-pytorch issue 9), gradients against finite differences, long sequences."""

import doctest

import keras
import numpy as np
import pytest
from keras import ops

from layer_checks import assert_gradient_matches
from lstm_keras.layers import MinGRU
from lstm_keras.layers import MinLSTM
from lstm_keras.layers import min_gru
from lstm_keras.layers import min_lstm

INPUT_DIM, UNITS = 3, 4
LAYERS = [MinGRU, MinLSTM]


def make_layer(cls, seed=0, **kwargs):
    """A built layer with random weights (biases included), so that both branches of g are used."""
    layer = cls(UNITS, return_sequences=True, **kwargs)
    layer.build((None, None, INPUT_DIM))
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        weight.assign(rng.normal(scale=1.0, size=weight.shape).astype("float32"))
    return layer


def random_inputs(batch=2, time=7, seed=1):
    return np.random.default_rng(seed).normal(size=(batch, time, INPUT_DIM)).astype("float32")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def g(x):
    return np.where(x >= 0, x + 0.5, sigmoid(x))


def reference(cls, kernel, bias, inputs, initial_state=None, mask=None):
    """The sequential equations in float64, step by step: every output `(batch, time, units)`."""
    x = np.asarray(inputs, "float64")
    batch, time, _ = x.shape
    h = np.zeros((batch, UNITS)) if initial_state is None else np.array(initial_state, "float64")
    mask = np.ones((batch, time), bool) if mask is None else mask
    outputs = []
    for t in range(time):
        k = x[:, t] @ kernel + bias  # (batch, blocks * units)
        if cls is MinGRU:
            z, candidate = sigmoid(k[:, :UNITS]), g(k[:, UNITS:])
            new = (1 - z) * h + z * candidate
        else:
            f, i, candidate = sigmoid(k[:, :UNITS]), sigmoid(k[:, UNITS:2 * UNITS]), g(k[:, 2 * UNITS:])
            new = f / (f + i) * h + i / (f + i) * candidate
        h = np.where(mask[:, t:t + 1], new, h)
        outputs.append(h)
    return np.stack(outputs, axis=1)


def weights(layer):
    return np.asarray(layer.kernel, "float64"), np.asarray(layer.bias, "float64")


INITIAL_STATES = {
    "none": None,
    "zeros": np.zeros((2, UNITS), "float32"),
    "negative": np.array([[-1.5, 0.0, 2.0, -0.3], [0.7, -2.5, 0.0, 1.0]], "float32"),
}


@pytest.mark.keras_plumbing
@pytest.mark.parametrize("cls", LAYERS)
def test_layer_checks(cls, tmp_path):
    from layer_checks import check_layer

    inputs = random_inputs()
    for kwargs in ({}, {"return_sequences": True}, {"return_state": True}):
        outputs = check_layer(lambda: cls(UNITS, bias_initializer="ones", **kwargs), [inputs], tmp_dir=str(tmp_path))
        expected = [(2, 7, UNITS)] if kwargs.get("return_sequences") else [(2, UNITS)]
        expected += [(2, UNITS)] if kwargs.get("return_state") else []
        assert [o.shape for o in (outputs if isinstance(outputs, list) else [outputs])] == expected


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("time", [1, 7])
@pytest.mark.parametrize("initial", sorted(INITIAL_STATES))
def test_scan_matches_the_numpy_reference(cls, time, initial):
    layer = make_layer(cls)
    inputs, state = random_inputs(time=time), INITIAL_STATES[initial]
    sequences = ops.convert_to_numpy(layer(inputs, initial_state=state))
    assert sequences.shape == (2, time, UNITS)
    np.testing.assert_allclose(sequences, reference(cls, *weights(layer), inputs, state), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("initial", sorted(INITIAL_STATES))
def test_right_padded_mask(cls, initial):
    layer = make_layer(cls)
    inputs, state = random_inputs(time=7), INITIAL_STATES[initial]
    mask = np.array([[True] * 7, [True] * 3 + [False] * 4])
    expected = reference(cls, *weights(layer), inputs, state, mask)
    sequences = ops.convert_to_numpy(layer(inputs, initial_state=state, mask=mask))
    # Masked steps output zeros (the convention of keras.layers.Bidirectional's layers).
    np.testing.assert_allclose(sequences, np.where(mask[:, :, None], expected, 0.0), atol=1e-5, rtol=1e-5)
    # The masked steps keep the state of the last unmasked one, which is the last output and the final state.
    np.testing.assert_allclose(expected[1, 3:], np.repeat(expected[1, 2:3], 4, axis=0))
    last = cls(UNITS, return_state=True)
    last.build((None, None, INPUT_DIM))
    last.set_weights(layer.get_weights())
    output, final = (ops.convert_to_numpy(x) for x in last(inputs, initial_state=state, mask=mask))
    np.testing.assert_allclose(output, expected[:, -1], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(final, expected[:, -1], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(output[1], expected[1, 2], atol=1e-5, rtol=1e-5)
    # A mask from a previous layer (Masking) reaches the layer.
    model_inputs = keras.Input((7, INPUT_DIM))
    model = keras.Model(model_inputs, layer(keras.layers.Masking(0.0)(model_inputs)))
    padded = np.where(mask[:, :, None], inputs, 0.0).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(model(padded)),
                               np.where(mask[:, :, None], reference(cls, *weights(layer), padded, None, mask), 0.0),
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("initial", sorted(INITIAL_STATES))
def test_scan_equals_step(cls, initial):
    layer = make_layer(cls)
    inputs, state = random_inputs(time=7), INITIAL_STATES[initial]
    scanned = ops.convert_to_numpy(layer(inputs, initial_state=state))
    h = np.zeros((2, UNITS), "float32") if state is None else state
    stepped = []
    for t in range(inputs.shape[1]):
        output, (h,) = layer.step(inputs[:, t], [h])
        np.testing.assert_array_equal(ops.convert_to_numpy(output), ops.convert_to_numpy(h))
        stepped.append(ops.convert_to_numpy(h))
    np.testing.assert_allclose(scanned, np.stack(stepped, axis=1), atol=1e-5, rtol=1e-5)
    # A generation that continues a prefix from its final state gives the outputs of the whole sequence.
    continued = ops.convert_to_numpy(layer(inputs[:, 4:], initial_state=scanned[:, 3]))
    np.testing.assert_allclose(continued, scanned[:, 4:], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cls", LAYERS)
def test_go_backwards_and_bidirectional(cls):
    layer = make_layer(cls)
    inputs = random_inputs(time=6)
    mask = np.array([[True] * 6, [True] * 4 + [False] * 2])
    backwards = cls(UNITS, return_sequences=True, go_backwards=True)
    backwards.build((None, None, INPUT_DIM))
    backwards.set_weights(layer.get_weights())
    # Backwards = forwards over the time-reversed sequence and mask, outputs in processing order.
    reversed_inputs, reversed_mask = inputs[:, ::-1], mask[:, ::-1]
    expected = reference(cls, *weights(layer), reversed_inputs, None, reversed_mask)
    np.testing.assert_allclose(ops.convert_to_numpy(backwards(inputs, mask=mask)),
                               np.where(reversed_mask[:, :, None], expected, 0.0), atol=1e-5, rtol=1e-5)
    # Bidirectional: the backward half of each row reads that row's valid steps only, last to first.
    both = keras.layers.Bidirectional(cls(UNITS, return_sequences=True))
    outputs = ops.convert_to_numpy(both(inputs, mask=mask))
    assert outputs.shape == (2, 6, 2 * UNITS)
    backward = both.backward_layer
    row = reference(cls, *weights(backward), inputs[1:2, 3::-1], None)  # (1, 4, units): steps 3, 2, 1, 0
    np.testing.assert_allclose(outputs[1, :4, UNITS:], row[0, ::-1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cls", LAYERS)
def test_stateful_carries_the_state_across_batches(cls):
    layer = make_layer(cls)
    inputs = random_inputs(time=8)
    stateful = cls(UNITS, return_sequences=True, stateful=True)
    model = keras.Sequential([keras.Input((None, INPUT_DIM), batch_size=2), stateful])
    stateful.set_weights(layer.get_weights())
    first, second = (ops.convert_to_numpy(model(inputs[:, s])) for s in (slice(0, 5), slice(5, 8)))
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), reference(cls, *weights(layer), inputs),
                               atol=1e-5, rtol=1e-5)
    stateful.reset_state()
    np.testing.assert_allclose(ops.convert_to_numpy(model(inputs[:, 5:])),
                               reference(cls, *weights(layer), inputs[:, 5:]), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="fixed batch size"):
        cls(UNITS, stateful=True)(keras.Input((None, INPUT_DIM)))


def loss_and_input_gradient(layer, inputs, state, probe):
    """sum(outputs * probe) and its gradient w.r.t. the inputs."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        inputs = tf.constant(inputs)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = ops.sum(layer(inputs, initial_state=state) * probe)
        return float(loss), np.asarray(tape.gradient(loss, inputs))
    if keras.backend.backend() == "jax":
        import jax

        def loss(x):
            return ops.sum(layer(x, initial_state=state) * probe)

        value, gradient = jax.value_and_grad(loss)(inputs)
        return float(value), np.asarray(gradient)
    pytest.skip(f"no autodiff helper for backend {keras.backend.backend()}")


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("initial", ["none", "negative"])
def test_input_gradients_against_finite_differences(cls, initial):
    layer = make_layer(cls)
    inputs, state = random_inputs(time=5), INITIAL_STATES[initial]
    probe = np.random.default_rng(3).normal(size=(2, 5, UNITS))
    kernel, bias = weights(layer)

    def reference_loss(x):
        return float((reference(cls, kernel, bias, x, state) * probe).sum())

    loss, gradient = loss_and_input_gradient(layer, inputs, state, probe.astype("float32"))
    np.testing.assert_allclose(loss, reference_loss(inputs), rtol=1e-5, atol=1e-5)
    assert_gradient_matches(gradient, reference_loss, inputs, [(0, 0, 0), (0, 2, 1), (1, 4, 2), (1, 1, 0), (0, 3, 2)])


@pytest.mark.parametrize("cls", LAYERS)
def test_a_length_unknown_when_compiling(cls):
    # Generation reads prompts of any length: TensorFlow traces the scan without a static time axis.
    layer = make_layer(cls)
    inputs = keras.Input((None, INPUT_DIM))
    model = keras.Model(inputs, layer(inputs))
    for time in (1, 6, 13):
        sequence = random_inputs(time=time, seed=time)
        np.testing.assert_allclose(model.predict(sequence, verbose=0), reference(cls, *weights(layer), sequence),
                                   atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cls", [pytest.param(MinGRU, marks=pytest.mark.one_backend), MinLSTM])  # one shared scan
def test_long_sequences_stay_finite(cls):
    layer = make_layer(cls)
    inputs = 3 * random_inputs(batch=2, time=2048)
    scanned = ops.convert_to_numpy(layer(inputs, initial_state=INITIAL_STATES["negative"]))
    assert np.isfinite(scanned).all()
    np.testing.assert_allclose(scanned[:, -64:], reference(cls, *weights(layer), inputs[:, -64:],
                                                           scanned[:, -65]), atol=1e-4, rtol=1e-4)


@pytest.mark.keras_plumbing
@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("units", [0, -3, 2.5, "4", None, True])
def test_bad_units(cls, units):
    with pytest.raises(ValueError, match=r"`units`.*positive int.*Received: units="):
        cls(units)


@pytest.mark.keras_plumbing
def test_weight_layout_and_config():
    gru, lstm = make_layer(MinGRU), make_layer(MinLSTM)
    assert {w.name: tuple(w.shape) for w in gru.weights} == {"kernel": (INPUT_DIM, 2 * UNITS), "bias": (2 * UNITS,)}
    assert {w.name: tuple(w.shape) for w in lstm.weights} == {"kernel": (INPUT_DIM, 3 * UNITS), "bias": (3 * UNITS,)}
    config = MinLSTM(8, return_sequences=True, return_state=True, name="m").get_config()
    assert {k: config[k] for k in ("units", "return_sequences", "return_state", "name")} == {
        "units": 8, "return_sequences": True, "return_state": True, "name": "m"}
    assert "kernel_initializer" in config and "bias_initializer" in config


@pytest.mark.keras_plumbing
@pytest.mark.parametrize("module", [min_gru, min_lstm])
def test_docstring_example(module):
    results = doctest.testmod(module, raise_on_error=False)
    assert results.attempted > 0 and results.failed == 0
