"""The xLSTM blocks: scan = step (also from a state), the wiring against NumPy, masks, causality, Keras' APIs.

The cells themselves are tested in their own files (`test_mlstm.py`, `test_slstm.py`); here the
NumPy references of the blocks take the inner cell's outputs from the cell itself.
"""

import doctest

import keras
import numpy as np
import pytest
from keras import ops
from scipy.special import erf

from layer_checks import check_layer
from lstm_keras.layers import xlstm
from lstm_keras.layers.xlstm import MLSTMBlock
from lstm_keras.layers.xlstm import SLSTMBlock
from lstm_keras.layers.xlstm import xlstm_block
from lstm_keras.layers.xlstm import xlstm_stack

BATCH, STEPS, FEATURES, UNITS, HEADS = 2, 7, 3, 8, 2
KINDS = ["mlstm", "slstm"]
EPSILON = xlstm.NORM_EPSILON
MLSTM_DEFAULTS = {"mode": "parallel", "chunk_size": 3}


def make_block(kind, features=FEATURES, seed=0, **kwargs):
    """A built block with random weights (norms and biases included), returning every step.

    mLSTM blocks run their cell in mode "parallel" unless told (the loops of the other modes are
    slow in eager JAX); the modes are all checked by the scan = step tests.
    """
    if kind == "mlstm":
        kwargs = {**MLSTM_DEFAULTS, **kwargs}
    kwargs = {"return_sequences": True, "return_state": True, **kwargs}
    block = xlstm_block(kind, UNITS, num_heads=HEADS, **kwargs)
    block.build((BATCH, None, features))
    rng = np.random.default_rng(seed)
    for weight in block.weights:
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))
    return block


def random_inputs(seed=1, steps=STEPS, features=FEATURES):
    return np.random.default_rng(seed).normal(size=(BATCH, steps, features)).astype("float32")


def numpy_of(values):
    return [ops.convert_to_numpy(value) for value in values]


def step_through(block, inputs, states):
    outputs = []
    for t in range(inputs.shape[1]):
        output, states = block.step(inputs[:, t], states)
        outputs.append(ops.convert_to_numpy(output))
    return np.stack(outputs, axis=1), numpy_of(states)


def assert_close_lists(actual, expected, atol=1e-5):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, atol=atol, rtol=1e-4)


# The inner mLSTM's modes compute one function (tests/layers/test_mlstm.py): the blocks use the training default,
# and the quicker parallel form where the convolution's kernel is what varies.
CASES = [
    pytest.param("mlstm", {"mode": "chunkwise"}, id="mlstm-chunkwise", marks=pytest.mark.one_backend),
    pytest.param("mlstm", {"mode": "parallel", "conv_kernel_size": 1}, id="mlstm-kernel1"),
    pytest.param("mlstm", {"mode": "parallel", "conv_kernel_size": 9}, id="mlstm-kernel9",
                 marks=pytest.mark.one_backend),
    pytest.param("slstm", {}, id="slstm"),
]


@pytest.mark.parametrize("kind,options", CASES)
def test_scan_equals_step(kind, options):
    block = make_block(kind, **options)
    inputs = random_inputs()
    outputs, *states = numpy_of(block(inputs))
    stepped, stepped_states = step_through(block, inputs, block.initial_state(BATCH))
    np.testing.assert_allclose(stepped, outputs, atol=1e-5, rtol=1e-4)
    assert_close_lists(stepped_states, states)


@pytest.mark.parametrize("kind", [pytest.param("mlstm", marks=pytest.mark.one_backend), "slstm"])
def test_input_projection(kind):
    """Inputs of width `units` go straight in (no projection); scan = step there too."""
    block = make_block(kind, features=UNITS)
    assert block.input_projection is None and make_block(kind).input_projection is not None
    inputs = random_inputs(steps=4, features=UNITS)
    outputs, *states = numpy_of(block(inputs))
    stepped, stepped_states = step_through(block, inputs, block.initial_state(BATCH))
    np.testing.assert_allclose(stepped, outputs, atol=1e-5, rtol=1e-4)
    assert_close_lists(stepped_states, states)


