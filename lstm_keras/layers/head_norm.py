"""Group normalisation over the heads of a multi-head recurrent output (xLSTM's per-head `GroupNorm`)."""

from keras import ops

# The epsilon of the layer norms and of the per-head group norms (that of the reference code).
NORM_EPSILON = 1e-5


def add_head_norm_weights(layer, width, prefix="head_norm"):
    """`(scale, offset)` `(width,)` weights of `layer` (ones and zeros) for `normalize_heads`."""
    scale = layer.add_weight(shape=(width,), initializer="ones", name=f"{prefix}_scale")
    offset = layer.add_weight(shape=(width,), initializer="zeros", name=f"{prefix}_offset")
    return scale, offset


def normalize_heads(x, num_heads, scale, offset):
    """Each head's `width / num_heads` channels of one step (`x` `(..., width)`) to zero mean and unit variance,
    then a per-channel `scale` and `offset`: `GroupNorm_heads(x)`, computed in float32."""
    shape = ops.shape(x)
    heads = ops.reshape(ops.cast(x, "float32"), (*shape[:-1], num_heads, shape[-1] // num_heads))  # (..., H, d)
    mean = ops.mean(heads, axis=-1, keepdims=True)
    variance = ops.var(heads, axis=-1, keepdims=True)
    heads = (heads - mean) * ops.rsqrt(variance + NORM_EPSILON)  # (..., H, d)
    x_normed = ops.cast(ops.reshape(heads, shape), x.dtype)  # (..., width)
    return x_normed * ops.cast(scale, x.dtype) + ops.cast(offset, x.dtype)
