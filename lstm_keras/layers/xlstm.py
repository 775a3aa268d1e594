"""The residual xLSTM blocks of Beck et al. 2024 (arXiv 2405.04517): `MLSTMBlock`, `SLSTMBlock`, and a stack of them.

xLSTM (§2.4, Fig. 10 and 11, appendix) puts each cell in a residual block with a pre-LayerNorm:

- the **mLSTM block** (pre-up-projection, like a state-space model block): the input goes up to two
  branches of `projection_factor * units`; one goes through a causal convolution, the mLSTM, a
  per-head GroupNorm and a learnable skip, and is gated by the other; the result goes back down to
  `units` and is added to the input;
- the **sLSTM block** (post-up-projection, like a Transformer block): the sLSTM and a per-head
  GroupNorm at width `units`, added to the input, then a gated MLP (GeLU) added to that.

The paper's defaults, which are the defaults here: 4 heads, projection factor 2 and a causal
convolution of kernel 4 in the mLSTM block, factor 4/3 for the gated MLP of the sLSTM block.
`xlstm_stack("7:1", ...)` gives the paper's xLSTM[7:1] mix (groups of 7 mLSTM blocks followed by
1 sLSTM block). The paper ends the stack with one more LayerNorm ("post-blocks norm"): a task model
that uses the stack applies it after the last block; the blocks do not.

Every block follows the contract of `ParallelRecurrence` (`initial_state`, `scan`, `step`,
`reset_state`, and `return_sequences`, `return_state`, `go_backwards`, `stateful`), so a block can
stand wherever a recurrent layer of `lstm_keras.layers` stands. A block whose input width differs
from `units` (the first block of a stack reading embeddings of another size) first projects its
input to `units` with a `Dense` layer; the residual is taken after that projection.
"""

import re

import keras
import numpy as np
from keras import ops

from lstm_keras.layers.gated_lstm import GatedLSTM
from lstm_keras.layers.head_norm import NORM_EPSILON
from lstm_keras.layers.head_norm import add_head_norm_weights
from lstm_keras.layers.head_norm import normalize_heads
from lstm_keras.layers.mlstm import MLSTM
from lstm_keras.layers.parallel_recurrence import ParallelRecurrence


