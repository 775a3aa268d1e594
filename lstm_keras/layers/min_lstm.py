"""`MinLSTM`: the minimal LSTM of Feng et al. 2024, `MinGRU` with normalised forget and input gates."""

import keras
from keras import ops

from lstm_keras.layers.log_space_scan import log_g
from lstm_keras.layers.min_gru import MinGRU


@keras.saving.register_keras_serializable(package="lstm_keras")
class MinLSTM(MinGRU):
    """The minimal LSTM: gates from the input only, normalised, so the recurrence is a parallel prefix scan.

    Feng et al. 2024, "Were RNNs All We Needed?" (arXiv 2410.01201), §3.2 and appendix B:

        f_t   = sigmoid(x_t W_f + b_f),   i_t = sigmoid(x_t W_i + b_i)
        h~_t  = g(x_t W_h + b_h),         g(x) = x + 0.5 (x >= 0), sigmoid(x) (x < 0)
        f'_t  = f_t / (f_t + i_t),        i'_t = i_t / (f_t + i_t)
        h_t   = f'_t * h_{t-1} + i'_t * h~_t

    `kernel` `(input_dim, 3 * units)` and `bias` `(3 * units,)` hold the blocks `[f, i, h]` in
    that order. In log space `log f' = -softplus(softplus(-k_f) - softplus(-k_i))`, `log i'` the
    same with `f` and `i` swapped. Everything else (the log-space scan, `step`, the initial
    state, masks, the arguments and outputs) is `MinGRU`'s.

    Args:
        units: positive int, the size of the output and state.
        return_sequences: whether to return the output of every step or the last one.
        return_state: whether to return `[output, final_state]`.
        go_backwards: whether to process the sequence backwards (outputs in processing order).
        stateful: whether the final state of each batch is the initial state of the next.
        kernel_initializer: the initializer of `kernel`.
        bias_initializer: the initializer of `bias`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, time, input_dim)`.
        initial_state: optional `(batch, units)` (or a one-element list of it): `h_0`.
        mask: optional boolean `(batch, time)`; masked steps keep the state and output zeros.
        training: unused (no dropout).

    Returns:
        `(batch, time, units)` with `return_sequences`, else `(batch, units)`; with
        `return_state`, the list `[output, state]`.

    Example:
    >>> layer = MinLSTM(4, return_state=True)
    >>> output, state = layer(ops.ones((2, 5, 3)))
    >>> tuple(output.shape), tuple(state.shape), tuple(layer.kernel.shape), tuple(layer.bias.shape)
    ((2, 4), (2, 4), (3, 12), (12,))
    >>> tuple(layer.step(ops.ones((2, 3)), [state])[0].shape)
    (2, 4)
    """

    blocks = 3

    def log_coefficients(self, projected):
        """`(log f', log i' + log g(k_h))` from the projected inputs `(..., 3 * units)`."""
        k_f, k_i, k_h = ops.split(projected, 3, axis=-1)  # (..., units) each
        log_ratio = ops.softplus(-k_f) - ops.softplus(-k_i)  # log i - log f
        return -ops.softplus(log_ratio), -ops.softplus(-log_ratio) + log_g(k_h)
