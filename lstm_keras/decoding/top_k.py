"""`TopKSampler`: samples among the `k` most probable tokens (Fan et al. 2018)."""

import keras
from keras import ops

from lstm_keras.decoding.random import RandomSampler


@keras.saving.register_keras_serializable(package="lstm_keras")
class TopKSampler(RandomSampler):
    """Top-k sampling: draws the next token among the `k` most probable ones.

    From Fan, Lewis and Dauphin 2018, "Hierarchical Neural Story Generation". Only
    `compute_probabilities` differs from `RandomSampler`: after the temperature softmax, every
    token outside the `k` most probable ones gets probability 0 and the `k` kept ones are
    renormalised,

        p'(v) = p(v) / Σ_{u ∈ top_k} p(u)  if v ∈ top_k,  else 0,

    with `top_k` the `k` indices `keras.ops.top_k` returns (exactly `k` tokens, ties broken by
    it). `k = 1` is greedy decoding; `k >=` the vocabulary size is plain random sampling.

    Args:
        k: positive int, the number of tokens kept at each step.
        seed: an int for repeatable draws, or None (see `RandomSampler`).
        **kwargs: arguments of `Sampler` (`temperature`).

    Call arguments: see `Sampler`.

    Returns: see `Sampler`: `(token_ids, attention)`.

    Example:
    >>> probabilities = TopKSampler(k=2).compute_probabilities(keras.ops.log([[.1, .5, .3, .1]]))
    >>> [round(float(p), 3) for p in keras.ops.convert_to_numpy(probabilities)[0]]
    [0.0, 0.625, 0.375, 0.0]
    """

    def __init__(self, k=5, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(
                f"Invalid value for argument `k` of TopKSampler: expected a positive int. Received: k={k!r}"
            )
        self.k = k

    def compute_probabilities(self, logits):
        probabilities = super().compute_probabilities(logits)  # (batch, V)
        vocabulary_size = probabilities.shape[-1]
        k = min(self.k, vocabulary_size)
        _, top_index = ops.top_k(probabilities, k)  # (batch, k)
        # A 0/1 mask of the kept tokens: scatter ones at (row, index) of every kept token.
        batch_size = ops.shape(probabilities)[0]
        rows = ops.repeat(ops.expand_dims(ops.arange(batch_size, dtype="int32"), 1), k, axis=1)  # (batch, k)
        positions = ops.stack([rows, ops.cast(top_index, "int32")], axis=-1)  # (batch, k, 2)
        positions = ops.reshape(positions, (-1, 2))  # (batch * k, 2)
        kept = ops.scatter(positions, ops.ones((batch_size * k,), probabilities.dtype),
                           (batch_size, vocabulary_size))  # (batch, V)
        probabilities = probabilities * kept  # (batch, V)
        return probabilities / ops.sum(probabilities, axis=-1, keepdims=True)

    def get_config(self):
        return {**super().get_config(), "k": self.k}
