"""`BahdanauAttention`: additive attention, a `LuongAttention` with its own score."""

import keras
from keras import ops

from lstm_keras.layers.luong_attention import LuongAttention


@keras.saving.register_keras_serializable(package="lstm_keras")
class BahdanauAttention(LuongAttention):
    """Bahdanau-style (additive) attention: an MLP scores a query against every source step.

    The equations (Bahdanau et al. 2015, "Neural Machine Translation by Jointly Learning to Align
    and Translate"), with `q` a query step `(d,)` and `k_j` the source step `j` of `values` `(dv,)`:

        score(q, k_j) = v^T tanh(W1 q + W2 k_j)            (W1: (d, units), W2: (dv, units), v: (units,))
        a_j = exp(score_j) / Σ_{j'} exp(score_j')          (softmax over the source steps Tv)
        context = Σ_j a_j k_j

    This is Luong's "concat" score with `W` kept as two kernels: `W2 k_j` depends on the source
    alone (`project_keys`), so a decoder computes it once per sentence, not at every step. Only
    the score differs from `LuongAttention`: masking (masked steps get exactly zero weight; an
    all-masked row gets zero weights and a zero context, never NaN), shapes and the call are the
    same.

    Weights (by name): `query_kernel` `(d, units)`, `key_kernel` `(dv, units)`, `score_vector`
    `(units,)`.

    Args:
        units: positive int, the hidden size of the score MLP.
        **kwargs: base layer keyword arguments (e.g. `name`, `dtype`).

    Call arguments:
        query: one decoder step `(batch, d)` or many `(batch, Tq, d)`.
        values: the encoder outputs `(batch, Tv, dv)`, both keys and values.
        mask: optional boolean source mask `(batch, Tv)`, True for real tokens. When it is not
            given, the Keras mask carried by `values` (e.g. from `Embedding(mask_zero=True)`
            through an encoder) is used.
        return_attention_scores: whether to also return the attention weights.
        training: unused, accepted for the Keras call convention.
        values_mask: filled in by Keras with the Keras mask of `values`; pass `mask` instead.
        keys: optional, `project_keys(values)` computed beforehand (`W2 k_j` for every step).

    Returns:
        The context `(batch, dv)` for a one-step query or `(batch, Tq, dv)` for many steps; with
        `return_attention_scores=True` a tuple `(context, weights)` with weights `(batch, Tv)`
        or `(batch, Tq, Tv)`. The output carries no Keras mask.

    Example:

    >>> attention = BahdanauAttention(units=10)
    >>> query = keras.ops.ones((2, 8))
    >>> values = keras.ops.ones((2, 7, 16))
    >>> context, weights = attention(query, values, return_attention_scores=True)
    >>> tuple(context.shape), tuple(weights.shape)
    ((2, 16), (2, 7))
    >>> tuple(attention(keras.ops.ones((2, 5, 8)), values).shape)
    (2, 5, 16)
    """

    allowed_scores = ("additive",)

    def __init__(self, units, **kwargs):
        if units is None:
            raise ValueError(
                "Invalid value for argument `units` of BahdanauAttention: expected a positive int. "
                f"Received: units={units!r}"
            )
        super().__init__(score="additive", units=units, **kwargs)

    def _build_score(self, query_dim, values_dim):
        self.query_kernel = self.add_weight(
            name="query_kernel", shape=(query_dim, self.units), initializer="glorot_uniform"
        )
        self.key_kernel = self.add_weight(
            name="key_kernel", shape=(values_dim, self.units), initializer="glorot_uniform"
        )
        self.score_vector = self.add_weight(name="score_vector", shape=(self.units,), initializer="glorot_uniform")

    def project_keys(self, values):
        return ops.matmul(values, self.key_kernel)  # (batch, Tv, units)

    def _score(self, query, values, keys):
        query_features = ops.matmul(query, self.query_kernel)  # (batch, Tq, units)
        return self._additive_score(query_features, keys)  # (batch, Tq, Tv)

    def get_config(self):
        config = super().get_config()
        del config["score"]  # always "additive", not a constructor argument
        return config
