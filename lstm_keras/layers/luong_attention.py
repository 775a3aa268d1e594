"""`LuongAttention`: multiplicative (dot, general) and concat attention over a source sequence."""

import keras
from keras import ops

from lstm_keras.layers.masking import mask_scores

SCORES = ("dot", "general", "concat")


@keras.saving.register_keras_serializable(package="lstm_keras")
class LuongAttention(keras.layers.Layer):
    """Luong-style attention: scores a query against every source step, returns a weighted sum.

    The equations (Luong et al. 2015, "Effective Approaches to Attention-based Neural Machine
    Translation"), with `q` a query step `(d,)` and `k_j` the source step `j` of `values` `(dv,)`:

        score(q, k_j) = q · k_j                            ("dot", needs d == dv)
        score(q, k_j) = q W k_j                            ("general", W: (d, dv))
        score(q, k_j) = v^T tanh(W [q; k_j])               ("concat", W: (d + dv, units), v: (units,))
        a_j = exp(score_j) / Σ_{j'} exp(score_j')          (softmax over the source steps Tv)
        context = Σ_j a_j k_j

    Source steps where the mask is False get exactly zero weight, and the weights of a query step
    sum to 1 over the real steps. A row whose mask is entirely False gets zero weights everywhere
    and a zero context (never NaN). `BahdanauAttention` is this layer with the additive score.

    Weights (by name): `general_kernel` `(d, dv)` for "general"; `concat_kernel` `(d + dv, units)`
    and `score_vector` `(units,)` for "concat"; "dot" has none.

    Args:
        score: how a query step is scored against a source step: `"dot"`, `"general"` or
            `"concat"`.
        units: positive int or None, the hidden size of the "concat" score (None: the feature
            size of `values`). Only the "concat" score uses it.
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
        keys: optional, `project_keys(values)` computed beforehand: a decoder that attends to
            the same `values` at every step projects them once instead of at every call.

    Returns:
        The context `(batch, dv)` for a one-step query or `(batch, Tq, dv)` for many steps; with
        `return_attention_scores=True` a tuple `(context, weights)` with weights `(batch, Tv)`
        or `(batch, Tq, Tv)`. The output carries no Keras mask.

    Example:

    >>> attention = LuongAttention(score="general")
    >>> query = keras.ops.ones((2, 16))
    >>> values = keras.ops.ones((2, 7, 16))
    >>> context, weights = attention(query, values, return_attention_scores=True)
    >>> tuple(context.shape), tuple(weights.shape)
    ((2, 16), (2, 7))
    >>> tuple(attention(keras.ops.ones((2, 5, 16)), values).shape)
    (2, 5, 16)
    """

    # The score names this class accepts; a subclass with its own score overrides it.
    allowed_scores = SCORES

    def __init__(self, score="dot", units=None, **kwargs):
        super().__init__(**kwargs)
        if score not in self.allowed_scores:
            raise ValueError(
                f"Invalid value for argument `score` of {self.__class__.__name__}: expected one "
                f"of {self.allowed_scores}. Received: score={score!r}"
            )
        if units is not None and (not isinstance(units, int) or isinstance(units, bool) or units <= 0):
            raise ValueError(
                f"Invalid value for argument `units` of {self.__class__.__name__}: expected a "
                f"positive int (or None for the feature size of `values`). Received: units={units!r}"
            )
        self.score = score
        self.units = units

    def build(self, query_shape, values_shape):
        self._check_shapes(query_shape, values_shape)
        self._build_score(query_shape[-1], values_shape[-1])

    def _build_score(self, query_dim, values_dim):
        """Creates the score's weights: the one method (with `_score`) a subclass overrides."""
        if self.score == "general":
            self.general_kernel = self.add_weight(
                name="general_kernel", shape=(query_dim, values_dim), initializer="glorot_uniform"
            )
        elif self.score == "concat":
            units = self.units or values_dim
            self.concat_kernel = self.add_weight(
                name="concat_kernel", shape=(query_dim + values_dim, units), initializer="glorot_uniform"
            )
            self.score_vector = self.add_weight(name="score_vector", shape=(units,), initializer="glorot_uniform")

    def project_keys(self, values):
        """The part of the score that depends on the source alone: `(batch, Tv, units)`, or None.

        "concat" (and Bahdanau's additive score) apply a key kernel to every source step; "dot"
        and "general" have no such part (None). Computed once and passed as `keys=` to every
        call with the same `values`, it is not recomputed at every decoder step.
        """
        if self.score != "concat":
            return None
        # W [q; k] = W_q q + W_k k, with W split by rows into its query and key parts.
        return ops.matmul(values, self.concat_kernel[-values.shape[-1]:])  # (batch, Tv, units)

    def _score(self, query, values, keys):
        """Scores every query step against every source step: `(batch, Tq, Tv)`."""
        if self.score == "dot":
            return ops.matmul(query, ops.swapaxes(values, 1, 2))  # (batch, Tq, Tv)
        if self.score == "general":
            projected = ops.matmul(query, self.general_kernel)  # (batch, Tq, dv)
            return ops.matmul(projected, ops.swapaxes(values, 1, 2))  # (batch, Tq, Tv)
        query_features = ops.matmul(query, self.concat_kernel[: query.shape[-1]])  # (batch, Tq, units)
        return self._additive_score(query_features, keys)  # (batch, Tq, Tv)

    def _additive_score(self, query_features, key_features):
        """`v^T tanh(query_features + key_features)` for every (query step, source step) pair."""
        hidden = ops.tanh(
            ops.expand_dims(query_features, 2) + ops.expand_dims(key_features, 1)
        )  # (batch, Tq, Tv, units)
        return ops.matmul(hidden, self.score_vector)  # (batch, Tq, Tv)

    def call(self, query, values, mask=None, return_attention_scores=False, training=None, values_mask=None,
             keys=None):
        self._check_shapes(query.shape, values.shape)
        if mask is None:
            mask = values_mask
        one_step = len(query.shape) == 2
        if one_step:
            query = ops.expand_dims(query, 1)  # (batch, 1, d)

        if keys is None:
            keys = self.project_keys(values)  # (batch, Tv, units) or None
        scores = self._score(query, values, keys)  # (batch, Tq, Tv)
        if mask is not None:
            self._check_mask(mask)
            mask = ops.expand_dims(ops.cast(mask, "bool"), 1)  # (batch, 1, Tv)
            scores = mask_scores(scores, mask)
        weights = ops.softmax(scores, axis=-1)
        if mask is not None:
            # Exact zeros at masked steps; an all-masked row (uniform softmax) becomes all zeros.
            weights = ops.where(mask, weights, ops.zeros_like(weights))
        context = ops.matmul(weights, values)  # (batch, Tq, dv)

        if one_step:
            context = ops.squeeze(context, 1)  # (batch, dv)
            weights = ops.squeeze(weights, 1)  # (batch, Tv)
        if return_attention_scores:
            return context, weights
        return context

    def compute_mask(self, query, previous_mask=None):
        # The context has no padding of its own to pass on; the source mask stays behind.
        return None

    def compute_output_shape(self, query_shape, values_shape):
        self._check_shapes(query_shape, values_shape)
        return (*query_shape[:-1], values_shape[-1])

    def compute_output_spec(
        self, query, values, mask=None, return_attention_scores=False, training=None, values_mask=None, keys=None
    ):
        context = keras.KerasTensor(self.compute_output_shape(query.shape, values.shape), dtype=self.compute_dtype)
        if not return_attention_scores:
            return context
        weights_shape = (*query.shape[:-1], values.shape[1])  # (batch, [Tq,] Tv)
        return context, keras.KerasTensor(weights_shape, dtype=self.compute_dtype)

    def _check_shapes(self, query_shape, values_shape):
        name = self.__class__.__name__
        if len(query_shape) not in (2, 3):
            raise ValueError(
                f"Invalid `query` for {name}: expected rank 2 `(batch, d)` or rank 3 `(batch, Tq, d)`. "
                f"Received: query.shape={tuple(query_shape)}"
            )
        if len(values_shape) != 3:
            raise ValueError(
                f"Invalid `values` for {name}: expected rank 3 `(batch, Tv, dv)`. "
                f"Received: values.shape={tuple(values_shape)}"
            )
        dims = (query_shape[-1], values_shape[-1])
        if self.score == "dot" and None not in dims and dims[0] != dims[1]:
            raise ValueError(
                f"Invalid `query` for {name}(score='dot'): expected its last dimension to equal the last "
                f"dimension of `values` ({values_shape[-1]}); use score='general' or 'concat' otherwise. "
                f"Received: query.shape={tuple(query_shape)}, values.shape={tuple(values_shape)}"
            )

    def _check_mask(self, mask):
        if len(mask.shape) != 2:
            raise ValueError(
                f"Invalid `mask` for {self.__class__.__name__}: expected the source mask `(batch, Tv)`. "
                f"Received: mask.shape={tuple(mask.shape)}"
            )

    def get_config(self):
        config = {"score": self.score, "units": self.units}
        return {**super().get_config(), **config}
