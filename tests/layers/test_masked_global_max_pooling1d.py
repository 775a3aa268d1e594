"""Tests of `MaskedGlobalMaxPooling1D` against a NumPy reference."""

import doctest

import keras
import numpy as np
import pytest
from layer_checks import check_layer

from lstm_keras.layers import masked_global_max_pooling1d
from lstm_keras.layers.masked_global_max_pooling1d import MaskedGlobalMaxPooling1D


def make_inputs():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(3, 4, 5)).astype("float32") - 1.0  # mostly negative: padding zeros would win
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=bool)
    return inputs, mask


def reference(inputs, mask):
    out = np.zeros((len(inputs), inputs.shape[-1]), "float32")
    for b in range(len(inputs)):
        if mask[b].any():
            out[b] = inputs[b][mask[b]].max(axis=0)
    return out


def test_check_layer(tmp_path):
    inputs, _ = make_inputs()
    out = check_layer(MaskedGlobalMaxPooling1D, [inputs], tmp_dir=tmp_path)
    np.testing.assert_allclose(out, inputs.max(axis=1))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_matches_numpy_reference(data_format):
    inputs, mask = make_inputs()
    layer = MaskedGlobalMaxPooling1D(data_format=data_format)
    x = inputs if data_format == "channels_last" else np.swapaxes(inputs, 1, 2)
    out = keras.ops.convert_to_numpy(layer(x, mask=mask))
    np.testing.assert_allclose(out, reference(inputs, mask))


def test_keepdims():
    inputs, mask = make_inputs()
    out = keras.ops.convert_to_numpy(MaskedGlobalMaxPooling1D(keepdims=True)(inputs, mask=mask))
    np.testing.assert_allclose(out[:, 0], reference(inputs, mask))


def test_keras_mask_from_embedding_is_used():
    ids = np.array([[3, 4, 0, 0]])
    token_ids = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(10, 2, mask_zero=True, embeddings_initializer="ones")(token_ids)
    shifted = keras.layers.Dense(2, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(-1.0))(embedded)
    out = keras.Model(token_ids, MaskedGlobalMaxPooling1D()(shifted))(ids)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), [[-1.0, -1.0]])


def test_docstring_example():
    assert doctest.testmod(masked_global_max_pooling1d, extraglobs={"keras": keras}).failed == 0
