"""GatedLSTM / GatedLSTMCell against the independent NumPy equations, Keras' LSTM and Keras' APIs."""

import contextlib

import keras
import numpy as np
import pytest
from keras.src import backend as keras_backend

from layer_checks import check_layer
from lstm_keras.layers import VARIANTS
from lstm_keras.layers import GatedLSTM
from lstm_keras.layers import GatedLSTMCell
from numpy_lstm import run_lstm
from numpy_lstm import weights_by_name

BATCH, STEPS, FEATURES, UNITS = 3, 6, 4, 5

# Every preset, plus options and combinations beyond the presets.
CONFIGS = {f"variant={v}": {"variant": v} for v in VARIANTS} | {
    "fixed_gates": {"input_gate": 0.7, "output_gate": 0.25, "forget_gate": 1.0},
    "peephole_forget_only": {"peepholes": ["forget"]},
    "cifg_peephole": {"variant": "cifg", "peepholes": True},
    "nig_fgr": {"variant": "nig", "full_gate_recurrence": True},
    "relu_candidate_linear_output": {"activation": "relu", "output_activation": "linear"},
    "layer_norm": {"layer_norm": True},
    "layer_norm_peephole_cifg": {"layer_norm": True, "peepholes": True, "forget_gate": "coupled"},
    "no_bias": {"use_bias": False, "variant": "nog"},
    "phased_zoneout": {"time_gate": True, "zoneout_cell": 0.3},
}


def random_inputs(seed=0):
    return np.random.default_rng(seed).normal(size=(BATCH, STEPS, FEATURES)).astype("float32")


def masks():
    right = np.ones((BATCH, STEPS), bool)
    right[0, 4:] = False
    right[2, 2:] = False
    left = np.ones((BATCH, STEPS), bool)
    left[1, :3] = False
    return {"no_mask": None, "right_padded": right, "left_padded": left}


def randomize(layer, seed=1):
    """Gives every weight a non-trivial random value (periods, shifts and ratios in useful ranges)."""
    rng = np.random.default_rng(seed)
    values = []
    for w in layer.weights:
        shape = tuple(w.shape)
        if w.name == "time_period":
            values.append(rng.uniform(2.0, 6.0, shape))
        elif w.name == "time_shift":
            values.append(rng.uniform(0.0, 3.0, shape))
        elif w.name == "time_ratio":
            values.append(rng.uniform(0.3, 0.9, shape))
        elif w.name.endswith("_gain"):
            values.append(rng.uniform(0.5, 1.5, shape))
        else:
            values.append(rng.normal(0.0, 0.5, shape))
    layer.set_weights([v.astype("float32") for v in values])


def build(options, **layer_args):
    layer = GatedLSTM(UNITS, return_sequences=True, return_state=True, **options, **layer_args)
    layer(random_inputs())
    randomize(layer)
    return layer


# Every mask with both directions on TensorFlow; on the other backends, whose eager loops compile
# once per call, two combinations that still cover masks, left padding and go_backwards.
MASK_DIRECTIONS = [(m, d) for m in masks() for d in (False, True)]
if keras.backend.backend() != "tensorflow":
    MASK_DIRECTIONS = [("right_padded", False), ("left_padded", True)]


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("mask_name, go_backwards", MASK_DIRECTIONS)
def test_forward_matches_numpy_equations(name, mask_name, go_backwards):
    layer = build(CONFIGS[name], go_backwards=go_backwards)
    x = random_inputs()
    mask = masks()[mask_name]
    outputs, h, c, *_ = layer(x, mask=mask)
    expected, h_ref, c_ref = run_lstm(
        x.astype(np.float64), weights_by_name(layer), layer.cell.get_config(), mask=mask, go_backwards=go_backwards
    )
    np.testing.assert_allclose(np.asarray(outputs), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(h), h_ref, atol=1e-5)
    np.testing.assert_allclose(np.asarray(c), c_ref, atol=1e-5)


