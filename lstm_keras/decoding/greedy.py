"""`GreedySampler`: the most probable token at every step."""

import keras
from keras import ops

from lstm_keras.decoding.sampler import Sampler


@keras.saving.register_keras_serializable(package="lstm_keras")
class GreedySampler(Sampler):
    """Greedy decoding: picks the most probable next token at every step.

    Only `get_next_token` differs from `Sampler`, which owns the loop. Greedy decoding is beam
    search with one beam (`BeamSampler(num_beams=1)` returns the same tokens).

    Args:
        **kwargs: arguments of `Sampler` (a temperature does not change the argmax).

    Call arguments: see `Sampler`.

    Returns: see `Sampler`: `(token_ids, attention)`.

    Example:
    >>> import numpy as np
    >>> table = np.log(np.array([[.1, .3, .6], [.1, .8, .1], [.1, .6, .3]], "float32"))
    >>> def next(token, state):  # a Markov chain over 3 tokens; 1 is the end token
    ...     return keras.ops.take(table, token, axis=0), state, None
    >>> tokens, attention = GreedySampler()(next, keras.ops.zeros((2,), "int32"), {}, 5, end_token_id=1)
    >>> keras.ops.convert_to_numpy(tokens).tolist(), attention
    ([[2, 1, 0, 0, 0], [2, 1, 0, 0, 0]], None)
    """

    def get_next_token(self, probabilities, noise=None):
        return ops.argmax(probabilities, axis=-1)  # (batch,)
