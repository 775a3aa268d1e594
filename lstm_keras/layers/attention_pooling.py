"""`AttentionPooling`: a learned, masked weighted average over the steps of a sequence."""

import keras
from keras import ops

from lstm_keras.layers.masking import mask_scores


@keras.saving.register_keras_serializable(package="lstm_keras")
class AttentionPooling(keras.layers.Layer):
    """Attention pooling: one vector per sequence, a softmax-weighted average of its steps.

    The word-attention of Yang et al. 2016 ("Hierarchical Attention Networks for Document
    Classification"), with `h_t` the step `t` of the inputs `(d,)` and a learned context vector
    `u` standing in for the query:

        e_t = tanh(W h_t + b)                       (W: (d, units), b: (units,))
        s_t = u^T e_t                               (u: (units,))
        a_t = exp(s_t) / Σ_{t'} exp(s_t')           (softmax over the steps T)
        output = Σ_t a_t h_t

    Masked steps get exactly zero weight; a row with every step masked gets zero weights and a
    zero output (never NaN). The weights `a` can be returned for display (which words the
    classifier looked at).

    Weights (by name): `kernel` `(d, units)`, `bias` `(units,)`, `context_vector` `(units,)`.

    Args:
        units: positive int, the size of the hidden layer `e_t`; None (the default) for the
            feature size `d` of the inputs.
        kernel_initializer: initializer of `kernel` and `context_vector`.
        bias_initializer: initializer of `bias`.
        **kwargs: base layer keyword arguments (e.g. `name`, `dtype`).

    Call arguments:
        inputs: `(batch, T, d)`.
        mask: optional boolean `(batch, T)`, True for real steps; Keras passes the mask carried
            by the inputs (e.g. from `Embedding(mask_zero=True)` through an LSTM) automatically.
        return_attention_scores: whether to also return the weights `a`.

    Returns:
        The pooled vectors `(batch, d)`; with `return_attention_scores=True` a tuple
        `(pooled, weights)` with weights `(batch, T)`. The output carries no mask.

    Example:
    >>> pooling = AttentionPooling(units=8)
    >>> pooled, weights = pooling(keras.ops.ones((2, 5, 16)), return_attention_scores=True)
    >>> tuple(pooled.shape), tuple(weights.shape)
    ((2, 16), (2, 5))
    >>> [round(float(w), 6) for w in keras.ops.sum(weights, axis=-1)]
    [1.0, 1.0]
    """

    def __init__(self, units=None, kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if units is not None and (not isinstance(units, int) or isinstance(units, bool) or units <= 0):
            raise ValueError(
                f"Invalid value for argument `units` of {self.__class__.__name__}: expected a "
                f"positive int (or None for the feature size of the inputs). Received: units={units!r}"
            )
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, inputs_shape):
        self._check_shape(inputs_shape)
        units = self.units or inputs_shape[-1]
        self.kernel = self.add_weight(name="kernel", shape=(inputs_shape[-1], units), initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(units,), initializer=self.bias_initializer)
        self.context_vector = self.add_weight(name="context_vector", shape=(units,), initializer=self.kernel_initializer)

    def call(self, inputs, mask=None, return_attention_scores=False):
        hidden = ops.tanh(ops.matmul(inputs, self.kernel) + self.bias)  # (batch, T, units)
        scores = ops.matmul(hidden, self.context_vector)  # (batch, T)
        if mask is not None:
            mask = ops.cast(mask, "bool")  # (batch, T)
            scores = mask_scores(scores, mask)
        weights = ops.softmax(scores, axis=-1)  # (batch, T)
        if mask is not None:
            # Exact zeros at masked steps; an all-masked row (uniform softmax) becomes all zeros.
            weights = ops.where(mask, weights, ops.zeros_like(weights))
        pooled = ops.sum(ops.expand_dims(weights, -1) * inputs, axis=1)  # (batch, d)
        if return_attention_scores:
            return pooled, weights
        return pooled

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, inputs_shape):
        self._check_shape(inputs_shape)
        return (inputs_shape[0], inputs_shape[-1])

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False):
        pooled = keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)
        if not return_attention_scores:
            return pooled
        return pooled, keras.KerasTensor(tuple(inputs.shape[:2]), dtype=self.compute_dtype)

    def _check_shape(self, inputs_shape):
        if len(inputs_shape) != 3:
            raise ValueError(
                f"Invalid inputs for {self.__class__.__name__}: expected rank 3 `(batch, T, d)`. "
                f"Received: inputs.shape={tuple(inputs_shape)}"
            )

    def get_config(self):
        config = {
            "units": self.units,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
        return {**super().get_config(), **config}