def float64_scope():
    """Where float64 tensors exist: always on TensorFlow and Torch, with x64 enabled on JAX."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.enable_x64(True)
    return contextlib.nullcontext()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_float64_layer_keeps_float64_states(name):
    # Off TensorFlow, Keras activations return float32 for float64 inputs; the loop's carry must
    # keep the layer's dtype anyway (a removed output gate once let h fall to float32 on JAX).
    with float64_scope():
        layer = build(CONFIGS[name], dtype="float64")
        x = random_inputs().astype(np.float64)
        outputs, *states = layer(x, mask=masks()["right_padded"])
        dtypes = [keras.backend.standardize_dtype(t.dtype) for t in [outputs, *states]]
        assert dtypes == ["float64"] * len(dtypes)
        expected, _, _ = run_lstm(x, weights_by_name(layer), layer.cell.get_config(), mask=masks()["right_padded"])
        np.testing.assert_allclose(np.asarray(outputs), expected, atol=1e-5)


# The variants after the first on TensorFlow only: the same Python code runs on JAX.
@pytest.mark.parametrize("name", ["variant=vanilla"] + [
    pytest.param(name, marks=pytest.mark.one_backend)
    for name in ("variant=cifg", "variant=nfg", "fixed_gates", "variant=phased", "layer_norm_peephole_cifg",
                 "nig_fgr")])
def test_gate_activations_are_the_equations_gates(name):
    layer = build(CONFIGS[name])
    x = random_inputs()
    gates = {k: np.asarray(v) for k, v in layer.gate_activations(x).items()}
    trace = {}
    expected, _, _ = run_lstm(x.astype(np.float64), weights_by_name(layer), layer.cell.get_config(), trace=trace)
    for gate in ("input", "forget", "output", "candidate"):
        np.testing.assert_allclose(gates[gate], np.stack(trace[gate], axis=1), atol=1e-5, err_msg=gate)
    np.testing.assert_allclose(gates["hidden"], expected, atol=1e-5)
    np.testing.assert_allclose(gates["hidden"], np.asarray(layer(x)[0]), atol=1e-5)


def test_slstm_gate_activations_rebuild_its_states():
    layer = build({"variant": "slstm"})
    x = random_inputs()
    gates = {k: np.asarray(v, np.float64) for k, v in layer.gate_activations(x).items()}
    np.testing.assert_allclose(gates["hidden"], np.asarray(layer(x)[0]), atol=1e-5)
    c = np.zeros((BATCH, UNITS))
    for t in range(STEPS):  # c_t = f'_t c_{t-1} + i'_t g_t with the stabilised gates
        c = gates["forget"][:, t] * c + gates["input"][:, t] * gates["candidate"][:, t]
        np.testing.assert_allclose(gates["cell"][:, t], c, rtol=1e-5, atol=1e-6)


def test_time_gate_uses_given_timestamps():
    layer = build({"variant": "phased"})
    x = random_inputs()
    times = np.cumsum(np.random.default_rng(3).uniform(0.1, 2.0, (BATCH, STEPS)), axis=1).astype("float32")
    outputs, *_ = layer(x, timestamps=times)
    expected, _, _ = run_lstm(x.astype(np.float64), weights_by_name(layer), layer.cell.get_config(), times=times)
    np.testing.assert_allclose(np.asarray(outputs), expected, atol=1e-5)
    default, *_ = layer(x)
    assert not np.allclose(np.asarray(default), np.asarray(outputs)), "timestamps were ignored"


@pytest.mark.parametrize("name", ["variant=vanilla", "variant=fgr", "variant=phased", "layer_norm_peephole_cifg"])
def test_cell_in_keras_rnn_matches_layer(name):
    layer = build(CONFIGS[name])
    cell = GatedLSTMCell(UNITS, **CONFIGS[name])
    rnn = keras.layers.RNN(cell, return_sequences=True)
    x = random_inputs()
    rnn(x)
    rnn.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(rnn(x)), np.asarray(layer(x)[0]), atol=1e-5)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mask_name", list(masks()))
def test_vanilla_exchanges_weights_with_keras_lstm(go_backwards, mask_name):
    x = random_inputs()
    mask = masks()[mask_name]
    reference = keras.layers.LSTM(UNITS, return_sequences=True, return_state=True, go_backwards=go_backwards)
    reference(x)
    gated = GatedLSTM(UNITS, variant="vanilla", return_sequences=True, return_state=True, go_backwards=go_backwards)
    gated(x)
    # Keras -> GatedLSTM.
    gated.set_weights(reference.get_weights())
    for a, b in zip(gated(x, mask=mask), reference(x, mask=mask)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    # GatedLSTM -> Keras.
    randomize(gated, seed=7)
    reference.set_weights(gated.get_weights())
    for a, b in zip(gated(x, mask=mask), reference(x, mask=mask)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    assert [w.name for w in gated.weights] == [w.name for w in reference.weights]


class _SpyOnFusedKernel:
    """Records the calls of the backend's fused LSTM (the function keras.layers.LSTM calls)."""

    def __init__(self, monkeypatch):
        self.calls = []
        real = keras_backend.lstm

        def spy(*args, **kwargs):
            self.calls.append(kwargs)
            return real(*args, **kwargs)

        monkeypatch.setattr(keras_backend, "lstm", spy)


