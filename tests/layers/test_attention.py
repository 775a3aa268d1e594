"""Tests of `LuongAttention` and `BahdanauAttention` against a NumPy implementation of the equations."""

import doctest

import keras
import numpy as np
import pytest
from layer_checks import check_layer

from lstm_keras.layers import attention
from lstm_keras.layers import bahdanau_attention
from lstm_keras.layers import luong_attention
from lstm_keras.layers import masking
from lstm_keras.layers.bahdanau_attention import BahdanauAttention
from lstm_keras.layers.luong_attention import LuongAttention

BATCH, TQ, TV, D, DV = 3, 4, 5, 6, 7

# Each kind of layer: a factory taking the query feature size (dot needs it equal to DV).
KINDS = {
    "dot": lambda: LuongAttention(score="dot"),
    "general": lambda: LuongAttention(score="general"),
    "concat": lambda: LuongAttention(score="concat"),
    "concat_units": lambda: LuongAttention(score="concat", units=3),
    "bahdanau": lambda: BahdanauAttention(units=3),
}


def query_dim(kind):
    return DV if kind == "dot" else D


def make_inputs(kind, one_step, seed=0):
    rng = np.random.default_rng(seed)
    shape = (BATCH, query_dim(kind)) if one_step else (BATCH, TQ, query_dim(kind))
    query = rng.normal(size=shape).astype("float32")
    values = rng.normal(size=(BATCH, TV, DV)).astype("float32")
    # Row 0 all real, row 1 padded after 3 steps, row 2 with holes.
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 1, 0, 1, 1]], dtype=bool)
    return query, values, mask


# ---- The NumPy reference ---------------------------------------------------------------------


def reference_scores(layer, query, values):
    """The scores `(batch, Tq, Tv)` of a many-step query, straight from the equations."""
    w = {v.name: np.array(v) for v in layer.weights}
    tq, tv = query.shape[1], values.shape[1]
    if isinstance(layer, BahdanauAttention):
        # v^T tanh(W1 q + W2 k)
        hidden = np.tanh((query @ w["query_kernel"])[:, :, None, :] + (values @ w["key_kernel"])[:, None, :, :])
        return hidden @ w["score_vector"]
    if layer.score == "dot":
        return np.einsum("bqd,bvd->bqv", query, values)
    if layer.score == "general":
        return np.einsum("bqd,de,bve->bqv", query, w["general_kernel"], values)
    # concat: v^T tanh(W [q; k]) with the pairs built explicitly.
    pairs = np.concatenate(
        [
            np.broadcast_to(query[:, :, None, :], (len(query), tq, tv, query.shape[-1])),
            np.broadcast_to(values[:, None, :, :], (len(query), tq, tv, values.shape[-1])),
        ],
        axis=-1,
    )
    return np.tanh(pairs @ w["concat_kernel"]) @ w["score_vector"]


def reference(layer, query, values, mask=None):
    """Context and weights, with masked steps at weight 0 and all-masked rows at zero weights."""
    one_step = query.ndim == 2
    q = query[:, None, :] if one_step else query
    scores = reference_scores(layer, q.astype("float64"), values.astype("float64"))
    if mask is not None:
        scores = np.where(mask[:, None, :], scores, -np.inf)
    top = scores.max(axis=-1, keepdims=True)
    exp = np.exp(scores - np.where(np.isfinite(top), top, 0.0))
    total = exp.sum(axis=-1, keepdims=True)
    weights = np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)
    context = weights @ values
    if one_step:
        return context[:, 0], weights[:, 0]
    return context, weights


def run(layer, query, values, mask=None):
    context, weights = layer(query, values, mask=mask, return_attention_scores=True)
    return keras.ops.convert_to_numpy(context), keras.ops.convert_to_numpy(weights)


# ---- Numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("one_step", [True, False], ids=["one_step", "many_steps"])
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "mask"])
def test_matches_numpy(kind, one_step, masked):
    layer = KINDS[kind]()
    query, values, mask = make_inputs(kind, one_step)
    mask = mask if masked else None
    context, weights = run(layer, query, values, mask)

    expected_context, expected_weights = reference(layer, query, values, mask)
    steps = (BATCH,) if one_step else (BATCH, TQ)
    assert context.shape == (*steps, DV)
    assert weights.shape == (*steps, TV)
    np.testing.assert_allclose(weights, expected_weights, atol=1e-5)
    np.testing.assert_allclose(context, expected_context, atol=1e-5)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    if masked:
        source_mask = mask if one_step else mask[:, None, :]
        assert np.all(weights[~np.broadcast_to(source_mask, weights.shape)] == 0.0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("one_step", [True, False], ids=["one_step", "many_steps"])
def test_precomputed_keys_give_the_same_outputs(kind, one_step):
    layer = KINDS[kind]()
    query, values, mask = make_inputs(kind, one_step)
    context, weights = run(layer, query, values, mask)
    keys = layer.project_keys(values)
    if kind in ("dot", "general"):
        assert keys is None  # no part of these scores depends on the source alone
    else:
        w = {v.name: keras.ops.convert_to_numpy(v) for v in layer.weights}
        key_kernel = w["key_kernel"] if kind == "bahdanau" else w["concat_kernel"][-DV:]
        np.testing.assert_allclose(keras.ops.convert_to_numpy(keys), values @ key_kernel, atol=1e-5)
    given = layer(query, values, mask=mask, return_attention_scores=True, keys=keys)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(given[0]), context, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(given[1]), weights, atol=1e-6)


