"""`MaskedGlobalMaxPooling1D`: `keras.layers.GlobalMaxPooling1D` that skips masked steps."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lstm_keras")
class MaskedGlobalMaxPooling1D(keras.layers.GlobalMaxPooling1D):
    """Global max pooling over the steps of a sequence, ignoring masked (padding) steps.

    `keras.layers.GlobalMaxPooling1D` takes the maximum over every step, padding included, so a
    padded sequence whose features are all negative pools to the padding's zeros. This subclass
    overrides only `call`: with a mask, the maximum is taken over the real steps alone,

        output[b, f] = max_{t : mask[b, t]} inputs[b, t, f],

    and a row with every step masked pools to zeros (never -inf).

    Args:
        data_format: `"channels_last"` (inputs `(batch, steps, features)`, the default) or
            `"channels_first"` (`(batch, features, steps)`).
        keepdims: whether to keep the steps axis with length 1.
        **kwargs: base layer keyword arguments (e.g. `name`, `dtype`).

    Call arguments:
        inputs: a 3-D tensor (see `data_format`).
        mask: optional boolean `(batch, steps)`, True for real steps; Keras passes the mask
            carried by the inputs automatically.

    Returns:
        `(batch, features)`, or `(batch, 1, features)` with `keepdims`.

    Example:
    >>> x = keras.ops.convert_to_tensor([[[-1.0], [-2.0], [0.0]]])
    >>> mask = keras.ops.convert_to_tensor([[True, True, False]])
    >>> float(MaskedGlobalMaxPooling1D()(x, mask=mask)[0, 0])
    -1.0
    """

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        steps_axis = 1 if self.data_format == "channels_last" else 2
        mask = ops.expand_dims(ops.cast(mask, "bool"), 2 if steps_axis == 1 else 1)  # (batch, steps, 1) or (batch, 1, steps)
        lowest = ops.convert_to_tensor(float("-inf"), dtype=inputs.dtype)
        pooled = ops.max(ops.where(mask, inputs, lowest), axis=steps_axis, keepdims=self.keepdims)  # (batch, [1,] features)
        any_real = ops.any(mask, axis=steps_axis, keepdims=self.keepdims)  # (batch, [1,] 1)
        return ops.where(any_real, pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None