def test_standard_configuration_takes_the_fused_kernel_path(monkeypatch):
    spy = _SpyOnFusedKernel(monkeypatch)
    x = random_inputs()
    keras.layers.LSTM(UNITS)(x)
    assert len(spy.calls) == 1, "keras.layers.LSTM should call the backend's fused kernel"
    gated = GatedLSTM(UNITS, variant="vanilla", dropout=0.1)
    gated(x, training=True)
    assert len(spy.calls) == 2, "the standard GatedLSTM must call the same fused kernel as keras.layers.LSTM"
    assert spy.calls[-1]["kernel"] is gated.cell.kernel
    assert spy.calls[-1]["recurrent_kernel"] is gated.cell.recurrent_kernel
    for options in ({"variant": "cifg"}, {"peepholes": True}, {"recurrent_dropout": 0.1}, {"layer_norm": True}):
        GatedLSTM(UNITS, **options)(x, training=True)
    assert len(spy.calls) == 2, "non-standard gating must not reach the fused kernel"


def test_fused_kernel_required_but_unavailable_is_a_clear_error():
    layer = GatedLSTM(UNITS, variant="cifg", use_cudnn=True)
    with pytest.raises(ValueError, match="use_cudnn=True"):
        layer(random_inputs())


# With the default 5% open ratio and periods up to 100, a 6-step sequence rarely opens a Phased
# LSTM unit twice, so its recurrent kernel may get no gradient: use a gate that opens often.
CONTRACT_OPTIONS = {"phased": {"time_gate_max_period": 4.0, "time_gate_ratio": 0.6}}


# The contract is Keras plumbing (config, saving, masks) plus numerics that test_forward_matches_numpy_equations
# checks on every backend: the JAX run keeps the vanilla variant only.
@pytest.mark.parametrize("variant", [v if v == "vanilla" else pytest.param(v, marks=pytest.mark.one_backend)
                                     for v in VARIANTS])
def test_layer_contract_and_round_trip(variant, tmp_path):
    x = random_inputs()
    options = CONTRACT_OPTIONS.get(variant, {})
    check_layer(lambda: GatedLSTM(UNITS, variant=variant, seed=0, **options), [x], tmp_dir=tmp_path)


def test_cell_config_round_trip():
    cell = GatedLSTMCell(UNITS, variant="peephole", output_gate=0.5, layer_norm=True, forget_bias_init="chrono",
                         chrono_max_length=40, kernel_regularizer="l2")
    clone = GatedLSTMCell.from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
    assert clone.peepholes == ["input", "forget"]