def test_return_attention_scores_false_gives_the_context_alone():
    layer = LuongAttention(score="general")
    query, values, mask = make_inputs("general", one_step=False)
    context = layer(query, values, mask=mask)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(context), run(layer, query, values, mask)[0])


@pytest.mark.parametrize("kind", KINDS)
def test_all_masked_row_gives_zero_weights_and_context(kind):
    layer = KINDS[kind]()
    query, values, mask = make_inputs(kind, one_step=False)
    mask[1] = False
    context, weights = run(layer, query, values, mask)

    assert np.all(np.isfinite(context)) and np.all(np.isfinite(weights))
    assert np.all(weights[1] == 0.0) and np.all(context[1] == 0.0)
    # The other rows are untouched.
    np.testing.assert_allclose(weights.sum(axis=-1)[[0, 2]], 1.0, atol=1e-5)
    np.testing.assert_allclose(context, reference(layer, query, values, mask)[0], atol=1e-5)


def test_integer_mask_is_accepted():
    layer = LuongAttention(score="dot")
    query, values, mask = make_inputs("dot", one_step=True)
    as_ints = run(layer, query, values, mask.astype("int32"))[1]
    np.testing.assert_array_equal(as_ints, run(layer, query, values, mask)[1])


# ---- The Keras mask of `values` ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["general", "bahdanau"])
def test_keras_mask_of_values_is_used(kind):
    layer = KINDS[kind]()
    query, values, mask = make_inputs(kind, one_step=False)
    padded = np.where(mask[:, :, None], values, 0.0).astype("float32")
    masked_values = keras.layers.Masking(mask_value=0.0)(padded)  # carries `_keras_mask`

    np.testing.assert_allclose(run(layer, query, masked_values)[1], run(layer, query, padded, mask)[1])
    # An explicit mask wins over the Keras mask.
    everything = np.ones_like(mask)
    np.testing.assert_allclose(run(layer, query, masked_values, everything)[1], run(layer, query, padded)[1])


def test_keras_mask_from_embedding_through_an_encoder_in_a_model():
    tokens = keras.Input((TV,), dtype="int32")
    query = keras.Input((TQ, 4))
    encoded = keras.layers.LSTM(4, return_sequences=True)(keras.layers.Embedding(10, 4, mask_zero=True)(tokens))
    context, weights = BahdanauAttention(units=3)(query, encoded, return_attention_scores=True)
    model = keras.Model([tokens, query], [context, weights])

    ids = np.array([[3, 4, 5, 6, 7], [3, 4, 0, 0, 0], [0, 0, 0, 0, 0]], dtype="int32")
    _, got = model.predict([ids, np.ones((BATCH, TQ, 4), "float32")], verbose=0)
    assert got.shape == (BATCH, TQ, TV)
    assert np.all(got[1][:, 2:] == 0.0) and np.all(got[2] == 0.0)
    np.testing.assert_allclose(got[:2].sum(axis=-1), 1.0, atol=1e-5)


# ---- Every way a user uses the layer ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["dot", "general", "concat", "bahdanau"])
@pytest.mark.parametrize("one_step", [True, False], ids=["one_step", "many_steps"])
def test_check_layer(kind, one_step, tmp_path):
    query, values, mask = make_inputs(kind, one_step)
    mask[1] = False  # an all-masked row must not spoil training with NaN
    made, untrained = [], []

    def make_layer():
        # Built here so that an untrained copy (via get_weights) can check the eager numbers.
        layer, copy = KINDS[kind](), KINDS[kind]()
        for each in (layer, copy):
            each.build(query.shape, values.shape)
        copy.set_weights(layer.get_weights())
        made.append(layer)
        untrained.append(copy)
        return layer

    context, weights = check_layer(
        make_layer, [query, values, mask], call_kwargs={"return_attention_scores": True}, tmp_dir=tmp_path
    )
    expected_context, expected_weights = reference(untrained[0], query, values, mask)
    np.testing.assert_allclose(context, expected_context, atol=1e-5)
    np.testing.assert_allclose(weights, expected_weights, atol=1e-5)
    assert all(np.all(np.isfinite(np.array(w))) for w in made[0].weights)


def test_symbolic_shapes_with_unknown_sizes():
    query, values = keras.Input((None, D)), keras.Input((None, DV))
    context, weights = BahdanauAttention(units=3)(query, values, return_attention_scores=True)
    assert context.shape == (None, None, DV) and weights.shape == (None, None, None)
    assert LuongAttention(score="general").compute_output_shape((2, D), (2, TV, DV)) == (2, DV)
    context = LuongAttention(score="concat")(keras.Input((D,)), values)
    assert context.shape == (None, DV)