@keras.saving.register_keras_serializable(package="lstm_keras")
class XLSTMBlock(ParallelRecurrence):
    """What the two xLSTM blocks share: the input projection, the inner recurrent layer and its states.

    A subclass defines `make_inner(width)` (the inner recurrent layer), `build_block(units)` (its
    other weights), `block_scan` and `block_step` (the block on a whole sequence, on one step).

    Args:
        units: positive int, the width of the residual stream (inputs after the projection, outputs).
        num_heads: positive int, the heads of the inner cell and of the per-head GroupNorm.
        return_sequences, return_state, go_backwards, stateful: as in `ParallelRecurrence`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).
    """

    def __init__(self, units, num_heads=4, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, **kwargs):
        super().__init__(units, return_sequences, return_state, go_backwards, stateful, **kwargs)
        _check_positive_int("num_heads", num_heads)
        self.num_heads = int(num_heads)
        self.input_projection = None
        self.inner = None

    # ------------------------------------------------------------------ what a subclass defines
    @property
    def inner_width(self):
        """The width of the inner recurrent layer."""
        return self.units

    @property
    def extra_state_shapes(self):
        """The shapes of the block's own states, after the inner layer's."""
        return []

    def make_inner(self, width):
        """The inner recurrent layer (following the `ParallelRecurrence` contract) of `width` units."""
        raise NotImplementedError

    def build_block(self, units):
        """Creates the block's weights around the inner layer."""
        raise NotImplementedError

    def block_scan(self, residual, inner_states, extra_states, mask, training):
        """`(outputs, inner states, extra states)` of the whole sequence `(batch, time, units)`."""
        raise NotImplementedError

    def block_step(self, residual, inner_states, extra_states, training):
        """`(output, inner states, extra states)` of one step `(batch, units)`."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the contract
    @property
    def state_shapes(self):
        return [*_state_shapes(self.inner), *self.extra_state_shapes]

    def build_weights(self, input_dim):
        if input_dim != self.units:
            self.input_projection = keras.layers.Dense(self.units, dtype=self.dtype_policy, name="input_projection")
            self.input_projection.build((None, None, input_dim))
        self.build_block(self.units)
        self.inner.build((None, None, self.inner_width))

    def _split_states(self, states):
        count = len(_state_shapes(self.inner))
        return list(states[:count]), list(states[count:])

    def _project(self, inputs):
        return inputs if self.input_projection is None else self.input_projection(inputs)  # (..., units)

    def parallel_scan(self, sequences, states, mask, training=False):
        inner_states, extra_states = self._split_states(states)
        residual = self._project(ops.cast(sequences, self.compute_dtype))  # (batch, time, units)
        outputs, inner_states, extra_states = self.block_scan(residual, inner_states, extra_states, mask, training)
        return outputs, [*inner_states, *extra_states]

    def step(self, inputs, states, training=False):
        """One step: `(output (batch, units), states)` from inputs `(batch, input_dim)`."""
        inputs = ops.convert_to_tensor(inputs, self.compute_dtype)
        if not self.built:
            self.build((None, None, tuple(inputs.shape)[-1]))
        states = [ops.cast(state, "float32") for state in states]
        inner_states, extra_states = self._split_states(states)
        residual = self._project(inputs)  # (batch, units)
        output, inner_states, extra_states = self.block_step(residual, inner_states, extra_states, training)
        return ops.cast(output, self.compute_dtype), [*inner_states, *extra_states]

    def _inner_states(self, states):
        # A `ParallelRecurrence` keeps float32 states; a Keras RNN (`GatedLSTM`) its compute dtype's.
        if isinstance(self.inner, ParallelRecurrence):
            return states
        return [ops.cast(state, self.inner.compute_dtype) for state in states]

    def _inner_scan(self, sequences, states, mask, training):
        outputs, states = self.inner.scan(sequences, self._inner_states(states), mask=mask, training=training)
        return outputs, [ops.cast(state, "float32") for state in states]

    def _inner_step(self, inputs, states, training):
        output, states = self.inner.step(inputs, self._inner_states(states), training=training)
        return output, [ops.cast(state, "float32") for state in states]

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads}


@keras.saving.register_keras_serializable(package="lstm_keras")
class MLSTMBlock(XLSTMBlock):
    """The residual mLSTM block of xLSTM, with pre-up-projection (Beck et al. 2024, §2.4, Fig. 11).

    With `E = round(projection_factor * units)` (divisible by `num_heads`) and `x_t` the input
    after the optional projection to `units` (the residual):

        u_t        = LayerNorm(x_t)
        a_t, b_t   = split(u_t W_up + b_up)                          (E each)
        c_t        = swish(sum_{j=0..K-1} w_j * a_{t-K+1+j} + b_conv)  (causal depthwise conv, K)
        h_t        = MLSTM(c)_t                                      (E, num_heads heads)
        y_t        = (GroupNorm_heads(h_t) + s * c_t) * swish(b_t)   (s: learnable skip, ones at first)
        out_t      = x_t + y_t W_down + b_down                       (units)

    `GroupNorm_heads` normalises each head's `E / num_heads` channels of one step (its own mean and
    variance) with a learned scale and offset per channel. Simplification: the paper feeds the
    queries and keys from the convolution branch `c` and the values from the pre-convolution `a`;
    our `MLSTM` takes one input for its queries, keys, values and gates, and gets `c`. Two more
    differences from the reference code (NX-AI/xlstm `mLSTMLayer`): its queries, keys and values
    come from full `Dense` projections (not block-diagonal "headwise" ones), and it keeps its own
    output gate `o_t` (the reference cell has none inside the block, where `swish(b_t)` gates).
    Every projection and norm has a bias (offset) here; the reference code's default has none.

    States: the `MLSTM`'s `[C (batch, H, d, d), n (batch, H, d), m (batch, H)]` followed by the
    convolution buffer `(batch, K - 1, E)`, the last `K - 1` inputs `a` of the convolution (zeros
    at first, the convolution's causal padding), so `step` gives exactly what `scan` gives on the
    whole sequence, also from a state. With a mask, the convolution reads only the unmasked steps
    (each step's window is the last `K` unmasked inputs, across the buffer) and masked steps keep
    every state, the buffer included: a masked sequence gives the outputs (at its unmasked steps)
    and the states of the same sequence with its masked steps removed, however the mask is laid out.

    Args:
        units: positive int, the width of the residual stream and of the output.
        num_heads: positive int, the heads of the `MLSTM` and of the GroupNorm (dividing `E`).
        projection_factor: positive float, the width `E` of the inner branches over `units`.
        conv_kernel_size: positive int `K`, the length of the causal convolution.
        chunk_size: positive int, the chunk length of the `MLSTM` in mode `"chunkwise"`.
        mode: `"chunkwise"`, `"parallel"` or `"recurrent"`: how the `MLSTM` runs a sequence.
        return_sequences, return_state, go_backwards, stateful: as in `ParallelRecurrence`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, time, input_dim)`; `input_dim != units` adds a `Dense` projection to `units`.
        initial_state: optional list of the four states.
        mask: optional boolean `(batch, time)`; masked steps keep the states and output zeros.
        training: passed to the `MLSTM`.

    Returns:
        The output (see `return_sequences`); with `return_state`, the list `[output, C, n, m, buffer]`.

    Example:
    >>> block = MLSTMBlock(8, num_heads=2, return_sequences=True, return_state=True)
    >>> outputs, *states = block(np.ones((2, 5, 3), "float32"))
    >>> tuple(outputs.shape), [tuple(state.shape) for state in states]
    ((2, 5, 8), [(2, 2, 8, 8), (2, 2, 8), (2, 2), (2, 3, 16)])
    >>> tuple(block.step(np.ones((2, 3), "float32"), states)[0].shape)
    (2, 8)
    """

    def __init__(self, units, num_heads=4, projection_factor=2.0, conv_kernel_size=4, chunk_size=64,
                 mode="chunkwise", return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 **kwargs):
        super().__init__(units, num_heads, return_sequences, return_state, go_backwards, stateful, **kwargs)
        if isinstance(projection_factor, bool) or not isinstance(projection_factor, (int, float, np.number)) \
                or projection_factor <= 0:
            raise ValueError(
                "Invalid value for argument `projection_factor`: expected a positive number. "
                f"Received: projection_factor={projection_factor!r}"
            )
        _check_positive_int("conv_kernel_size", conv_kernel_size)
        _check_positive_int("chunk_size", chunk_size)
        self.projection_factor = float(projection_factor)
        self.conv_kernel_size = int(conv_kernel_size)
        self.chunk_size = int(chunk_size)
        self.mode = mode
        width = self.inner_width
        if width % self.num_heads:
            raise ValueError(
                f"Invalid value for argument `num_heads`: it must divide the inner width round(projection_factor * "
                f"units) = {width}. Received: num_heads={num_heads!r}"
            )
        self.inner = self.make_inner(width)

    @property
    def inner_width(self):
        return int(round(self.projection_factor * self.units))

    @property
    def extra_state_shapes(self):
        return [(self.conv_kernel_size - 1, self.inner_width)]

    def make_inner(self, width):
        return MLSTM(width, num_heads=self.num_heads, mode=self.mode, chunk_size=self.chunk_size,
                     return_sequences=True, dtype=self.dtype_policy, name="mlstm")

    def build_block(self, units):
        width = self.inner_width
        self.norm = keras.layers.LayerNormalization(epsilon=NORM_EPSILON, dtype=self.dtype_policy, name="norm")
        self.norm.build((None, None, units))
        self.up_projection = keras.layers.Dense(2 * width, dtype=self.dtype_policy, name="up_projection")
        self.up_projection.build((None, None, units))
        self.conv_kernel = self.add_weight(shape=(self.conv_kernel_size, width), initializer="glorot_uniform",
                                           name="conv_kernel")
        self.conv_bias = self.add_weight(shape=(width,), initializer="zeros", name="conv_bias")
        self.head_norm_scale, self.head_norm_offset = add_head_norm_weights(self, width)
        self.skip = self.add_weight(shape=(width,), initializer="ones", name="skip")
        self.down_projection = keras.layers.Dense(units, dtype=self.dtype_policy, name="down_projection")
        self.down_projection.build((None, None, width))

    def _branches(self, residual):
        return ops.split(self.up_projection(self.norm(residual)), 2, axis=-1)  # (..., E) each

    def _gate_down(self, residual, hidden, conv, gate):
        hidden = normalize_heads(hidden, self.num_heads, self.head_norm_scale, self.head_norm_offset)  # (..., E)
        hidden = (hidden + ops.cast(self.skip, hidden.dtype) * conv) * ops.silu(gate)  # (..., E)
        return residual + self.down_projection(hidden)  # (..., units)

    def block_scan(self, residual, inner_states, extra_states, mask, training):
        (buffer,) = extra_states
        branch, gate = self._branches(residual)  # (batch, time, E) each
        conv, buffer = self._causal_conv(branch, buffer, mask)  # (batch, time, E), (batch, K - 1, E)
        conv = ops.silu(conv)
        hidden, inner_states = self._inner_scan(conv, inner_states, mask, training)  # (batch, time, E)
        return self._gate_down(residual, hidden, conv, gate), inner_states, [buffer]

    def block_step(self, residual, inner_states, extra_states, training):
        (buffer,) = extra_states
        branch, gate = self._branches(residual)  # (batch, E) each
        window = ops.concatenate([ops.cast(buffer, branch.dtype), branch[:, None]], axis=1)  # (batch, K, E)
        conv = ops.sum(window * ops.cast(self.conv_kernel, branch.dtype), axis=1)  # (batch, E)
        conv = ops.silu(conv + ops.cast(self.conv_bias, conv.dtype))
        hidden, inner_states = self._inner_step(conv, inner_states, training)  # (batch, E)
        output = self._gate_down(residual, ops.cast(hidden, conv.dtype), conv, gate)
        return output, inner_states, [ops.cast(window[:, 1:], "float32")]

    def _causal_conv(self, branch, buffer, mask):
        """The causal depthwise convolution of `branch` after `buffer`, and the new buffer (see the docstring)."""
        kernel_size, steps = self.conv_kernel_size, ops.shape(branch)[1]
        if mask is not None:
            # Move the unmasked steps to the front (in order): the convolution reads only them.
            positions = ops.arange(steps, dtype="int32")[None, :]  # (1, time)
            keys = ops.where(mask, positions, positions + steps)  # (batch, time), distinct
            order = ops.argsort(keys, axis=1)  # (batch, time)
            branch = ops.take_along_axis(branch, order[:, :, None], axis=1)  # (batch, time, E)
        padded = ops.concatenate([ops.cast(buffer, branch.dtype), branch], axis=1)  # (batch, K - 1 + time, E)
        kernel = ops.cast(self.conv_kernel, branch.dtype)
        conv = ops.cast(self.conv_bias, branch.dtype)
        for j in range(kernel_size):
            conv = conv + padded[:, j:j + steps] * kernel[j]  # (batch, time, E)
        if mask is None:
            return conv, ops.cast(padded[:, steps:], "float32")
        # Back to the original positions: a step's output is that of its rank among the unmasked steps.
        count = ops.cumsum(ops.cast(mask, "int32"), axis=1)  # (batch, time)
        conv = ops.take_along_axis(conv, ops.maximum(count - 1, 0)[:, :, None], axis=1)  # (batch, time, E)
        last = count[:, -1:] + ops.arange(kernel_size - 1, dtype="int32")[None, :]  # (batch, K - 1)
        buffer = ops.take_along_axis(padded, last[:, :, None], axis=1)  # (batch, K - 1, E)
        return conv, ops.cast(buffer, "float32")

    def get_config(self):
        config = {
            "projection_factor": self.projection_factor,
            "conv_kernel_size": self.conv_kernel_size,
            "chunk_size": self.chunk_size,
            "mode": self.mode,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="lstm_keras")
class SLSTMBlock(XLSTMBlock):
    """The residual sLSTM block of xLSTM, with post-up-projection (Beck et al. 2024, §2.4, Fig. 10).

    With `F = round(ffn_factor * units)` and `x_t` the input after the optional projection to
    `units` (the residual):

        h_t        = sLSTM(LayerNorm(x))_t                     (GatedLSTM(units, variant="slstm"))
        r_t        = x_t + GroupNorm_heads(h_t)
        a_t, b_t   = split(LayerNorm(r_t) W_up + b_up)          (F each)
        out_t      = r_t + (GeLU(a_t) * b_t) W_down + b_down     (units)

    `GroupNorm_heads` normalises each head's `units / num_heads` channels of one step with a learned
    scale and offset per channel; GeLU is the exact (erf) one. Simplification: the paper may put a
    causal convolution (kernel 4, swish) before the sLSTM's input and forget gates; this block has
    none, so its only state is the sLSTM's `[h, c, n, m]` (each `(batch, units)`), and masked steps
    keep it.

    Args:
        units: positive int, the width of the residual stream, of the sLSTM and of the output.
        num_heads: positive int dividing `units`, the heads of the sLSTM and of the GroupNorm.
        ffn_factor: positive float, the width `F` of the gated MLP's branches over `units`.
        return_sequences, return_state, go_backwards, stateful: as in `ParallelRecurrence`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, time, input_dim)`; `input_dim != units` adds a `Dense` projection to `units`.
        initial_state: optional list of the four states `[h, c, n, m]`.
        mask: optional boolean `(batch, time)`; masked steps keep the states and output zeros.
        training: passed to the sLSTM (dropout, if any).

    Returns:
        The output (see `return_sequences`); with `return_state`, the list `[output, h, c, n, m]`.

    Example:
    >>> block = SLSTMBlock(8, num_heads=2, return_sequences=True, return_state=True)
    >>> outputs, *states = block(np.ones((2, 5, 3), "float32"))
    >>> tuple(outputs.shape), [tuple(state.shape) for state in states]
    ((2, 5, 8), [(2, 8), (2, 8), (2, 8), (2, 8)])
    >>> tuple(block.step(np.ones((2, 3), "float32"), states)[0].shape)
    (2, 8)
    """

    def __init__(self, units, num_heads=4, ffn_factor=4 / 3, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, **kwargs):
        super().__init__(units, num_heads, return_sequences, return_state, go_backwards, stateful, **kwargs)
        if isinstance(ffn_factor, bool) or not isinstance(ffn_factor, (int, float, np.number)) or ffn_factor <= 0:
            raise ValueError(
                "Invalid value for argument `ffn_factor`: expected a positive number. "
                f"Received: ffn_factor={ffn_factor!r}"
            )
        if self.units % self.num_heads:
            raise ValueError(
                f"Invalid value for argument `num_heads`: it must divide units={self.units}. "
                f"Received: num_heads={num_heads!r}"
            )
        self.ffn_factor = float(ffn_factor)
        self.inner = self.make_inner(self.units)

    @property
    def ffn_width(self):
        """The width `F` of each branch of the gated MLP."""
        return max(1, int(round(self.ffn_factor * self.units)))

    def make_inner(self, width):
        return GatedLSTM(width, variant="slstm", num_heads=self.num_heads, return_sequences=True,
                         dtype=self.dtype_policy, name="slstm")

    def build_block(self, units):
        self.norm = keras.layers.LayerNormalization(epsilon=NORM_EPSILON, dtype=self.dtype_policy, name="norm")
        self.norm.build((None, None, units))
        self.head_norm_scale, self.head_norm_offset = add_head_norm_weights(self, units)
        self.ffn_norm = keras.layers.LayerNormalization(epsilon=NORM_EPSILON, dtype=self.dtype_policy,
                                                        name="ffn_norm")
        self.ffn_norm.build((None, None, units))
        self.ffn_up = keras.layers.Dense(2 * self.ffn_width, dtype=self.dtype_policy, name="ffn_up")
        self.ffn_up.build((None, None, units))
        self.ffn_down = keras.layers.Dense(units, dtype=self.dtype_policy, name="ffn_down")
        self.ffn_down.build((None, None, self.ffn_width))

    def _after_cell(self, residual, hidden):
        hidden = ops.cast(hidden, residual.dtype)
        residual = residual + normalize_heads(hidden, self.num_heads, self.head_norm_scale, self.head_norm_offset)
        branch, gate = ops.split(self.ffn_up(self.ffn_norm(residual)), 2, axis=-1)  # (..., F) each
        return residual + self.ffn_down(keras.activations.gelu(branch, approximate=False) * gate)  # (..., units)

    def block_scan(self, residual, inner_states, extra_states, mask, training):
        hidden, inner_states = self._inner_scan(self.norm(residual), inner_states, mask, training)  # (b, t, units)
        return self._after_cell(residual, hidden), inner_states, extra_states

    def block_step(self, residual, inner_states, extra_states, training):
        hidden, inner_states = self._inner_step(self.norm(residual), inner_states, training)  # (batch, units)
        return self._after_cell(residual, hidden), inner_states, extra_states

    def get_config(self):
        return {**super().get_config(), "ffn_factor": self.ffn_factor}


BLOCKS = {"mlstm": MLSTMBlock, "slstm": SLSTMBlock}


def xlstm_block(kind, units, **kwargs):
    """One xLSTM block: `kind` is `"mlstm"` (`MLSTMBlock`) or `"slstm"` (`SLSTMBlock`).

    Example:
    >>> type(xlstm_block("slstm", 8, num_heads=2)).__name__
    'SLSTMBlock'
    """
    if kind not in BLOCKS:
        raise ValueError(f"Invalid value for argument `kind`: received {kind!r}; allowed: {sorted(BLOCKS)}.")
    return BLOCKS[kind](units, **kwargs)


def xlstm_stack(pattern, units, num_blocks, **kwargs):
    """The list of `num_blocks` xLSTM blocks, in groups of `A` mLSTM blocks followed by `B` sLSTM blocks.

    Args:
        pattern: a string `"A:B"` of two non-negative ints, not both zero: the paper's xLSTM[A:B]
            (e.g. `"1:1"`, `"7:1"`, `"1:0"` for mLSTM blocks only). The last group is cut at
            `num_blocks`.
        units: the width of every block.
        num_blocks: positive int, the number of blocks.
        **kwargs: the blocks' arguments; those only one kind takes (`projection_factor`,
            `conv_kernel_size`, `chunk_size`, `mode` for mLSTM blocks, `ffn_factor` for sLSTM blocks)
            go to that kind only. `return_sequences` defaults to True (blocks feed blocks); a `name`
            becomes `name_0`, `name_1`, ...

    Returns:
        A list of `MLSTMBlock` and `SLSTMBlock`, to apply in order (then a task model's final
        LayerNorm, the paper's post-blocks norm).

    Example:
    >>> [type(block).__name__ for block in xlstm_stack("1:1", 8, 3, num_heads=2)]
    ['MLSTMBlock', 'SLSTMBlock', 'MLSTMBlock']
    """
    _check_positive_int("num_blocks", num_blocks)
    kinds = block_kinds(parse_pattern(pattern), num_blocks)
    only = {"mlstm": ("projection_factor", "conv_kernel_size", "chunk_size", "mode"), "slstm": ("ffn_factor",)}
    kwargs.setdefault("return_sequences", True)
    name = kwargs.pop("name", None)
    blocks = []
    for index, kind in enumerate(kinds):
        other = only["slstm" if kind == "mlstm" else "mlstm"]
        block_kwargs = {key: value for key, value in kwargs.items() if key not in other}
        if name is not None:
            block_kwargs["name"] = f"{name}_{index}"
        blocks.append(xlstm_block(kind, units, **block_kwargs))
    return blocks


def parse_pattern(pattern):
    """`(A, B)` of the pattern `"A:B"` (A mLSTM blocks per B sLSTM blocks); ValueError naming `pattern` otherwise.

    Example:
    >>> parse_pattern("7:1")
    (7, 1)
    """
    match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", pattern) if isinstance(pattern, str) else None
    if match is None or int(match.group(1)) + int(match.group(2)) == 0:
        raise ValueError(
            f"Invalid value for argument `pattern`: received {pattern!r}; allowed: a string 'A:B' of two "
            "non-negative integers, not both 0 (e.g. '1:1', '7:1')."
        )
    return int(match.group(1)), int(match.group(2))


def block_kinds(ratio, num_blocks):
    """The kinds (`"mlstm"`, `"slstm"`) of `num_blocks` blocks in groups of A mLSTM then B sLSTM blocks.

    Example:
    >>> block_kinds((1, 1), 3)
    ['mlstm', 'slstm', 'mlstm']
    >>> block_kinds((0, 1), 2)
    ['slstm', 'slstm']
    """
    mlstm_blocks, slstm_blocks = ratio
    group = ["mlstm"] * mlstm_blocks + ["slstm"] * slstm_blocks
    return [group[index % len(group)] for index in range(num_blocks)]


def _state_shapes(layer):
    """The per-example state shapes of a recurrent layer: `state_shapes`, or a Keras RNN cell's `state_size`."""
    if hasattr(layer, "state_shapes"):
        return list(layer.state_shapes)
    sizes = layer.cell.state_size
    return [tuple(size) if isinstance(size, (list, tuple)) else (size,) for size in _as_list(sizes)]


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Invalid value for argument `{name}`: expected a positive int. Received: {name}={value!r}")
