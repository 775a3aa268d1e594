"""The one large negative number that masks attention scores, impossible hypotheses and forbidden tokens.

A masked score, an impossible beam or a token that must never be generated gets `MASKED_VALUE`
instead of `-inf`: finite, so that sums and softmaxes never give NaN, yet so small that its
softmax weight is exactly zero in float32. float16 cannot hold -1e9, so float16 scores get the
most negative finite float16 (`MASKED_VALUE_FLOAT16`) instead.
"""

import keras
from keras import ops

MASKED_VALUE = -1e9
MASKED_VALUE_FLOAT16 = -65504.0


def mask_scores(scores, mask):
    """Replaces the scores where `mask` is False by the masked value of their dtype.

    Example:
    >>> import numpy as np
    >>> ops.convert_to_numpy(mask_scores(np.array([1.0, 2.0], "float32"), np.array([True, False]))).tolist()
    [1.0, -1000000000.0]
    """
    float16 = keras.backend.standardize_dtype(scores.dtype) == "float16"
    return ops.where(mask, scores, MASKED_VALUE_FLOAT16 if float16 else MASKED_VALUE)