def test_weight_names_and_shapes():
    _, values, _ = make_inputs("general", one_step=True)
    shapes = {}
    for kind in KINDS:
        layer = KINDS[kind]()
        layer(np.zeros((1, query_dim(kind)), "float32"), values)
        shapes[kind] = {w.name: tuple(w.shape) for w in layer.weights}
    assert shapes["dot"] == {}
    assert shapes["general"] == {"general_kernel": (D, DV)}
    assert shapes["concat"] == {"concat_kernel": (D + DV, DV), "score_vector": (DV,)}
    assert shapes["concat_units"] == {"concat_kernel": (D + DV, 3), "score_vector": (3,)}
    assert shapes["bahdanau"] == {"query_kernel": (D, 3), "key_kernel": (DV, 3), "score_vector": (3,)}


def test_configs():
    assert LuongAttention(score="concat", units=8, name="a").get_config()["units"] == 8
    config = BahdanauAttention(units=5).get_config()
    assert config["units"] == 5 and "score" not in config
    serialized = keras.saving.serialize_keras_object(BahdanauAttention(4))
    assert isinstance(keras.saving.deserialize_keras_object(serialized), BahdanauAttention)


# ---- Validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, argument, received",
    [
        (lambda: LuongAttention(score="additive"), "score", "score='additive'"),
        (lambda: LuongAttention(score="Dot"), "score", "score='Dot'"),
        (lambda: LuongAttention(score="concat", units=0), "units", "units=0"),
        (lambda: LuongAttention(score="concat", units=2.5), "units", "units=2.5"),
        (lambda: LuongAttention(score="concat", units=True), "units", "units=True"),
        (lambda: BahdanauAttention(units=None), "units", "units=None"),
        (lambda: BahdanauAttention(units=-3), "units", "units=-3"),
        (lambda: BahdanauAttention(units="8"), "units", "units='8'"),
    ],
)
def test_bad_constructor_arguments(make, argument, received):
    with pytest.raises(ValueError, match=f"`{argument}`") as error:
        make()
    assert received in str(error.value) and "expected" in str(error.value)


@pytest.mark.parametrize(
    "make, query_shape, values_shape, argument, received",
    [
        (lambda: LuongAttention(score="general"), (2, 3, 4, D), (2, TV, DV), "query", "query.shape=(2, 3, 4, 6)"),
        (lambda: BahdanauAttention(units=3), (D,), (2, TV, DV), "query", "query.shape=(6,)"),
        (lambda: LuongAttention(score="concat"), (2, D), (2, DV), "values", "values.shape=(2, 7)"),
        (lambda: LuongAttention(score="dot"), (2, D), (2, TV, DV), "query", "query.shape=(2, 6)"),
    ],
)
def test_bad_inputs(make, query_shape, values_shape, argument, received):
    query, values = np.zeros(query_shape, "float32"), np.zeros(values_shape, "float32")
    with pytest.raises(ValueError, match=f"`{argument}`") as error:
        make()(query, values)
    assert received in str(error.value) and "expected" in str(error.value)
    # The same check holds symbolically.
    with pytest.raises(ValueError, match=f"`{argument}`"):
        make()(keras.Input(query_shape[1:]), keras.Input(values_shape[1:]))


def test_bad_mask_rank():
    query, values, mask = make_inputs("general", one_step=False)
    with pytest.raises(ValueError, match="`mask`"):
        LuongAttention(score="general")(query, values, mask=np.ones((BATCH, TQ, TV), bool))


def test_registry_builds_each_named_layer():
    for name, (layer_class, score) in attention.ATTENTIONS.items():
        layer = attention.get_attention(name, query_units=4, name="attention")
        assert type(layer) is layer_class and layer.name == "attention"
        if score is not None:
            assert layer.score == score
    assert attention.get_attention("bahdanau", query_units=4).units == 4
    assert attention.get_attention("bahdanau", 6, query_units=4).units == 6
    with pytest.raises(ValueError, match="`attention` of Decoder.*cosine"):
        attention.check_attention("cosine", "Decoder")


def test_masked_scores_give_zero_weight_in_float16_too():
    scores = np.array([[1.0, 2.0, 3.0]], "float32")
    mask = np.array([[True, False, True]])
    for dtype in ("float32", "float16"):
        masked = keras.ops.convert_to_numpy(masking.mask_scores(keras.ops.cast(scores, dtype), mask))
        assert np.isfinite(masked).all() and masked[0, 1] < -6e4
        weights = keras.ops.convert_to_numpy(keras.ops.softmax(keras.ops.cast(masked, "float32"), axis=-1))
        assert weights[0, 1] == 0.0


@pytest.mark.parametrize("module", [luong_attention, bahdanau_attention, attention, masking])
def test_docstring_example(module):
    results = doctest.testmod(module, raise_on_error=False)
    assert results.attempted > 0 and results.failed == 0
