"""`MinGRU`: the minimal GRU of Feng et al. 2024, a parallel log-space scan for training and a step for generation."""

import keras
from keras import ops

from lstm_keras.layers.log_space_scan import LOG_ZERO
from lstm_keras.layers.log_space_scan import log_g
from lstm_keras.layers.log_space_scan import log_space_scan
from lstm_keras.layers.parallel_recurrence import ParallelRecurrence


@keras.saving.register_keras_serializable(package="lstm_keras")
class MinGRU(ParallelRecurrence):
    """The minimal GRU: gates from the input only, so the recurrence is a parallel prefix scan.

    Feng et al. 2024, "Were RNNs All We Needed?" (arXiv 2410.01201), §3.1 and appendix B:

        z_t   = sigmoid(x_t W_z + b_z)
        h~_t  = g(x_t W_h + b_h),     g(x) = x + 0.5 (x >= 0), sigmoid(x) (x < 0)
        h_t   = (1 - z_t) * h_{t-1} + z_t * h~_t

    `kernel` `(input_dim, 2 * units)` and `bias` `(2 * units,)` hold the blocks `[z, h]` in
    that order. Each step is `h_t = a_t h_{t-1} + b_t` with `a_t, b_t > 0` (`g > 0`), computed
    for all t at once in log space (`log a = -softplus(k_z)`, `log b = -softplus(-k_z) +
    log g(k_h)`; see `log_space_scan`); `step` runs one step in linear space for generation and
    gives the same numbers. The initial state `h_0` (zeros by default) may be any value: it
    enters as `(prod_{j <= t} a_j) h_0` in linear space, in both paths. Masked steps keep the
    state (`a = 1`, `b = 0`).

    Args:
        units: positive int, the size of the output and state.
        return_sequences: whether to return the output of every step `(batch, time, units)` or
            the last one `(batch, units)`.
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
        The output (see `return_sequences`); with `return_state`, the list `[output, state]`
        with the final state `(batch, units)`. `step(x_t, [h_prev])` maps `(batch, input_dim)`
        and `[(batch, units)]` to `(h_t, [h_t])` (the contract of `ParallelRecurrence`).

    Example:
    >>> layer = MinGRU(4, return_sequences=True, return_state=True)
    >>> sequences, state = layer(ops.ones((2, 5, 3)))
    >>> tuple(sequences.shape), tuple(state.shape), tuple(layer.kernel.shape), tuple(layer.bias.shape)
    ((2, 5, 4), (2, 4), (3, 8), (8,))
    >>> tuple(layer.step(ops.ones((2, 3)), [state])[0].shape)
    (2, 4)
    """

    # The number of `units`-wide blocks in the kernel and bias.
    blocks = 2

    def __init__(
        self,
        units,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(units, return_sequences, return_state, go_backwards, stateful, **kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    @property
    def state_shapes(self):
        return [(self.units,)]

    def build_weights(self, input_dim):
        width = self.blocks * self.units
        self.kernel = self.add_weight(shape=(input_dim, width), initializer=self.kernel_initializer, name="kernel")
        self.bias = self.add_weight(shape=(width,), initializer=self.bias_initializer, name="bias")

    def log_coefficients(self, projected):
        """`(log a, log b)` of `h_t = a_t h_{t-1} + b_t` from the projected inputs `(..., 2 * units)`."""
        k_z, k_h = ops.split(projected, 2, axis=-1)  # (..., units) each
        return -ops.softplus(k_z), -ops.softplus(-k_z) + log_g(k_h)

    def _log_coefficients(self, inputs):
        projected = ops.matmul(inputs, ops.cast(self.kernel, inputs.dtype)) + ops.cast(self.bias, inputs.dtype)
        return self.log_coefficients(ops.cast(projected, "float32"))  # (..., units) each

    def parallel_scan(self, sequences, states, mask, training=False):
        log_a, log_b = self._log_coefficients(sequences)  # (batch, time, units) each
        if mask is not None:
            keep = mask[:, :, None]  # (batch, time, 1)
            log_a = ops.where(keep, log_a, 0.0)
            log_b = ops.where(keep, log_b, LOG_ZERO)
        outputs = log_space_scan(log_a, log_b, states[0])  # (batch, time, units)
        # Masked steps carry the state, so the last step holds the state after the last unmasked one.
        return outputs, [outputs[:, -1]]

    def step(self, inputs, states, training=False):
        """One step in linear space, `h_t = a_t h_{t-1} + b_t`: `(h_t, [h_t])` for inputs `(batch, input_dim)`."""
        inputs = ops.convert_to_tensor(inputs, self.compute_dtype)
        if not self.built:
            self.build((None, None, tuple(inputs.shape)[-1]))
        log_a, log_b = self._log_coefficients(inputs)  # (batch, units) each
        (state,) = states if isinstance(states, (list, tuple)) else [states]
        state = ops.cast(state, "float32")
        state = ops.exp(log_a) * state + ops.exp(log_b)  # (batch, units)
        return ops.cast(state, self.compute_dtype), [state]

    def get_config(self):
        config = {
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
        return {**super().get_config(), **config}
