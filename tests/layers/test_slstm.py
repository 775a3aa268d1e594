"""The sLSTM variant of GatedLSTM (Beck et al. 2024, xLSTM) against float64 NumPy references.

Two references written from the equations (not from the layer's code): the unstabilised ones
(`i = exp(ĩ)`, `h = o c / n`) and the stabilised ones with the state `m`; the recurrent kernel is
read head by head in its documented layout. Then the layout itself, gradients against finite
differences, Keras' APIs (save/load, Bidirectional, RNN(cell), stateful) and the errors.
"""

import doctest

import keras
import numpy as np
import pytest

from layer_checks import assert_gradient_matches
from layer_checks import check_layer
from lstm_keras.layers import GatedLSTM
from lstm_keras.layers import GatedLSTMCell
from lstm_keras.layers import VARIANTS
from lstm_keras.layers import gated_lstm
from lstm_keras.layers import gated_lstm_cell
from lstm_keras.layers import gating

BATCH, STEPS, FEATURES, UNITS = 3, 6, 4, 8


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def random_inputs(seed=0, shape=(BATCH, STEPS, FEATURES)):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def right_padded_mask():
    mask = np.ones((BATCH, STEPS), bool)
    mask[0, 4:] = False
    mask[2, 2:] = False
    return mask


def random_initial_state(seed=4, batch=BATCH, units=UNITS):
    """[h, c, n, m] in the layer's (stabilised) form: n > 0."""
    rng = np.random.default_rng(seed)
    h = rng.uniform(-0.5, 0.5, (batch, units))
    c = rng.normal(0.0, 1.0, (batch, units))
    n = rng.uniform(0.5, 2.0, (batch, units))
    m = rng.normal(0.0, 1.0, (batch, units))
    return [s.astype("float32") for s in (h, c, n, m)]


def build(num_heads=2, forget="sigmoid", seed=1, units=UNITS, **options):
    layer = GatedLSTM(units, variant="slstm", num_heads=num_heads, forget_gate_activation=forget,
                      return_sequences=True, return_state=True, **options)
    layer(random_inputs(shape=(BATCH, STEPS, FEATURES)))
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0.0, 0.5, tuple(w.shape)).astype("float32") for w in layer.weights])
    return layer


def weights(layer):
    cell = layer.cell
    return [np.asarray(w, np.float64) for w in (cell.kernel, cell.recurrent_kernel, cell.bias)]


def pre_activations(x_t, h, kernel, recurrent_kernel, bias):
    """ĩ, f̃, z̃, õ (each (batch, units)); head k of the recurrent kernel maps h[k d:(k+1) d] to
    its columns [i_k, f_k, z_k, o_k], each d wide."""
    heads, d, _ = recurrent_kernel.shape
    units = heads * d
    pre = x_t @ kernel + bias  # (batch, 4 * units): blocks input, forget, candidate, output
    gates = [pre[:, b * units:(b + 1) * units].copy() for b in range(4)]
    for k in range(heads):
        head = h[:, k * d:(k + 1) * d] @ recurrent_kernel[k]  # (batch, 4 * d)
        for b in range(4):
            gates[b][:, k * d:(k + 1) * d] += head[:, b * d:(b + 1) * d]
    return gates


def log_forget(f_pre, forget):
    return f_pre if forget == "exp" else -np.logaddexp(0.0, -f_pre)


def unstabilised(x, kernel, recurrent_kernel, bias, forget, mask=None, initial_state=None):
    """The sLSTM equations as written (eqs. 8-13), float64: returns outputs, h, c, n (true scale)."""
    batch, steps, _ = x.shape
    units = kernel.shape[1] // 4
    if initial_state is None:
        h, c, n = (np.zeros((batch, units)) for _ in range(3))
    else:
        h0, c0, n0, m0 = (np.asarray(s, np.float64) for s in initial_state)
        h, c, n = h0, c0 * np.exp(m0), n0 * np.exp(m0)  # the layer's states are scaled by exp(-m)
    outputs = []
    for t in range(steps):
        i_pre, f_pre, z_pre, o_pre = pre_activations(x[:, t], h, kernel, recurrent_kernel, bias)
        i = np.exp(i_pre)
        f = np.exp(log_forget(f_pre, forget))
        c_new = f * c + i * np.tanh(z_pre)
        n_new = f * n + i
        h_new = sigmoid(o_pre) * c_new / n_new
        keep = np.ones((batch, 1), bool) if mask is None else mask[:, t:t + 1]
        h, c, n = (np.where(keep, new, old) for new, old in ((h_new, h), (c_new, c), (n_new, n)))
        outputs.append(h)
    return np.stack(outputs, 1), h, c, n