@pytest.mark.parametrize("kind,options", [CASES[0], CASES[1], CASES[-1]])  # the kernels: test_scan_equals_step
def test_continuing_from_a_state(kind, options):
    block = make_block(kind, **options)
    inputs = random_inputs()
    whole, *states = numpy_of(block(inputs))
    first, *middle = block(inputs[:, :3])
    second, *end = numpy_of(block(inputs[:, 3:], initial_state=middle))
    np.testing.assert_allclose(np.concatenate([ops.convert_to_numpy(first), second], axis=1), whole, atol=1e-5,
                               rtol=1e-4)
    assert_close_lists(end, states)
    stepped, stepped_states = step_through(block, inputs[:, 3:], middle)
    np.testing.assert_allclose(stepped, whole[:, 3:], atol=1e-5, rtol=1e-4)
    assert_close_lists(stepped_states, states)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def silu(x):
    return x * sigmoid(x)


def layer_norm(x, layer):
    mean, variance = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + EPSILON) * np.asarray(layer.gamma) + np.asarray(layer.beta)


def dense(x, layer):
    return x @ np.asarray(layer.kernel, "float64") + np.asarray(layer.bias, "float64")


def head_norm(x, block):
    heads = x.reshape(*x.shape[:-1], HEADS, -1)
    heads = (heads - heads.mean(-1, keepdims=True)) / np.sqrt(heads.var(-1, keepdims=True) + EPSILON)
    return heads.reshape(x.shape) * np.asarray(block.head_norm_scale) + np.asarray(block.head_norm_offset)


def inner_outputs(block, sequences):
    """The inner cell's own outputs on `sequences` (float64 NumPy in, float64 NumPy out)."""
    outputs, _ = block.inner.scan(sequences.astype("float32"))
    return ops.convert_to_numpy(outputs).astype("float64")


def mlstm_block_reference(block, inputs, buffer=None):
    """The mLSTM block's wiring in float64, written from its docstring's equations."""
    x = dense(inputs.astype("float64"), block.input_projection)  # (batch, time, units)
    up = dense(layer_norm(x, block.norm), block.up_projection)  # (batch, time, 2 E)
    branch, gate = np.split(up, 2, axis=-1)
    size = block.conv_kernel_size
    buffer = np.zeros((BATCH, size - 1, branch.shape[-1])) if buffer is None else buffer
    padded = np.concatenate([buffer, branch], axis=1)
    kernel = np.asarray(block.conv_kernel, "float64")
    conv = np.stack([(padded[:, t:t + size] * kernel).sum(1) for t in range(inputs.shape[1])], axis=1)
    conv = silu(conv + np.asarray(block.conv_bias))
    hidden = head_norm(inner_outputs(block, conv), block) + np.asarray(block.skip) * conv
    return x + dense(hidden * silu(gate), block.down_projection), padded[:, -(size - 1):]


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def slstm_block_reference(block, inputs):
    """The sLSTM block's wiring in float64, written from its docstring's equations."""
    x = dense(inputs.astype("float64"), block.input_projection)
    residual = x + head_norm(inner_outputs(block, layer_norm(x, block.norm)), block)
    branch, gate = np.split(dense(layer_norm(residual, block.ffn_norm), block.ffn_up), 2, axis=-1)
    return residual + dense(gelu(branch) * gate, block.ffn_down)


