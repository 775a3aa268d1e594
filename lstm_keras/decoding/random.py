"""`RandomSampler`: draws the next token from the model's distribution (ancestral sampling)."""

import keras
from keras import ops

from lstm_keras.decoding.sampler import Sampler


@keras.saving.register_keras_serializable(package="lstm_keras")
class RandomSampler(Sampler):
    """Random sampling: draws every next token from the (temperature-scaled) softmax.

    Only `draw_noise` and `get_next_token` differ from `Sampler`, which owns the loop. Before the
    loop, one uniform number `u` in [0, 1) is drawn per sequence and step. At each step the token is the
    first whose cumulative probability exceeds `u` (inverse transform sampling), so token `i`
    is drawn with probability `p_i` and a token of probability 0 never is. `TopKSampler` and
    `TopPSampler` are this sampler with a truncated distribution (they override
    `compute_probabilities` only).

    The draws come from a `keras.random.SeedGenerator` owned by the sampler: two samplers made
    with the same `seed` draw the same tokens for the same logits, and every call of one sampler
    draws new ones (its generator moves on once per call, outside the compiled loop, which is what
    lets the loop run on JAX). A low temperature concentrates the distribution on
    the most probable token: as `temperature -> 0` sampling becomes greedy decoding.

    Args:
        seed: an int for repeatable draws, or None (drawn from Keras' global seed, which
            `keras.utils.set_random_seed` fixes).
        **kwargs: arguments of `Sampler` (`temperature`).

    Call arguments: see `Sampler`.

    Returns: see `Sampler`: `(token_ids, attention)`.

    Example:
    >>> import numpy as np
    >>> table = np.log(np.array([[.1, .1, .8], [.1, .8, .1], [.1, .8, .1]], "float32"))
    >>> def next(token, state):  # a Markov chain over 3 tokens; 1 is the end token
    ...     return keras.ops.take(table, token, axis=0), state, None
    >>> start = keras.ops.zeros((4,), "int32")
    >>> first, _ = RandomSampler(seed=7)(next, start, {}, 6, end_token_id=1)
    >>> again, _ = RandomSampler(seed=7)(next, start, {}, 6, end_token_id=1)
    >>> tuple(first.shape), bool((keras.ops.convert_to_numpy(first) == keras.ops.convert_to_numpy(again)).all())
    ((4, 6), True)
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError(
                f"Invalid value for argument `seed` of {self.__class__.__name__}: expected an int or None. "
                f"Received: seed={seed!r}"
            )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def draw_noise(self, batch_size, width):
        return keras.random.uniform((batch_size, width), seed=self.seed_generator)  # (batch, T)

    def get_next_token(self, probabilities, noise=None):
        probabilities = ops.cast(probabilities, "float32")  # (batch, V)
        if noise is None:
            noise = keras.random.uniform(ops.shape(probabilities)[:1], seed=self.seed_generator)  # (batch,)
        cumulative = ops.cumsum(probabilities, axis=-1)  # (batch, V)
        # u times the total, which rounding keeps near but not at 1; for u < 1 the product stays below
        # the total, so the token drawn is never past the last token of positive probability.
        threshold = ops.expand_dims(noise, -1) * cumulative[:, -1:]  # (batch, 1)
        # The first token whose cumulative probability exceeds the threshold: the number at or below it.
        return ops.sum(ops.cast(ops.less_equal(cumulative, threshold), "int32"), axis=-1)  # (batch,)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