def stabilised(x, kernel, recurrent_kernel, bias, forget, mask=None):
    """The stabilised equations (eqs. 15-17) from a zero state, float64: outputs, h, c, n, m.

    As in NX-AI/xlstm's vanilla sLSTM, an empty memory (n = 0) starts from m = ĩ.
    """
    batch, steps, _ = x.shape
    units = kernel.shape[1] // 4
    h, c, n, m = (np.zeros((batch, units)) for _ in range(4))
    outputs = []
    for t in range(steps):
        i_pre, f_pre, z_pre, o_pre = pre_activations(x[:, t], h, kernel, recurrent_kernel, bias)
        log_f = log_forget(f_pre, forget)
        m_new = np.where(n == 0.0, i_pre, np.maximum(log_f + m, i_pre))
        i = np.exp(i_pre - m_new)
        f = np.where(n == 0.0, 0.0, np.exp(np.minimum(log_f + m - m_new, 0.0)))
        c_new = f * c + i * np.tanh(z_pre)
        n_new = f * n + i
        h_new = sigmoid(o_pre) * c_new / n_new
        keep = np.ones((batch, 1), bool) if mask is None else mask[:, t:t + 1]
        h, c, n, m = (np.where(keep, new, old) for new, old in ((h_new, h), (c_new, c), (n_new, n), (m_new, m)))
        outputs.append(h)
    return np.stack(outputs, 1), h, c, n, m


def run(layer, x, **kwargs):
    return [keras.ops.convert_to_numpy(v).astype(np.float64) for v in layer(x, **kwargs)]


@pytest.mark.parametrize("forget, num_heads, initial", [("sigmoid", 1, False), ("exp", 2, True), ("sigmoid", 4, True),
                                                        ("exp", 4, False)])
