"""`MLSTM`: the matrix-memory LSTM of xLSTM (Beck et al. 2024), in parallel, chunkwise and recurrent forms."""

import math

import keras
import numpy as np
from keras import ops
from keras.src import backend

from lstm_keras.layers.head_norm import add_head_norm_weights
from lstm_keras.layers.head_norm import normalize_heads
from lstm_keras.layers.parallel_recurrence import ParallelRecurrence

# The log input gate at masked steps and the log weight above the diagonal: exp of it is 0 in float32,
# and unlike -inf it never makes exp(-inf - -inf) or gradients NaN.
LOG_ZERO = -1e30

MODES = ("parallel", "chunkwise", "recurrent")

# The smallest normaliser: exp(-m) underflows float32 once m > 87 (large input gates), and where the numerator
# is zero too (padded steps: q = 0) an unguarded division gives 0 / 0 and NaN gradients.
MIN_NORMALISER = 1e-12


@keras.saving.register_keras_serializable(package="lstm_keras")
class MLSTM(ParallelRecurrence):
    """The mLSTM: a matrix memory per head, exponential input gate, no hidden-to-hidden recurrence.

    Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory" (arXiv 2405.04517), eqs. 19-27 and
    appendix (the parallel form), per head of width `d = units // num_heads`, with scalar gates
    per head and an output gate over all units:

        q_t = x_t W_q + b_q,   k_t = (x_t W_k + b_k) / sqrt(d),   v_t = x_t W_v + b_v
        i~_t = x_t w_i + b_i,  f~_t = x_t w_f + b_f,  o_t = sigmoid(x_t W_o + b_o)
        i_t = exp(i~_t),       f_t = sigmoid(f~_t)    (log f_t = -softplus(-f~_t))
        C_t = f_t C_{t-1} + i_t v_t k_t^T             (d x d)
        n_t = f_t n_{t-1} + i_t k_t                   (d)
        h_t = o_t * (C_t q_t) / max(|n_t^T q_t|, 1)   (the heads concatenated)

    Computed stabilised (the paper's appendix): `m_t = max(log f_t + m_{t-1}, i~_t)`, `C` and
    `n` updated with `f' = exp(log f_t + m_{t-1} - m_t)` and `i' = exp(i~_t - m_t)`, and the
    floor 1 becomes `exp(-m_t)`, kept at least 1e-12 (`exp(-m_t)` underflows float32 for large
    input gates, and padded steps would divide 0 by 0): this changes the output only where the
    scaled `|n_t^T q_t|` is below 1e-12 too. The states `[C, n, m]` are therefore the scaled ones:
    the true memory is `C exp(m)` and the true normaliser `n exp(m)`. `C[h]` is stored as
    `(d_v, d_k)`, `C[h][a, b] = sum v_a k_b` (the paper's `v k^T`), so that `C q` reads
    `v (k^T q)`. `m` is defined canonically: unrolled, `m_t` is the largest log weight of the
    terms of `C_t`, `max(max_{s <= t} (sum_{s < j <= t} log f_j + i~_s), sum_{j <= t} log f_j
    + m_0)` (the last term is the initial state's, always present, so `m` is finite), and all
    three modes compute exactly this `m`: their states agree, not only up to the scaling.

    Modes (one function, any length, with or without an initial state or a mask):
    `"parallel"`: the O(T^2) form, log weights `log D[t, s] = sum_{s < j <= t} log f_j + i~_s`
    for `s <= t`, normalised by the row maximum `m_t`, and the initial state as one more
    source with log weight `sum_{j <= t} log f_j + m_0`. `"chunkwise"`: the sequence cut into
    chunks of `chunk_size` steps (the tail padded with masked steps); the parallel form inside
    every chunk from a zero state, all chunks at once, then a loop over chunks that carries only
    the states `(C, n, m)`, and each step combines its chunk's terms with the state before the
    chunk: linear memory in T, the fastest mode for long sequences. `"recurrent"`: a
    loop over time of `step`'s update. Masked steps keep the state (`log f = 0`, `i = 0`), so
    any mask works (right- or left-padded).

    `h~_t = (C_t q_t) / max(|n_t^T q_t|, 1)` is not bounded: where `n_t^T q_t` is small (keys of
    both signs under the query) it grows with the memory. With `head_norm=True` each head of it
    is normalised before the output gate, `h_t = o_t * GroupNorm_heads(h~_t)` (zero mean and unit
    variance over the head's `d` channels, then a learned scale and offset per channel), as the
    reference cell does (NX-AI/xlstm `mLSTMCell`, its `outnorm`). The task models' `mlstm` cell
    uses it: a stack of two bare mLSTMs trained as a language model had loss spikes above 30 nats
    and one run diverged (BENCHMARKS.md). The xLSTM block, which normalises the heads outside
    the cell, uses the bare cell.

    Weights: `query_kernel`, `key_kernel`, `value_kernel` and `output_gate_kernel`
    `(input_dim, units)` with `query_bias`, `key_bias`, `value_bias` and `output_gate_bias`
    `(units,)` (head `h` uses the units `h * d .. (h + 1) * d - 1`); `gate_kernel`
    `(input_dim, 2 * num_heads)` and `gate_bias` `(2 * num_heads,)` holding the input gates of
    the heads, then their forget gates. As in the official code (NX-AI/xlstm, `mLSTMCell`),
    `gate_kernel` starts at zeros, the input-gate biases are drawn from N(0, 0.1^2) and the
    forget-gate biases are `linspace(3, 6, num_heads)` (`f = sigmoid(3..6)` = 0.95..0.998: slow
    forgetting at the start). With `head_norm`, `head_norm_scale` and `head_norm_offset` `(units,)`
    (ones and zeros at first).

    Args:
        units: positive int, the size of the output (all heads together).
        num_heads: positive int dividing `units`, the number of heads.
        mode: `"parallel"`, `"chunkwise"` or `"recurrent"` (see above).
        chunk_size: positive int, the chunk length of `"chunkwise"`.
        head_norm: whether `h~_t` is normalised per head before the output gate (see above).
        return_sequences: whether to return the output of every step `(batch, time, units)` or
            the last one `(batch, units)`.
        return_state: whether to return `[output, C, n, m]`.
        go_backwards: whether to process the sequence backwards (outputs in processing order).
        stateful: whether the final states of each batch are the initial states of the next.
        kernel_initializer: the initializer of the query, key, value and output-gate kernels.
        bias_initializer: the initializer of the query, key, value and output-gate biases.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, time, input_dim)`.
        initial_state: optional list `[C, n, m]` of `(batch, heads, d, d)`, `(batch, heads, d)`,
            `(batch, heads)` (zeros by default), in the scaled form above.
        mask: optional boolean `(batch, time)`; masked steps keep the state and output zeros.
        training: unused (no dropout).

    Returns:
        The output (see `return_sequences`); with `return_state`, the list `[output, C, n, m]`
        of the final states. `step(x_t, [C, n, m])` maps `(batch, input_dim)` and the states to
        `(h_t, [C, n, m])` (the contract of `ParallelRecurrence`).

    Example:
    >>> layer = MLSTM(8, num_heads=2, mode="chunkwise", chunk_size=4, return_sequences=True,
    ...               return_state=True)
    >>> sequences, c, n, m = layer(np.ones((3, 10, 5), "float32"))
    >>> tuple(sequences.shape), tuple(c.shape), tuple(n.shape), tuple(m.shape)
    ((3, 10, 8), (3, 2, 4, 4), (3, 2, 4), (3, 2))
    >>> tuple(layer.query_kernel.shape), tuple(layer.gate_kernel.shape), tuple(layer.gate_bias.shape)
    ((5, 8), (5, 4), (4,))
    >>> tuple(layer.step(np.ones((3, 5), "float32"), [c, n, m])[0].shape)
    (3, 8)
    """

    def __init__(
        self,
        units,
        num_heads=1,
        mode="parallel",
        chunk_size=64,
        head_norm=False,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(units, return_sequences, return_state, go_backwards, stateful, **kwargs)
        if not _is_positive_int(num_heads) or self.units % num_heads:
            raise ValueError(
                f"Invalid value for argument `num_heads`: received {num_heads!r}; allowed: a positive int "
                f"that divides units={self.units}."
            )
        if mode not in MODES:
            raise ValueError(
                f"Invalid value for argument `mode`: received {mode!r}; allowed: "
                f"{', '.join(repr(m) for m in MODES)}."
            )
        if not _is_positive_int(chunk_size):
            raise ValueError(
                f"Invalid value for argument `chunk_size`: received {chunk_size!r}; allowed: a positive int."
            )
        self.num_heads = int(num_heads)
        self.head_size = self.units // self.num_heads
        self.mode = mode
        self.chunk_size = int(chunk_size)
        self.head_norm = bool(head_norm)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    @property
    def state_shapes(self):
        heads, d = self.num_heads, self.head_size
        return [(heads, d, d), (heads, d), (heads,)]

    def build_weights(self, input_dim):
        units, heads = self.units, self.num_heads
        for name in ("query", "key", "value", "output_gate"):
            setattr(self, f"{name}_kernel", self.add_weight(
                shape=(input_dim, units), initializer=self.kernel_initializer, name=f"{name}_kernel"))
            setattr(self, f"{name}_bias", self.add_weight(
                shape=(units,), initializer=self.bias_initializer, name=f"{name}_bias"))
        self.gate_kernel = self.add_weight(shape=(input_dim, 2 * heads), initializer="zeros", name="gate_kernel")
        self.gate_bias = self.add_weight(shape=(2 * heads,), initializer=_gate_bias_initializer, name="gate_bias")
        if self.head_norm:
            self.head_norm_scale, self.head_norm_offset = add_head_norm_weights(self, units)

    # ------------------------------------------------------------------ projections
    def _project(self, inputs):
        """q, k, v `(..., heads, d)`, log i, log f `(..., heads)` and o `(..., units)`, float32."""
        kernels = [self.query_kernel, self.key_kernel, self.value_kernel, self.output_gate_kernel, self.gate_kernel]
        biases = [self.query_bias, self.key_bias, self.value_bias, self.output_gate_bias, self.gate_bias]
        kernel = ops.cast(ops.concatenate(kernels, axis=1), inputs.dtype)  # (input_dim, 4 * units + 2 * heads)
        bias = ops.cast(ops.concatenate(biases, axis=0), inputs.dtype)
        projected = ops.cast(ops.matmul(inputs, kernel) + bias, "float32")  # (..., 4 * units + 2 * heads)
        units, heads, d = self.units, self.num_heads, self.head_size
        q, k, v, o, log_i, f_tilde = ops.split(projected, [units, 2 * units, 3 * units, 4 * units, 4 * units + heads],
                                               axis=-1)
        lead = ops.shape(inputs)[:-1]

        def heads_of(x):
            return ops.reshape(x, (*lead, heads, d))  # (..., heads, d)

        return (heads_of(q), heads_of(k) / math.sqrt(d), heads_of(v), log_i, -ops.softplus(-f_tilde),
                ops.sigmoid(o))

    # ------------------------------------------------------------------ the three forms
    def parallel_scan(self, sequences, states, mask, training=False):
        q, k, v, log_i, log_f, o = self._project(sequences)  # (batch, time, heads, d) / (batch, time, heads)
        if mask is not None:
            keep = mask[:, :, None]  # (batch, time, 1)
            log_i = ops.where(keep, log_i, LOG_ZERO)
            log_f = ops.where(keep, log_f, 0.0)
        # Heads first: (batch, heads, time, d) and (batch, heads, time).
        q, k, v = (ops.transpose(x, (0, 2, 1, 3)) for x in (q, k, v))
        log_i, log_f = (ops.transpose(x, (0, 2, 1)) for x in (log_i, log_f))
        if self.mode == "parallel":
            hidden, states = _parallel_form(q, k, v, log_i, log_f, states)
        elif self.mode == "chunkwise":
            hidden, states = self._chunkwise_form(q, k, v, log_i, log_f, states)
        else:
            hidden, states = _recurrent_form(q, k, v, log_i, log_f, states)
        hidden = ops.reshape(ops.transpose(hidden, (0, 2, 1, 3)), ops.shape(o))  # (batch, time, units)
        return self._gate(o, hidden), states

    def _chunkwise_form(self, q, k, v, log_i, log_f, states):
        """The parallel form inside every chunk at once, then a loop over chunks of the states only."""
        size = self.chunk_size
        time = ops.shape(q)[2]
        # Remainders of non-negative numbers only: tf2onnx converts a floor modulo of a negative
        # dynamic length as a truncated one (-1 % 4 == -1), which cropped the ONNX output.
        padding = (size - time % size) % size
        # The tail is padded with masked steps (log f = 0, log i = LOG_ZERO): they keep the state.
        q, k, v = (ops.pad(x, [[0, 0], [0, 0], [0, padding], [0, 0]]) for x in (q, k, v))
        log_f = ops.pad(log_f, [[0, 0], [0, 0], [0, padding]])
        log_i = ops.pad(log_i, [[0, 0], [0, 0], [0, padding]], constant_values=LOG_ZERO)
        batch, heads, d = ops.shape(q)[0], self.num_heads, self.head_size
        q, k, v = (ops.reshape(x, (batch, heads, -1, size, d)) for x in (q, k, v))  # (batch, heads, chunks, size, d)
        log_i, log_f = (ops.reshape(x, (batch, heads, -1, size)) for x in (log_i, log_f))

        # 1. Inside each chunk from a zero state, all chunks at once (the row maxima m_local leave out the state).
        cumulative = ops.cumsum(log_f, axis=-1)  # (batch, heads, chunks, size)
        log_d = _causal(cumulative[..., :, None] - cumulative[..., None, :] + log_i[..., None, :])  # (..., size, size)
        m_local = ops.max(log_d, axis=-1)  # (batch, heads, chunks, size)
        weights = ops.exp(log_d - m_local[..., None])  # (batch, heads, chunks, size, size)
        scores = ops.matmul(q, ops.swapaxes(k, -1, -2)) * weights  # (batch, heads, chunks, size, size)
        numerator = ops.matmul(scores, v)  # (batch, heads, chunks, size, d)
        denominator = ops.sum(scores, axis=-1)  # (batch, heads, chunks, size)
        # What each chunk adds to the states, scaled by exp(-m_local) of its last step.
        last = weights[..., -1, :, None]  # (batch, heads, chunks, size, 1)
        chunk_c = ops.matmul(ops.swapaxes(v * last, -1, -2), k)  # (batch, heads, chunks, d, d)
        chunk_n = ops.sum(k * last, axis=-2)  # (batch, heads, chunks, d)

        # 2. The states before each chunk: a loop over chunks (keras' rnn loops over axis 1 of one tensor).
        summaries = ops.concatenate([ops.reshape(chunk_c, (batch, heads, -1, d * d)), chunk_n,
                                     m_local[..., -1:], cumulative[..., -1:]], axis=-1)  # (..., chunks, d*d + d + 2)
        summaries = ops.moveaxis(summaries, 2, 1)  # (batch, chunks, heads, d * d + d + 2)

        def chunk_step(summary, carried):
            c, n, m = carried
            add_c, add_n, add_m, decay = ops.split(summary, [d * d, d * d + d, d * d + d + 1], axis=-1)
            add_m, decay = add_m[..., 0], decay[..., 0]  # (batch, heads)
            m_new = ops.maximum(decay + m, add_m)
            old, new = ops.exp(decay + m - m_new), ops.exp(add_m - m_new)  # (batch, heads)
            before = ops.concatenate([ops.reshape(c, (batch, heads, d * d)), n, m[..., None]], axis=-1)
            c = old[..., None, None] * c + new[..., None, None] * ops.reshape(add_c, (batch, heads, d, d))
            n = old[..., None] * n + new[..., None] * add_n
            return before, [c, n, m_new]

        _, before, states = backend.rnn(chunk_step, summaries, list(states))  # (batch, chunks, heads, d*d + d + 1)
        before = ops.moveaxis(before, 1, 2)  # (batch, heads, chunks, d * d + d + 1)
        c_0 = ops.reshape(before[..., :d * d], (batch, heads, -1, d, d))  # (batch, heads, chunks, d, d)
        n_0, m_0 = before[..., d * d:d * d + d], before[..., -1]  # (batch, heads, chunks, d), (batch, heads, chunks)

        # 3. Each step: its chunk's own terms and the state before the chunk, under the common maximum m.
        log_initial = cumulative + m_0[..., None]  # (batch, heads, chunks, size)
        m = ops.maximum(m_local, log_initial)
        local, initial = ops.exp(m_local - m), ops.exp(log_initial - m)  # (batch, heads, chunks, size)
        numerator = local[..., None] * numerator + initial[..., None] * ops.matmul(q, ops.swapaxes(c_0, -1, -2))
        denominator = local * denominator + initial * ops.sum(q * n_0[..., None, :], axis=-1)
        hidden = numerator / _normaliser(denominator, m)[..., None]  # (batch, heads, chunks, size, d)
        hidden = ops.reshape(hidden, (batch, heads, -1, d))  # (batch, heads, time + pad, d)
        return hidden[:, :, :time], states

    def step(self, inputs, states, training=False):
        """One recurrent step (stabilised): `(h_t, [C, n, m])` for inputs `(batch, input_dim)`."""
        inputs = ops.convert_to_tensor(inputs, self.compute_dtype)
        if not self.built:
            self.build((None, None, tuple(inputs.shape)[-1]))
        q, k, v, log_i, log_f, o = self._project(inputs)  # (batch, heads, d) / (batch, heads) / (batch, units)
        hidden, states = _recurrent_update((q, k, v, log_i, log_f), [ops.cast(s, "float32") for s in states])
        output = self._gate(o, ops.reshape(hidden, ops.shape(o)))  # (batch, units)
        return ops.cast(output, self.compute_dtype), states

    def _gate(self, o, hidden):
        """`o * h~`, or `o * GroupNorm_heads(h~)` with `head_norm`; `(..., units)` each."""
        if self.head_norm:
            hidden = normalize_heads(hidden, self.num_heads, self.head_norm_scale, self.head_norm_offset)
        return o * hidden

    def get_config(self):
        config = {
            "num_heads": self.num_heads,
            "mode": self.mode,
            "chunk_size": self.chunk_size,
            "head_norm": self.head_norm,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
        return {**super().get_config(), **config}


def _is_positive_int(value):
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= 1


def _gate_bias_initializer(shape, dtype=None):
    """Input gates ~ N(0, 0.1^2), forget gates linspace(3, 6): the official mLSTM initialisation."""
    heads = shape[0] // 2
    input_bias = keras.random.normal((heads,), stddev=0.1, dtype=dtype)
    forget_bias = ops.cast(ops.linspace(3.0, 6.0, heads), dtype)
    return ops.concatenate([input_bias, forget_bias], axis=0)


def _parallel_form(q, k, v, log_i, log_f, states):
    """The stabilised parallel form over `time` steps from the states `[C, n, m]`.

    q, k, v: `(batch, heads, time, d)`; log_i, log_f: `(batch, heads, time)`; C `(batch, heads, d, d)`
    (value x key), n `(batch, heads, d)`, m `(batch, heads)`. Returns the normalised hidden states
    `(batch, heads, time, d)` (before the output gate) and the final `[C, n, m]`.
    """
    c_0, n_0, m_0 = states
    cumulative = ops.cumsum(log_f, axis=-1)  # (batch, heads, time): F_t = sum_{j <= t} log f_j
    log_d = cumulative[..., :, None] - cumulative[..., None, :] + log_i[..., None, :]  # (batch, heads, time, time)
    log_d = _causal(log_d)
    log_initial = cumulative + m_0[..., None]  # (batch, heads, time): the initial state's log weight
    m = ops.maximum(ops.max(log_d, axis=-1), log_initial)  # (batch, heads, time)
    weights = ops.exp(log_d - m[..., None])  # (batch, heads, time, time)
    initial = ops.exp(log_initial - m)  # (batch, heads, time)
    scores = ops.matmul(q, ops.swapaxes(k, -1, -2)) * weights  # (batch, heads, time, time)
    numerator = ops.matmul(scores, v) + initial[..., None] * ops.matmul(q, ops.swapaxes(c_0, -1, -2))
    denominator = ops.sum(scores, axis=-1) + initial * ops.sum(q * n_0[..., None, :], axis=-1)  # (batch, heads, time)
    hidden = numerator / _normaliser(denominator, m)[..., None]  # (batch, heads, time, d)
    # The final states: the last row of the weights.
    last = weights[..., -1, :, None]  # (batch, heads, time, 1)
    initial_last = initial[..., -1]  # (batch, heads)
    c_t = ops.matmul(ops.swapaxes(v * last, -1, -2), k) + initial_last[..., None, None] * c_0  # (batch, heads, d, d)
    n_t = ops.sum(k * last, axis=-2) + initial_last[..., None] * n_0  # (batch, heads, d)
    return hidden, [c_t, n_t, m[..., -1]]


def _causal(log_d):
    """`log_d` `(..., time, time)` with `LOG_ZERO` above the diagonal (sources after the step)."""
    positions = ops.arange(ops.shape(log_d)[-1])
    return ops.where(positions[:, None] >= positions[None, :], log_d, LOG_ZERO)


def _normaliser(denominator, m):
    """`max(|n^T q|, exp(-m))` (the floor 1 in the scaled form), and at least `MIN_NORMALISER`."""
    return ops.maximum(ops.maximum(ops.abs(denominator), ops.exp(-m)), MIN_NORMALISER)


def _recurrent_update(inputs, states):
    """One stabilised step from q, k, v `(batch, heads, d)`, log i, log f `(batch, heads)` and `[C, n, m]`."""
    q, k, v, log_i, log_f = inputs
    c, n, m = states
    m_new = ops.maximum(log_f + m, log_i)  # (batch, heads)
    forget = ops.exp(log_f + m - m_new)[..., None]  # (batch, heads, 1)
    write = ops.exp(log_i - m_new)[..., None]  # (batch, heads, 1)
    c = forget[..., None] * c + (write * v)[..., :, None] * k[..., None, :]  # (batch, heads, d, d): value x key
    n = forget * n + write * k  # (batch, heads, d)
    numerator = ops.sum(c * q[..., None, :], axis=-1)  # (batch, heads, d): C q
    denominator = ops.sum(n * q, axis=-1)  # (batch, heads)
    hidden = numerator / _normaliser(denominator, m_new)[..., None]  # (batch, heads, d)
    return hidden, [c, n, m_new]


def _recurrent_form(q, k, v, log_i, log_f, states):
    """A loop over time of `_recurrent_update`; inputs as `_parallel_form`'s."""
    d = ops.shape(q)[-1]
    packed = ops.moveaxis(_pack(q, k, v, log_i, log_f), 2, 1)  # (batch, time, heads, 3 * d + 2)

    def time_step(inputs, carried):
        return _recurrent_update(_unpack(inputs, d), list(carried))

    _, hidden, states = backend.rnn(time_step, packed, list(states))  # (batch, time, heads, d)
    return ops.moveaxis(hidden, 1, 2), states  # (batch, heads, time, d)


def _pack(q, k, v, log_i, log_f):
    """One tensor `(..., 3 * d + 2)` of q, k, v `(..., d)` and log i, log f `(...)` (keras' rnn loops over one)."""
    return ops.concatenate([q, k, v, log_i[..., None], log_f[..., None]], axis=-1)


def _unpack(packed, d):
    """The inverse of `_pack`: q, k, v, log i, log f."""
    q, k, v, log_i, log_f = ops.split(packed, [d, 2 * d, 3 * d, 3 * d + 1], axis=-1)
    return q, k, v, log_i[..., 0], log_f[..., 0]