def test_mlstm_block_against_numpy():
    block = make_block("mlstm")
    inputs = random_inputs()
    outputs, *states = numpy_of(block(inputs))
    expected, buffer = mlstm_block_reference(block, inputs)
    np.testing.assert_allclose(outputs, expected, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(states[-1], buffer, atol=1e-5)
    assert block.up_projection.kernel.shape == (UNITS, 4 * UNITS) and block.conv_kernel.shape == (4, 2 * UNITS)


def test_slstm_block_against_numpy():
    block = make_block("slstm", ffn_factor=1.5)
    inputs = random_inputs()
    outputs = ops.convert_to_numpy(block(inputs)[0])
    np.testing.assert_allclose(outputs, slstm_block_reference(block, inputs), atol=1e-4, rtol=1e-4)
    assert block.ffn_up.kernel.shape == (UNITS, 2 * 12) and block.ffn_down.kernel.shape == (12, UNITS)


def compacted(inputs, mask):
    """Each row's unmasked steps, moved to the front; the rest zeros."""
    out = np.zeros_like(inputs)
    for row in range(inputs.shape[0]):
        kept = inputs[row, mask[row]]
        out[row, :len(kept)] = kept
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_masked_steps_are_skipped(kind):
    """A masked sequence gives the outputs and states of the sequence with its masked steps removed."""
    block = make_block(kind)
    inputs = random_inputs()
    mask = np.array([[False, False, True, True, False, True, True], [True, False, True, True, True, False, False]])
    outputs, *states = numpy_of(block(inputs, mask=mask))
    for row in range(BATCH):
        kept = int(mask[row].sum())
        alone, *alone_states = numpy_of(block(compacted(inputs, mask)[row:row + 1, :kept]))
        np.testing.assert_allclose(outputs[row, mask[row]], alone[0], atol=1e-5, rtol=1e-4)
        np.testing.assert_allclose(outputs[row, ~mask[row]], 0.0)
        assert_close_lists([state[row:row + 1] for state in states], alone_states)


@pytest.mark.parametrize("kind", KINDS)
def test_causality(kind):
    block = make_block(kind)
    inputs = random_inputs()
    changed = inputs.copy()
    changed[:, 4] += 3.0
    before, after = (ops.convert_to_numpy(block(x)[0]) for x in (inputs, changed))
    np.testing.assert_allclose(after[:, :4], before[:, :4], atol=1e-6)
    assert np.abs(after[:, 4:] - before[:, 4:]).max() > 1e-3


@pytest.mark.keras_plumbing
@pytest.mark.parametrize("kind", KINDS)
def test_layer_checks(kind, tmp_path):
    inputs = random_inputs()
    for kwargs in ({"return_sequences": True}, {"return_state": True}):
        options = {**kwargs, **(MLSTM_DEFAULTS if kind == "mlstm" else {})}
        outputs = check_layer(lambda: xlstm_block(kind, UNITS, num_heads=HEADS, **options), [inputs],
                              tmp_dir=str(tmp_path), atol=1e-4)
        first = outputs[0] if isinstance(outputs, list) else outputs
        assert first.shape == ((BATCH, STEPS, UNITS) if kwargs.get("return_sequences") else (BATCH, UNITS))


@pytest.mark.one_backend  # the blocks' gradients on JAX: the mLSTM and sLSTM gradient checks of their own files
def test_gradients_are_finite_and_nonzero():
    blocks = xlstm_stack("1:1", UNITS, 2, num_heads=HEADS, chunk_size=3)
    inputs = keras.Input((STEPS, FEATURES))
    hidden = inputs
    for block in blocks:
        hidden = block(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(optimizer=keras.optimizers.SGD(1e-2), loss="mse")
    x, y = random_inputs(), np.ones((BATCH, STEPS, 1), "float32")
    weights = [w for block in blocks for w in block.trainable_weights]
    before = [np.array(w) for w in weights]
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)
    names = [w.path for w, b in zip(weights, before) if not (np.isfinite(w).all() and not np.allclose(b, w))]
    assert not names, f"weights with zero or non-finite gradients: {names}"


@pytest.mark.keras_plumbing
def test_stack_save_and_load(tmp_path):
    inputs = keras.Input((None, FEATURES))
    hidden = inputs
    for block in xlstm_stack("1:1", UNITS, 3, num_heads=HEADS, chunk_size=3, name="xlstm"):
        hidden = block(hidden)
    model = keras.Model(inputs, keras.layers.LayerNormalization(name="post_blocks_norm")(hidden))
    x = random_inputs()
    path = str(tmp_path / "stack.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(ops.convert_to_numpy(reloaded(x)), ops.convert_to_numpy(model(x)), atol=1e-6)
    assert [layer.name for layer in reloaded.layers[1:4]] == ["xlstm_0", "xlstm_1", "xlstm_2"]


@pytest.mark.parametrize("kind", KINDS)
def test_stateful_carries_across_batches(kind):
    reference = make_block(kind)
    block = xlstm_block(kind, UNITS, num_heads=HEADS, stateful=True, return_sequences=True,
                        **(MLSTM_DEFAULTS if kind == "mlstm" else {}))
    block.build((BATCH, None, FEATURES))
    for weight, value in zip(block.weights, reference.weights):
        weight.assign(value)
    inputs = random_inputs()
    whole = ops.convert_to_numpy(reference(inputs)[0])
    parts = [ops.convert_to_numpy(block(inputs[:, :4])), ops.convert_to_numpy(block(inputs[:, 4:]))]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1e-5, rtol=1e-4)
    block.reset_state()
    np.testing.assert_allclose(ops.convert_to_numpy(block(inputs[:, :4])), whole[:, :4], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_go_backwards(kind):
    block = make_block(kind)
    backwards = make_block(kind, go_backwards=True)
    inputs = random_inputs()
    np.testing.assert_allclose(ops.convert_to_numpy(backwards(inputs)[0]),
                               ops.convert_to_numpy(block(inputs[:, ::-1])[0]), atol=1e-6)


@pytest.mark.keras_plumbing
@pytest.mark.parametrize("kind", KINDS)
def test_mixed_precision(kind):
    """bfloat16 compute (the states of an sLSTM block in its cell's dtype): close to float32, scan = step."""
    block = make_block(kind)
    mixed = xlstm_block(kind, UNITS, num_heads=HEADS, return_sequences=True, return_state=True,
                        dtype="mixed_bfloat16", **(MLSTM_DEFAULTS if kind == "mlstm" else {}))
    mixed.build((BATCH, None, FEATURES))
    for weight, value in zip(mixed.weights, block.weights):
        weight.assign(value)
    inputs = random_inputs(steps=4)
    outputs, *states = mixed(inputs)
    assert outputs.dtype == "bfloat16" and all(state.dtype == "bfloat16" for state in states)
    as_float = ops.convert_to_numpy(ops.cast(outputs, "float32"))
    np.testing.assert_allclose(as_float, ops.convert_to_numpy(block(inputs)[0]), atol=0.1, rtol=0.05)
    stepped, _ = step_through(mixed, inputs, mixed.initial_state(BATCH))
    np.testing.assert_allclose(stepped.astype("float32"), as_float, atol=0.05, rtol=0.05)


def test_stack_patterns():
    kinds = {MLSTMBlock: "mlstm", SLSTMBlock: "slstm"}
    assert [kinds[type(b)] for b in xlstm_stack("1:1", UNITS, 4, num_heads=HEADS)] == ["mlstm", "slstm"] * 2
    stack = xlstm_stack("7:1", UNITS, 10, num_heads=HEADS, projection_factor=1.5, ffn_factor=2.0)
    assert [kinds[type(b)] for b in stack] == ["mlstm"] * 7 + ["slstm"] + ["mlstm"] * 2
    assert stack[0].projection_factor == 1.5 and stack[7].ffn_factor == 2.0
    assert all(block.return_sequences for block in stack)
    assert [kinds[type(b)] for b in xlstm_stack("0:1", UNITS, 2, num_heads=HEADS)] == ["slstm", "slstm"]


@pytest.mark.keras_plumbing
@pytest.mark.parametrize("pattern", ["1-1", "0:0", "a:1", "1:1:1", 7, ""])
def test_bad_patterns(pattern):
    with pytest.raises(ValueError, match="`pattern`"):
        xlstm_stack(pattern, UNITS, 2)


@pytest.mark.keras_plumbing
def test_bad_arguments():
    with pytest.raises(ValueError, match=r"`kind`.*'gru'.*\['mlstm', 'slstm'\]"):
        xlstm_block("gru", UNITS)
    with pytest.raises(ValueError, match="`num_blocks`"):
        xlstm_stack("1:1", UNITS, 0)
    with pytest.raises(ValueError, match="`num_heads`"):
        MLSTMBlock(UNITS, num_heads=3)
    with pytest.raises(ValueError, match="`num_heads`"):
        SLSTMBlock(UNITS, num_heads=3)
    with pytest.raises(ValueError, match="`conv_kernel_size`"):
        MLSTMBlock(UNITS, conv_kernel_size=0)
    with pytest.raises(ValueError, match="`projection_factor`"):
        MLSTMBlock(UNITS, projection_factor=-1.0)
    with pytest.raises(ValueError, match="`ffn_factor`"):
        SLSTMBlock(UNITS, ffn_factor=0)


@pytest.mark.keras_plumbing
def test_config_round_trip():
    for block in (MLSTMBlock(UNITS, num_heads=2, projection_factor=1.5, conv_kernel_size=3, chunk_size=5,
                             mode="parallel", return_state=True, name="m"),
                  SLSTMBlock(UNITS, num_heads=2, ffn_factor=2.0, go_backwards=True, name="s")):
        config = block.get_config()
        assert type(block).from_config(config).get_config() == config
        assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(block)).get_config() == config


@pytest.mark.keras_plumbing
def test_docstring_example():
    results = doctest.testmod(xlstm, raise_on_error=False)
    assert results.attempted > 0 and results.failed == 0