def test_matches_the_unstabilised_equations(forget, num_heads, initial):
    x, mask = random_inputs(), right_padded_mask()
    layer = build(num_heads, forget)
    state = random_initial_state() if initial else None
    outputs, h, c, n, m = run(layer, x, mask=mask, initial_state=state)
    expected, h_ref, c_ref, n_ref = unstabilised(x.astype(np.float64), *weights(layer), forget, mask, state)
    np.testing.assert_allclose(outputs, expected, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(h, h_ref, atol=1e-5, rtol=1e-5)
    # The states are the true c and n scaled by exp(-m): compare relatively.
    np.testing.assert_allclose(c * np.exp(m), c_ref, rtol=1e-5, atol=1e-5 * np.abs(c_ref).max())
    np.testing.assert_allclose(n * np.exp(m), n_ref, rtol=1e-5)
    # Row 2 is masked from step 2 on: its states are those after step 1.
    _, h_2, c_2, n_2 = unstabilised(x[2:, :2].astype(np.float64), *weights(layer), forget, None,
                                    None if state is None else [s[2:] for s in state])
    np.testing.assert_allclose(n[2] * np.exp(m[2]), n_2[0], rtol=1e-5)


@pytest.mark.parametrize("forget", ["sigmoid", "exp"])
@pytest.mark.parametrize("input_bias", [120.0, -200.0])
def test_extreme_input_gates_stay_finite_and_match_the_stabilised_equations(forget, input_bias):
    x = random_inputs(seed=2)
    layer = build(2, forget)
    bias = np.asarray(layer.cell.bias).copy()
    bias[:UNITS] += input_bias  # ĩ about 120 (exp overflows float32) or -200 (exp underflows)
    layer.cell.bias.assign(bias)
    # Zero initial state and masked first steps (left padding), one row masked throughout.
    mask = np.ones((BATCH, STEPS), bool)
    mask[0, :2] = False
    mask[1, :] = False
    with np.errstate(over="ignore"):
        assert input_bias < 0 or np.isinf(np.exp(np.float32(input_bias)))
    outputs, h, c, n, m = run(layer, x, mask=mask)
    for value in (outputs, h, c, n, m):
        assert np.isfinite(value).all()
    expected, h_ref, c_ref, n_ref, m_ref = stabilised(x.astype(np.float64), *weights(layer), forget, mask)
    np.testing.assert_allclose(outputs, expected, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(m, m_ref, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(c, c_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(n, n_ref, rtol=1e-4, atol=1e-5)
    # The stabilised reference gives exactly the unstabilised outputs (float64 holds exp(±200)).
    np.testing.assert_allclose(expected[0, 2:], unstabilised(x[:1, 2:].astype(np.float64), *weights(layer),
                                                             forget)[0][0], atol=1e-10)
    np.testing.assert_array_equal(outputs[1], 0.0)


def test_recurrent_kernel_mixes_memory_only_inside_heads():
    heads, d = 2, UNITS // 2
    x = random_inputs(seed=3)
    layer = build(heads)
    recurrent = np.zeros((heads, d, 4 * d), "float32")
    layer.cell.recurrent_kernel.assign(recurrent)
    without = run(layer, x)[0]
    recurrent[0] = np.random.default_rng(5).normal(0.0, 1.0, (d, 4 * d))
    layer.cell.recurrent_kernel.assign(recurrent)
    with_head_0 = run(layer, x)[0]
    np.testing.assert_array_equal(with_head_0[..., d:], without[..., d:])  # head 1's units untouched
    assert np.abs(with_head_0[:, 1:, :d] - without[:, 1:, :d]).min() > 0.0  # head 0's units all changed
    # The block-diagonal matrix in the global layout: R[k, j, b d + e] at row k d + j, column b units + k d + e.
    recurrent = np.random.default_rng(6).normal(size=(heads, d, 4 * d)).astype("float32")
    layer.cell.recurrent_kernel.assign(recurrent)
    expected = np.zeros((UNITS, 4 * UNITS), "float32")
    for k in range(heads):
        for b in range(4):
            expected[k * d:(k + 1) * d, b * UNITS + k * d:b * UNITS + (k + 1) * d] = recurrent[k, :, b * d:(b + 1) * d]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.cell.recurrent_matrix()), expected)


def loss_and_gradients(layer, inputs, probe, mask):
    """sum(outputs * probe) and its gradients w.r.t. the inputs and the recurrent kernel."""
    variables = layer.trainable_variables
    index = [v.path for v in variables].index(layer.cell.recurrent_kernel.path)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        inputs = tf.constant(inputs)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = keras.ops.sum(layer(inputs, mask=mask)[0] * probe)
        gradients = tape.gradient(loss, [inputs, variables[index]])
        return float(loss), [np.asarray(g) for g in gradients]
    if keras.backend.backend() == "jax":
        import jax

        fixed = [v.value for v in layer.non_trainable_variables]

        def loss(x, trainable):
            outputs, _ = layer.stateless_call(trainable, fixed, x, mask=mask)
            return keras.ops.sum(outputs[0] * probe)

        value, (d_inputs, d_trainable) = jax.value_and_grad(loss, argnums=(0, 1))(
            inputs, [v.value for v in variables])
        return float(value), [np.asarray(d_inputs), np.asarray(d_trainable[index])]
    pytest.skip(f"no autodiff helper for backend {keras.backend.backend()}")


@pytest.mark.parametrize("forget", ["sigmoid", "exp"])
def test_gradients_against_finite_differences(forget):
    batch, steps, units = 2, 4, 4
    x = random_inputs(seed=7, shape=(batch, steps, 3))
    mask = np.array([[True] * steps, [True] * (steps - 1) + [False]])
    layer = GatedLSTM(units, variant="slstm", num_heads=2, forget_gate_activation=forget, return_sequences=True,
                      return_state=True)
    layer(x)
    rng = np.random.default_rng(8)
    layer.set_weights([rng.normal(0.0, 0.5, tuple(w.shape)).astype("float32") for w in layer.weights])
    probe = rng.normal(size=(batch, steps, units))
    kernel, recurrent, bias = weights(layer)

    def reference_loss(inputs, recurrent_kernel):
        return float((unstabilised(inputs, kernel, recurrent_kernel, bias, forget, mask)[0] * probe).sum())

    loss, (d_inputs, d_recurrent) = loss_and_gradients(layer, x, probe.astype("float32"), mask)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(loss, reference_loss(x64, recurrent), rtol=1e-5, atol=1e-5)
    assert_gradient_matches(d_inputs, lambda a: reference_loss(a, recurrent), x64, eps=1e-6)
    assert_gradient_matches(d_recurrent, lambda a: reference_loss(x64, a), recurrent, eps=1e-6)


@pytest.mark.keras_plumbing
def test_layer_contract_and_round_trip(tmp_path):
    options = {"variant": "slstm", "num_heads": 2, "forget_gate_activation": "exp", "dropout": 0.1,
               "kernel_regularizer": "l2", "seed": 0}
    check_layer(lambda: GatedLSTM(UNITS, **options), [random_inputs()], tmp_dir=tmp_path)
    layer = GatedLSTM(UNITS, **options)
    assert layer.num_heads == 2 and layer.forget_gate_activation == "exp" and not layer.fused_kernel_compatible
    assert [w.name for w in layer.cell.weights] == []
    layer(random_inputs())
    shapes = {w.name: tuple(w.shape) for w in layer.weights}
    assert shapes == {"kernel": (FEATURES, 4 * UNITS), "recurrent_kernel": (2, 4, 16), "bias": (4 * UNITS,)}
    cell = GatedLSTMCell(UNITS, variant="slstm", num_heads=4, use_bias=False)
    assert GatedLSTMCell.from_config(cell.get_config()).get_config() == cell.get_config()
    assert cell.get_config()["forget_gate_activation"] == "sigmoid"


def test_bidirectional_and_rnn_of_the_cell(tmp_path):
    x, mask = random_inputs(), right_padded_mask()
    layer = build(4, "exp")
    cell_layer = keras.layers.RNN(GatedLSTMCell(UNITS, variant="slstm", num_heads=4, forget_gate_activation="exp"),
                                  return_sequences=True, return_state=True)
    cell_layer(x)
    cell_layer.set_weights(layer.get_weights())
    for got, expected in zip(run(cell_layer, x, mask=mask), run(layer, x, mask=mask)):
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)

    both = keras.layers.Bidirectional(GatedLSTM(UNITS, variant="slstm", num_heads=2, return_sequences=True))
    inputs = keras.Input((STEPS, FEATURES))
    model = keras.Model(inputs, both(inputs))
    out = keras.ops.convert_to_numpy(model(x))
    backward = unstabilised(x[:, ::-1].astype(np.float64), *weights(both.backward_layer), "sigmoid")[0]
    np.testing.assert_allclose(out[..., UNITS:], backward[:, ::-1], atol=1e-5)
    model.save(tmp_path / "bi.keras")
    reloaded = keras.models.load_model(tmp_path / "bi.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(reloaded(x)), out, atol=1e-6)


def test_stateful_carries_all_four_states():
    x = random_inputs()
    whole = build(2)
    stateful = GatedLSTM(UNITS, variant="slstm", num_heads=2, return_sequences=True, stateful=True)
    stateful(x[:, :3])
    stateful.set_weights(whole.get_weights())
    stateful.reset_state()
    first = keras.ops.convert_to_numpy(stateful(x[:, :3]))
    second = keras.ops.convert_to_numpy(stateful(x[:, 3:]))
    np.testing.assert_allclose(np.concatenate([first, second], 1), run(whole, x)[0], atol=1e-5)
    assert len(stateful.states) == 4


def test_dropout_is_active_in_training_only():
    x = random_inputs()
    layer = build(2, dropout=0.5, recurrent_dropout=0.3, seed=5)
    plain = run(layer, x)[0]
    trained = run(layer, x, training=True)[0]
    assert np.isfinite(trained).all() and not np.allclose(trained, plain, atol=1e-3)


@pytest.mark.keras_plumbing
def test_slstm_is_a_cell_variant_kept_out_of_the_classic_presets():
    assert "slstm" in gating.CELL_VARIANTS and "slstm" not in VARIANTS
    variant = gating.CELL_VARIANTS["slstm"]
    assert variant.description and "2405.04517" in variant.reference


@pytest.mark.keras_plumbing
@pytest.mark.parametrize(
    "options, words",
    [
        ({"variant": "slstm", "num_heads": 3}, ["num_heads", "3", "divides units"]),
        ({"variant": "slstm", "num_heads": 0}, ["num_heads", "0", "positive int"]),
        ({"variant": "slstm", "forget_gate_activation": "tanh"}, ["forget_gate_activation", "tanh", "exp"]),
        ({"num_heads": 2}, ["num_heads", "2", "variant='slstm'"]),
        ({"variant": "cifg", "forget_gate_activation": "exp"}, ["forget_gate_activation", "exp", "variant='slstm'"]),
        ({"variant": "slstm", "peepholes": True}, ["peepholes", "True", "allowed: []"]),
        ({"variant": "slstm", "forget_gate": "coupled"}, ["forget_gate", "coupled", "'learned'"]),
        ({"variant": "slstm", "input_gate": 0.5}, ["input_gate", "0.5", "'learned'"]),
        ({"variant": "slstm", "output_gate": "none"}, ["output_gate", "none", "'learned'"]),
        ({"variant": "slstm", "full_gate_recurrence": True}, ["full_gate_recurrence", "True", "False"]),
        ({"variant": "slstm", "time_gate": True}, ["time_gate", "True", "False"]),
        ({"variant": "slstm", "zoneout_cell": 0.2}, ["zoneout_cell", "0.2", "0.0"]),
        ({"variant": "slstm", "layer_norm": True}, ["layer_norm", "True", "False"]),
        ({"variant": "slstm", "output_activation": "tanh"}, ["output_activation", "tanh", "'linear'"]),
        ({"variant": "slstm", "recurrent_activation": "hard_sigmoid"}, ["recurrent_activation", "hard_sigmoid"]),
    ],
)
def test_bad_options_raise_clear_errors(options, words):
    with pytest.raises(ValueError) as error:
        GatedLSTM(UNITS, **options)
    for word in words:
        assert word in str(error.value), f"{word!r} not in: {error.value}"


@pytest.mark.keras_plumbing
@pytest.mark.parametrize("module", [gating, gated_lstm_cell, gated_lstm])
def test_docstring_examples(module):
    results = doctest.testmod(module, extraglobs={"keras": keras}, raise_on_error=False)
    assert results.attempted > 0 and results.failed == 0