def test_bidirectional_matches_numpy_in_both_directions(tmp_path):
    x = random_inputs()
    layer = keras.layers.Bidirectional(GatedLSTM(UNITS, variant="cifg", peepholes=True, return_sequences=True))
    layer(x)
    randomize(layer.forward_layer, seed=2)
    randomize(layer.backward_layer, seed=3)
    mask = masks()["right_padded"]
    out = np.asarray(layer(x, mask=mask))
    fwd, _, _ = run_lstm(x.astype(np.float64), weights_by_name(layer.forward_layer),
                         layer.forward_layer.cell.get_config(), mask=mask, zero_output=True)
    bwd, _, _ = run_lstm(x.astype(np.float64), weights_by_name(layer.backward_layer),
                         layer.backward_layer.cell.get_config(), mask=mask, go_backwards=True,
                         zero_output=True)
    np.testing.assert_allclose(out[..., :UNITS], fwd, atol=1e-5)
    np.testing.assert_allclose(out[..., UNITS:], bwd[:, ::-1], atol=1e-5)
    inputs = keras.Input((STEPS, FEATURES))
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "bi.keras")
    reloaded = keras.models.load_model(tmp_path / "bi.keras")
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-6)


def test_embedding_mask_zero_is_respected():
    tokens = np.array([[3, 5, 2, 0, 0, 0], [4, 4, 1, 7, 2, 0]])
    embedding = keras.layers.Embedding(10, FEATURES, mask_zero=True)
    layer = GatedLSTM(UNITS, variant="nfg", return_sequences=True)
    out = layer(embedding(tokens))
    randomize(layer)
    out = np.asarray(layer(embedding(tokens)))
    vectors = np.asarray(embedding(tokens), dtype=np.float64)
    expected, _, _ = run_lstm(vectors, weights_by_name(layer), layer.cell.get_config(), mask=tokens != 0)
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("variant", ["vanilla", "phased"])
def test_stateful_continues_across_batches(variant):
    x = random_inputs()
    whole = build({"variant": variant})
    stateful = GatedLSTM(UNITS, variant=variant, return_sequences=True, stateful=True)
    stateful(x[:, :3])
    stateful.set_weights(whole.get_weights())
    stateful.reset_state()
    first = np.asarray(stateful(x[:, :3]))
    second = np.asarray(stateful(x[:, 3:]))
    expected = np.asarray(whole(x)[0])
    np.testing.assert_allclose(np.concatenate([first, second], 1), expected, atol=1e-5)
    stateful.reset_state()
    np.testing.assert_allclose(np.asarray(stateful(x[:, :3])), first, atol=1e-6)


@pytest.mark.parametrize("which", ["zoneout_hidden", "zoneout_cell"])
def test_zoneout_keeps_previous_values_with_its_probability(which):
    rate = 0.4
    layer = GatedLSTM(32, return_sequences=True, return_state=True, seed=3, **{which: rate})
    x = np.random.default_rng(0).normal(size=(64, 20, FEATURES)).astype("float32")
    layer(x)
    randomize(layer)
    if which == "zoneout_hidden":
        h = np.asarray(layer(x, training=True)[0])  # (batch, time, units)
        kept = np.isclose(h[:, 1:], h[:, :-1], atol=0.0, rtol=0.0).mean()
    else:
        # With the cell state one step at a time: run step by step through the cell.
        cell = layer.cell
        states = cell.get_initial_state(64)
        kept_counts = []
        for t in range(20):
            _, new = cell(x[:, t], states, training=True)
            if t:
                kept_counts.append(np.mean(np.asarray(new[1]) == np.asarray(states[1])))
            states = new
        kept = float(np.mean(kept_counts))
    assert abs(kept - rate) < 0.03, f"{which}: kept {kept:.3f} of the units, expected about {rate}"


def test_chrono_and_unit_forget_bias_initialisation():
    layer = GatedLSTM(UNITS, forget_bias_init="chrono", chrono_max_length=50)
    layer(random_inputs())
    b_i, b_f, b_c, b_o = np.split(np.asarray(layer.cell.bias), 4)
    assert np.all(b_f >= 0.0) and np.all(b_f <= np.log(49.0) + 1e-6)
    np.testing.assert_allclose(b_i, -b_f)
    np.testing.assert_allclose(b_c, 0.0)
    cifg = GatedLSTM(UNITS, variant="cifg")
    cifg(random_inputs())
    b_i, b_c, b_o = np.split(np.asarray(cifg.cell.bias), 3)
    np.testing.assert_allclose(b_i, 0.0)
    default = GatedLSTM(UNITS)
    default(random_inputs())
    np.testing.assert_allclose(np.split(np.asarray(default.cell.bias), 4)[1], 1.0)


