"""Tests of `AttentionPooling` against a NumPy implementation of its equations."""

import doctest

import keras
import numpy as np
import pytest
from layer_checks import check_layer

from lstm_keras.layers import attention_pooling
from lstm_keras.layers.attention_pooling import AttentionPooling

BATCH, T, D, UNITS = 3, 5, 6, 4


def make_inputs(seed=0):
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(BATCH, T, D)).astype("float32")
    # Row 0 all real, row 1 padded after 3 steps, row 2 with holes.
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 1, 0, 1, 1]], dtype=bool)
    return inputs, mask


def reference(layer, inputs, mask=None):
    """Yang et al. 2016 word attention, straight from the equations, one row and step at a time."""
    w = {v.name: np.array(v) for v in layer.weights}
    pooled = np.zeros((len(inputs), inputs.shape[-1]))
    weights = np.zeros(inputs.shape[:2])
    for b in range(len(inputs)):
        steps = [t for t in range(inputs.shape[1]) if mask is None or mask[b, t]]
        scores = np.array([np.tanh(inputs[b, t] @ w["kernel"] + w["bias"]) @ w["context_vector"] for t in steps])
        a = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
        for a_t, t in zip(a, steps):
            weights[b, t] = a_t
            pooled[b] += a_t * inputs[b, t]
    return pooled, weights


def random_layer(units=UNITS):
    layer = AttentionPooling(units=units, bias_initializer="random_normal")
    layer.build((None, T, D))
    return layer


@pytest.mark.parametrize("units", [UNITS, None])
def test_check_layer(tmp_path, units):
    inputs, _ = make_inputs()
    check_layer(lambda: AttentionPooling(units=units, bias_initializer="random_normal"), [inputs], tmp_dir=tmp_path)


def test_check_layer_returning_scores(tmp_path):
    inputs, _ = make_inputs()
    pooled, weights = check_layer(
        lambda: AttentionPooling(units=UNITS), [inputs], call_kwargs={"return_attention_scores": True},
        tmp_dir=tmp_path,
    )
    assert pooled.shape == (BATCH, D) and weights.shape == (BATCH, T)


@pytest.mark.parametrize("masked", [False, True])
def test_matches_numpy_reference(masked):
    inputs, mask = make_inputs()
    layer = random_layer()
    pooled, weights = layer(inputs, mask=mask if masked else None, return_attention_scores=True)
    expected_pooled, expected_weights = reference(layer, inputs, mask if masked else None)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(weights), expected_weights, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pooled), expected_pooled, atol=1e-5)


def test_weights_sum_to_one_and_masked_steps_get_zero():
    inputs, mask = make_inputs()
    _, weights = random_layer()(inputs, mask=mask, return_attention_scores=True)
    weights = keras.ops.convert_to_numpy(weights)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-6)
    assert np.all(weights[~mask] == 0.0)


def test_all_masked_row_gives_zeros_not_nan():
    inputs, mask = make_inputs()
    mask[1] = False
    pooled, weights = random_layer()(inputs, mask=mask, return_attention_scores=True)
    pooled, weights = keras.ops.convert_to_numpy(pooled), keras.ops.convert_to_numpy(weights)
    assert np.all(np.isfinite(pooled))
    np.testing.assert_array_equal(pooled[1], 0.0)
    np.testing.assert_array_equal(weights[1], 0.0)


def test_keras_mask_from_embedding_is_used():
    # Token 0 is padding: the pooling must see the mask the embedding and the LSTM carry.
    ids = np.array([[3, 4, 5, 0, 0], [1, 2, 0, 0, 0]])
    token_ids = keras.Input((None,), dtype="int32")
    sequence = keras.layers.Embedding(10, D, mask_zero=True)(token_ids)
    sequence = keras.layers.LSTM(D, return_sequences=True)(sequence)
    pooled, weights = AttentionPooling(units=UNITS)(sequence, return_attention_scores=True)
    weights = keras.ops.convert_to_numpy(keras.Model(token_ids, weights)(ids))
    np.testing.assert_array_equal(weights == 0, ids == 0)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-6)


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match="units.*Received: units=0"):
        AttentionPooling(units=0)
    with pytest.raises(ValueError, match=r"rank 3.*\(2, 6\)"):
        AttentionPooling()(np.ones((2, 6), "float32"))


def test_docstring_example():
    assert doctest.testmod(attention_pooling, extraglobs={"keras": keras}).failed == 0
