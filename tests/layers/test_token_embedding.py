"""`TokenEmbedding`: the layer checks, and tied logits against `h E^T + b`."""

import numpy as np
import pytest


def test_token_embedding_layer(tmp_path):
    from layer_checks import check_layer

    from lstm_keras.layers import TokenEmbedding

    hidden = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    logits = check_layer(lambda: TokenEmbedding(10, 4, tie_weights=True), [hidden], {"reverse": True},
                         tmp_dir=str(tmp_path))
    check_layer(lambda: TokenEmbedding(10, 4, hidden_dim=5), [np.array([[1, 2, 9]])], tmp_dir=str(tmp_path),
                train=False)
    layer = TokenEmbedding(10, 4, tie_weights=True)
    layer.build()
    weights = {w.name: np.asarray(w) for w in layer.weights}
    reference = np.asarray(layer(hidden, reverse=True))
    np.testing.assert_allclose(reference, hidden @ weights["embeddings"].T + weights["output_bias"], atol=1e-6)
    assert logits.shape == (2, 3, 10)
    with pytest.raises(ValueError, match="hidden_dim"):
        TokenEmbedding(10, 4, tie_weights=True, hidden_dim=5)
