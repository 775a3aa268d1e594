"""`TopPSampler`: nucleus sampling (Holtzman et al. 2020)."""

import keras
from keras import ops

from lstm_keras.decoding.random import RandomSampler


@keras.saving.register_keras_serializable(package="lstm_keras")
class TopPSampler(RandomSampler):
    """Nucleus (top-p) sampling: draws among the fewest tokens whose probabilities sum to `p`.

    From Holtzman, Buys, Du, Forbes and Choi 2020, "The Curious Case of Neural Text
    Degeneration". Only `compute_probabilities` differs from `RandomSampler`: after the
    temperature softmax, the tokens are sorted by decreasing probability `p_(1) >= p_(2) >= ...`
    and the kept set (the nucleus) is the shortest prefix whose total reaches `p`,

        V_p = {(1), ..., (n)},  n = min{n : Σ_{i <= n} p_(i) >= p},

    i.e. token `(i)` is kept when the probability of the tokens before it is below `p` (the
    most probable token is always kept). The kept probabilities are renormalised; all others
    become 0. `p = 1` keeps every token (plain random sampling).

    Args:
        p: the probability mass to keep, in (0, 1].
        seed: an int for repeatable draws, or None (see `RandomSampler`).
        **kwargs: arguments of `Sampler` (`temperature`).

    Call arguments: see `Sampler`.

    Returns: see `Sampler`: `(token_ids, attention)`.

    Example:
    >>> probabilities = TopPSampler(p=0.7).compute_probabilities(keras.ops.log([[.1, .5, .3, .1]]))
    >>> [round(float(p), 3) for p in keras.ops.convert_to_numpy(probabilities)[0]]  # .5 + .3 >= .7
    [0.0, 0.625, 0.375, 0.0]
    """

    def __init__(self, p=0.9, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 < p <= 1.0:
            raise ValueError(
                f"Invalid value for argument `p` of TopPSampler: expected a number in (0, 1]. Received: p={p!r}"
            )
        self.p = float(p)

    def compute_probabilities(self, logits):
        probabilities = super().compute_probabilities(logits)  # (batch, V)
        if self.p >= 1.0:
            return probabilities
        vocabulary_size = probabilities.shape[-1]
        sorted_probabilities, order = ops.top_k(probabilities, vocabulary_size)  # (batch, V), descending
        # The probability mass before each sorted token (an exclusive cumulative sum).
        cumulative = ops.cumsum(sorted_probabilities, axis=-1)  # (batch, V)
        before = ops.concatenate([ops.zeros_like(cumulative[:, :1]), cumulative[:, :-1]], axis=-1)  # (batch, V)
        kept_sorted = ops.cast(ops.less(before, self.p), probabilities.dtype)  # (batch, V)
        # Back to vocabulary order: position `order[j]` gets the flag of sorted position `j`.
        inverse = ops.argsort(order, axis=-1)  # (batch, V)
        kept = ops.take_along_axis(kept_sorted, inverse, axis=-1)  # (batch, V)
        probabilities = probabilities * kept  # (batch, V)
        return probabilities / ops.sum(probabilities, axis=-1, keepdims=True)

    def get_config(self):
        return {**super().get_config(), "p": self.p}
