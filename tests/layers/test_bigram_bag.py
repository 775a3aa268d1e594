"""Tests of `BigramBag` against a NumPy reference of its hash and mean (`layer_checks.numpy_bigram_bag`)."""

import doctest

import keras
import numpy as np
import pytest
from layer_checks import check_layer
from layer_checks import numpy_bigram_bag as reference

from lstm_keras.layers import bigram_bag
from lstm_keras.layers.bigram_bag import MAX_BUCKETS
from lstm_keras.layers.bigram_bag import BigramBag


# Long rows, short rows, one token, nothing; ids near int32's limit (a product or sum overflows without the mods).
TOKEN_IDS = np.array([
    [5, 6, 7, 8, 9, 3],
    [2_000_000_000, 2_000_000_001, 2, 0, 0, 0],
    [4, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0],
    [6, 5, 6, 5, 0, 0],
], "int32")


@pytest.mark.parametrize("buckets", [1, 97, MAX_BUCKETS])
def test_matches_numpy_reference(buckets):
    layer = BigramBag(buckets, 4, embeddings_initializer="random_normal")
    out = keras.ops.convert_to_numpy(layer(TOKEN_IDS))
    table = keras.ops.convert_to_numpy(layer.embeddings)
    np.testing.assert_allclose(out, reference(TOKEN_IDS, table), rtol=1e-5, atol=1e-6)


def test_order_matters_and_padding_is_no_bigram():
    layer = BigramBag(MAX_BUCKETS, 3, embeddings_initializer="random_normal")
    buckets, valid = (keras.ops.convert_to_numpy(t) for t in layer.bucket_ids(TOKEN_IDS))
    assert buckets[4, 0] != buckets[4, 1]  # (6, 5) and (5, 6)
    assert buckets[4, 0] == buckets[4, 2]  # (6, 5) twice
    assert valid.sum(axis=1).tolist() == [5, 2, 0, 0, 3]
    assert buckets.min() >= 0 and buckets.max() < MAX_BUCKETS


def test_check_layer(tmp_path):
    out = check_layer(lambda: BigramBag(50, 3, embeddings_initializer="random_normal"), [TOKEN_IDS], tmp_dir=tmp_path)
    assert out.shape == (5, 3) and not out[2:4].any()  # fewer than two tokens: zeros


@pytest.mark.parametrize("buckets", [0, MAX_BUCKETS + 1])
def test_bucket_count_is_checked(buckets):
    with pytest.raises(ValueError, match="buckets"):
        BigramBag(buckets, 3)


def test_docstring_example():
    assert doctest.testmod(bigram_bag, extraglobs={"keras": keras}).failed == 0