def test_variants_are_documented_and_explicit_options_override():
    for name, variant in VARIANTS.items():
        assert variant.description and variant.reference, name
    layer = GatedLSTM(UNITS, variant="peephole", peepholes=["input"])
    layer(random_inputs())
    assert [w.name for w in layer.weights if w.name.startswith("peephole")] == ["peephole_input"]
    assert GatedLSTM(UNITS, variant="nig", input_gate="learned").fused_kernel_compatible


@pytest.mark.parametrize(
    "options, words",
    [
        ({"input_gate": "sometimes"}, ["input_gate", "sometimes", "learned"]),
        ({"output_gate": 1.5}, ["output_gate", "1.5", "[0, 1]"]),
        ({"forget_gate": -0.1}, ["forget_gate", "-0.1"]),
        ({"input_gate": "coupled"}, ["input_gate", "coupled", "forget"]),
        ({"forget_gate": "coupled", "input_gate": "none"}, ["coupled", "input_gate='none'"]),
        ({"variant": "cifg", "input_gate": "none"}, ["coupled", "input_gate='none'"]),
        ({"variant": "nig", "peepholes": ["input"]}, ["peepholes", "input", "'none'"]),
        ({"peepholes": ["cell"]}, ["peepholes", "cell"]),
        ({"variant": "lstm2000"}, ["variant", "lstm2000", "vanilla"]),
        ({"zoneout_cell": 1.0}, ["zoneout_cell", "1.0", "[0, 1)"]),
        ({"dropout": 2}, ["dropout", "2"]),
        ({"forget_bias_init": "chrono"}, ["chrono_max_length"]),
        ({"forget_bias_init": "two"}, ["forget_bias_init", "two", "chrono"]),
        ({"input_gate": "none", "forget_gate": 0.5, "output_gate": "none", "full_gate_recurrence": True},
         ["full_gate_recurrence"]),
        ({"use_cudnn": "maybe"}, ["use_cudnn", "maybe"]),
    ],
)
def test_bad_options_raise_clear_errors(options, words):
    with pytest.raises(ValueError) as error:
        GatedLSTM(UNITS, **options)
    for word in words:
        assert word in str(error.value), f"{word!r} not in: {error.value}"


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4, 5)])
def test_inputs_that_are_not_rank_3_raise_clear_errors(shape):
    with pytest.raises(ValueError, match=r"rank 3 \(batch, time, features\).*" + re_shape(shape)):
        GatedLSTM(UNITS)(np.zeros(shape, "float32"))


def re_shape(shape):
    return r"\(" + r", ".join(str(s) for s in shape) + r"\)"


def test_units_must_be_positive():
    with pytest.raises(ValueError, match="units"):
        GatedLSTMCell(0)


@pytest.mark.parametrize("options", [{"dropout": 0.5}, {"recurrent_dropout": 0.5}, {"variant": "cifg", "dropout": 0.5}])
def test_dropout_is_active_in_training_only(options):
    x = random_inputs()
    plain = build({k: v for k, v in options.items() if k == "variant"})
    dropped = build(options, seed=5)
    dropped.set_weights(plain.get_weights())
    np.testing.assert_allclose(np.asarray(dropped(x)[0]), np.asarray(plain(x)[0]), atol=1e-6)
    trained = np.asarray(dropped(x, training=True)[0])
    assert np.all(np.isfinite(trained))
    assert not np.allclose(trained, np.asarray(plain(x)[0]), atol=1e-3), "dropout had no effect in training"
    # Same seed, same calls (Keras' RNN draws the masks on every call, inference included): same masks.
    again = build(options, seed=5)
    again.set_weights(plain.get_weights())
    again(x)
    np.testing.assert_allclose(np.asarray(again(x, training=True)[0]), trained, atol=1e-6)
