"""`GatedLSTMCell`: an LSTM cell whose every gate is selectable, and the sLSTM variant."""

import math

import keras
from keras import activations
from keras import constraints
from keras import initializers
from keras import ops
from keras import regularizers
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from lstm_keras.layers import gating

# The weight blocks of `kernel`, `recurrent_kernel` and `bias`, in the order of keras.layers.LSTMCell.
BLOCK_ORDER = ("input", "forget", "candidate", "output")
LAYER_NORM_EPSILON = 1e-5
# The sLSTM's normaliser is >= 1 after any step from an empty memory; a zero one (an empty memory:
# a zero initial state, masked first steps) divides by this instead, giving h = 0 rather than NaN.
SLSTM_EMPTY_NORMALISER = 1.0


@keras.saving.register_keras_serializable(package="lstm_keras")
class GatedLSTMCell(keras.layers.Layer, DropoutRNNCell):
    """An LSTM cell whose input, forget and output gates are each selectable.

    The equations (Hochreiter & Schmidhuber 1997; Gers et al. 2000), with `σ` the
    `recurrent_activation`, `g` the `activation` and `a` the `output_activation`:

        i_t = σ(x_t W_i + h_{t-1} U_i + b_i [+ p_i ⊙ c_{t-1}] [+ γ_{t-1} R_i])
        f_t = σ(x_t W_f + h_{t-1} U_f + b_f [+ p_f ⊙ c_{t-1}] [+ γ_{t-1} R_f])   (or 1 - i_t: CIFG)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g(x_t W_c + h_{t-1} U_c + b_c)
        o_t = σ(x_t W_o + h_{t-1} U_o + b_o [+ p_o ⊙ c_t] [+ γ_{t-1} R_o])
        h_t = o_t ⊙ a(c_t)

    A gate that is `"none"` is the constant 1, a float is a fixed value; only learned gates have
    weights. Peepholes `p` are from Gers & Schmidhuber (2000); full gate recurrence `γ_{t-1}`
    (the previous activations of the learned gates, weights `R`) and the variant names from
    Greff et al. (2017). With `layer_norm` (Ba et al. 2016) `x W` and `h U` are normalised per
    gate block (learned gains) and `a` is applied to the normalised `c_t`. With `time_gate`
    (Phased LSTM, Neil et al. 2016) a per-unit openness `k_t ∈ [0, 1]` from a learned period
    `τ`, shift `s` and open ratio `r` mixes the update into the previous state,
    `c_t ← k_t c_t + (1 - k_t) c_{t-1}` (and the same for `h_t`), where with
    `φ_t = ((t - s) mod τ) / τ`: `k_t = 2φ_t/r` if `φ_t < r/2`, `2 - 2φ_t/r` if `φ_t < r`, and
    `α φ_t` otherwise (the leak `α` only in training); `t` is the given timestamp, or else a clock
    kept in the state that counts the steps processed (masked steps do not count). With zoneout
    (Krueger et al. 2017) each unit keeps its previous value with probability `zoneout_cell` /
    `zoneout_hidden` in training; at inference the expectation is used:
    `c_t ← p c_{t-1} + (1 - p) c_t`.

    Weights (by name): `kernel` `(input_dim, n * units)`, `recurrent_kernel` `(units, n * units)`,
    `bias` `(n * units,)` with blocks in the order input, forget, candidate, output keeping only the
    learned gates (so the default is exactly the layout of `keras.layers.LSTMCell`);
    `peephole_input` / `peephole_forget` / `peephole_output` `(units,)`; `gate_recurrent_kernel`
    `(g * units, g * units)` for full gate recurrence over the `g` learned gates; `time_period`,
    `time_shift`, `time_ratio` `(units,)`; `input_norm_gain`, `recurrent_norm_gain`
    `(n * units,)`, `cell_norm_gain`, `cell_norm_bias` `(units,)` for layer norm.

    States: `[h, c]`, plus the previous gate activations `(g * units)` with full gate recurrence,
    plus a time counter `(1,)` with the time gate.

    sLSTM (`variant="slstm"`; Beck et al. 2024, xLSTM, arXiv 2405.04517, eqs. 8-17): exponential
    input gate, a normaliser state `n`, and memory mixing only inside `num_heads` heads of
    `d = units / num_heads` units, with `g` the `activation` (tanh), `σ` the sigmoid:

        ĩ, f̃, z̃, õ = x_t W + h_{t-1} R + b     (R block-diagonal over heads)
        i = exp(ĩ),  f = σ(f̃) or exp(f̃) (`forget_gate_activation`),  z = g(z̃),  o = σ(õ)
        c_t = f c_{t-1} + i z,  n_t = f n_{t-1} + i,  h_t = o c_t / n_t

    computed in the stabilised form (eqs. 15-17) with the state `m`, where `log f = -softplus(-f̃)`
    (sigmoid) or `f̃` (exp):

        m_t = max(log f + m_{t-1}, ĩ)   (m_t = ĩ where n_{t-1} = 0: an empty memory)
        i' = exp(ĩ - m_t),  f' = exp(log f + m_{t-1} - m_t)
        c_t = f' c_{t-1} + i' z,  n_t = f' n_{t-1} + i',  h_t = o c_t / n_t

    `c` and `n` are both the unstabilised ones times `exp(-m_t)`, so `h` is exactly the
    unstabilised output; a zero `n` (an empty memory) gives `h = 0`. Weights: `kernel`
    `(input_dim, 4 * units)` and `bias` `(4 * units,)` in the blocks input, forget, candidate,
    output (as above); `recurrent_kernel` `(num_heads, d, 4 * d)`: head `k` maps
    `h_{t-1}[k d:(k + 1) d]` to its own four gate blocks, columns `[i_k, f_k, z_k, o_k]` each `d`
    wide, i.e. `recurrent_kernel[k, j, b d + e]` is the weight from unit `k d + j` of `h_{t-1}` to
    column `b * units + k d + e` of the global `(4 * units)` layout (block `b` in input, forget,
    candidate, output); `recurrent_matrix()` is that block-diagonal `(units, 4 * units)` matrix.
    States: `[h, c, n, m]`, each `(batch, units)`. Options outside these equations (peepholes,
    fixed, removed or coupled gates, full gate recurrence, time gate, zoneout, layer norm, an
    output activation) are errors.

    Args:
        units: positive int, the size of `h` and `c`.
        variant: None, a preset name of `lstm_keras.layers.VARIANTS` (e.g. `"cifg"`; explicit
            options below override the preset) or `"slstm"` (`gating.CELL_VARIANTS`, see above).
        input_gate, forget_gate, output_gate: `"learned"` (default), `"none"` (removed, constant
            1) or a float in [0, 1] (fixed); the forget gate may also be `"coupled"` (`f = 1 - i`).
        peepholes: True (every learned gate), False, or a list of gate names.
        full_gate_recurrence: previous gate activations feed all gates (FGR).
        activation: the candidate activation (default tanh; `"linear"` gives NIAF).
        output_activation: `a` in `h = o * a(c)` (default tanh; `"linear"` gives NOAF).
        recurrent_activation: the gates' activation (default sigmoid).
        use_bias: whether the gates and candidate have a bias.
        forget_bias_init: `"one"` (Jozefowicz et al. 2015, default), `"zero"` or `"chrono"`
            (Tallec & Ollivier 2018: `b_f = log U(1, T - 1)`, `b_i = -b_f`).
        chrono_max_length: `T` of the chrono initialisation, the longest expected dependency.
        zoneout_cell, zoneout_hidden: zoneout probabilities in [0, 1).
        time_gate: whether to use the Phased LSTM time gate.
        time_gate_max_period: periods are initialised as `exp(U(log 2, log max_period))`.
        time_gate_ratio: the initial open ratio `r`.
        time_gate_train_ratio: whether `r` is learned.
        time_gate_leak: the leak `α` outside the open phase in training.
        layer_norm: whether to use layer normalisation.
        kernel_initializer, recurrent_initializer, bias_initializer, peephole_initializer:
            initializers.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: constraints.
        dropout: input dropout rate (one mask per sequence).
        recurrent_dropout: dropout rate on `h_{t-1}` (one mask per sequence).
        seed: the random seed of dropout, zoneout and random initialisations.
        num_heads: sLSTM only: the heads of the block-diagonal recurrent kernel (divides units).
        forget_gate_activation: sLSTM only: `"sigmoid"` (default) or `"exp"`.

    Call arguments:
        inputs: `(batch, input_dim)`, one time step.
        states: the list of state tensors (see States).
        training: whether dropout and zoneout are active.

    Returns:
        `h` `(batch, units)` and the list of new states.

    Example:
    >>> cell = GatedLSTMCell(8, variant="cifg")
    >>> layer = keras.layers.RNN(cell)
    >>> tuple(layer(keras.ops.ones((2, 5, 3))).shape)
    (2, 8)
    >>> [w.name for w in cell.weights]
    ['kernel', 'recurrent_kernel', 'bias']
    >>> tuple(cell.kernel.shape)
    (3, 24)
    >>> slstm = GatedLSTMCell(8, variant="slstm", num_heads=2)
    >>> tuple(keras.layers.RNN(slstm)(keras.ops.ones((2, 5, 3))).shape)
    (2, 8)
    >>> tuple(slstm.recurrent_kernel.shape), slstm.state_size
    ((2, 4, 16), [8, 8, 8, 8])
    """

    def __init__(
        self,
        units,
        variant=None,
        input_gate=None,
        forget_gate=None,
        output_gate=None,
        peepholes=None,
        full_gate_recurrence=None,
        activation=None,
        output_activation=None,
        recurrent_activation="sigmoid",
        use_bias=True,
        forget_bias_init="one",
        chrono_max_length=None,
        zoneout_cell=None,
        zoneout_hidden=None,
        time_gate=None,
        time_gate_max_period=100.0,
        time_gate_ratio=0.05,
        time_gate_train_ratio=True,
        time_gate_leak=0.001,
        layer_norm=None,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        peephole_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        num_heads=1,
        forget_gate_activation=None,
        **kwargs,
    ):
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Invalid value for argument `units`: received {units!r}; allowed: a positive int.")
        super().__init__(**kwargs)
        options = gating.resolve_gating(
            variant,
            input_gate=input_gate,
            forget_gate=forget_gate,
            output_gate=output_gate,
            peepholes=peepholes,
            full_gate_recurrence=full_gate_recurrence,
            activation=activation,
            output_activation=output_activation,
            zoneout_cell=zoneout_cell,
            zoneout_hidden=zoneout_hidden,
            time_gate=time_gate,
            layer_norm=layer_norm,
        )
        gating.check_forget_bias_init(forget_bias_init, chrono_max_length)
        self.num_heads, self.forget_gate_activation = gating.resolve_slstm(
            variant, units, num_heads, forget_gate_activation, recurrent_activation
        )
        self.slstm = variant == gating.SLSTM
        self.units = units
        self.variant = variant
        self.input_gate = options["input_gate"]
        self.forget_gate = options["forget_gate"]
        self.output_gate = options["output_gate"]
        self.peepholes = options["peepholes"]
        self.full_gate_recurrence = options["full_gate_recurrence"]
        self.activation = activations.get(options["activation"])
        self.output_activation = activations.get(options["output_activation"])
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.forget_bias_init = forget_bias_init
        self.chrono_max_length = chrono_max_length
        self.zoneout_cell = options["zoneout_cell"]
        self.zoneout_hidden = options["zoneout_hidden"]
        self.time_gate = options["time_gate"]
        self.time_gate_max_period = float(time_gate_max_period)
        self.time_gate_ratio = float(time_gate_ratio)
        self.time_gate_train_ratio = time_gate_train_ratio
        self.time_gate_leak = float(time_gate_leak)
        self.layer_norm = options["layer_norm"]
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.peephole_initializer = initializers.get(peephole_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = gating.check_rate("dropout", dropout)
        self.recurrent_dropout = gating.check_rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)

        gates = {g: getattr(self, f"{g}_gate") for g in gating.GATES}
        # The weight blocks present, in keras.layers.LSTMCell order; the candidate is always there.
        self.blocks = tuple(b for b in BLOCK_ORDER if b == "candidate" or gates[b] == gating.LEARNED)
        # The gates whose previous activations feed back with full gate recurrence.
        self.learned_gates = tuple(gating.learned_gates({f"{g}_gate": s for g, s in gates.items()}))
        self.state_size = [units, units, units, units] if self.slstm else [units, units]
        if self.full_gate_recurrence:
            self.state_size.append(len(self.learned_gates) * units)
        if self.time_gate:
            self.state_size.append(1)
        self.output_size = units

    @property
    def fused_kernel_compatible(self):
        """Whether these are the standard LSTM equations that the backends' fused kernels compute."""
        return (
            len(self.blocks) == 4
            and not self.slstm
            and not (self.peepholes or self.full_gate_recurrence or self.time_gate or self.layer_norm)
            and not (self.zoneout_cell or self.zoneout_hidden or self.recurrent_dropout)
            and self.activation is activations.tanh
            and self.output_activation is activations.tanh
            and self.recurrent_activation is activations.sigmoid
            and self.use_bias
        )

    def build(self, input_shape):
        input_dim = input_shape[-1]
        n = len(self.blocks) * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, n), name="kernel", initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
        )
        recurrent_shape = (self.units, n)
        if self.slstm:
            d = self.units // self.num_heads
            recurrent_shape = (self.num_heads, d, 4 * d)
        self.recurrent_kernel = self.add_weight(
            shape=recurrent_shape, name="recurrent_kernel", initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(n,), name="bias", initializer=self._initial_bias,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
            )
        self.peephole = {
            gate: self.add_weight(shape=(self.units,), name=f"peephole_{gate}", initializer=self.peephole_initializer)
            for gate in self.peepholes
        }
        if self.full_gate_recurrence:
            g = len(self.learned_gates) * self.units
            self.gate_recurrent_kernel = self.add_weight(
                shape=(g, g), name="gate_recurrent_kernel", initializer=self.recurrent_initializer,
                regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint,
            )
        if self.time_gate:
            self.time_period = self.add_weight(
                shape=(self.units,), name="time_period", initializer=self._initial_period
            )
            self.time_shift = self.add_weight(shape=(self.units,), name="time_shift", initializer=self._initial_shift)
            self.time_ratio = self.add_weight(
                shape=(self.units,), name="time_ratio",
                initializer=initializers.Constant(self.time_gate_ratio), trainable=self.time_gate_train_ratio,
            )
        if self.layer_norm:
            self.input_norm_gain = self.add_weight(shape=(n,), name="input_norm_gain", initializer="ones")
            self.recurrent_norm_gain = self.add_weight(shape=(n,), name="recurrent_norm_gain", initializer="ones")
            self.cell_norm_gain = self.add_weight(shape=(self.units,), name="cell_norm_gain", initializer="ones")
            self.cell_norm_bias = self.add_weight(shape=(self.units,), name="cell_norm_bias", initializer="zeros")
        self.built = True

    def _initial_bias(self, shape, dtype=None):
        units = self.units
        parts = {b: self.bias_initializer((units,), dtype=dtype) for b in self.blocks}
        if self.forget_bias_init == "one" and "forget" in parts:
            parts["forget"] = ops.ones((units,), dtype=dtype)
        elif self.forget_bias_init == "chrono":
            # Tallec & Ollivier 2018: b_f ~ log U(1, T - 1), b_i = -b_f.
            u = initializers.RandomUniform(1.0, self.chrono_max_length - 1.0, seed=self.seed)((units,), dtype=dtype)
            if "forget" in parts:
                parts["forget"] = ops.log(u)
            if "input" in parts:
                parts["input"] = -ops.log(u)
        return ops.concatenate([parts[b] for b in self.blocks])  # (n * units,)

    def _initial_period(self, shape, dtype=None):
        log_period = initializers.RandomUniform(math.log(2.0), math.log(self.time_gate_max_period), seed=self.seed)
        return ops.exp(log_period(shape, dtype=dtype))  # (units,)

    def _initial_shift(self, shape, dtype=None):
        return initializers.RandomUniform(0.0, 1.0, seed=self.seed)(shape, dtype=dtype) * self.time_period

    def project_inputs(self, inputs):
        """The input part of every block, `x W (+ layer norm) + b`, for one step or a whole sequence.

        Args:
            inputs: `(batch, input_dim)` or `(batch, time, input_dim)`.

        Returns:
            `(batch, n * units)` or `(batch, time, n * units)`.
        """
        z = ops.matmul(inputs, self.kernel)  # (..., n * units)
        if self.layer_norm:
            z = self._block_norm(z, self.input_norm_gain)
        if self.use_bias:
            z = z + self.bias
        return z

    def recurrent_matrix(self):
        """The recurrent kernel as one `(units, n * units)` matrix in the global block layout.

        The `recurrent_kernel` itself, except for sLSTM, whose `(num_heads, d, 4 d)` heads are
        placed on the diagonal: a loop computes this once and then does one matrix product a step.
        """
        if not self.slstm:
            return self.recurrent_kernel
        heads, d = self.num_heads, self.units // self.num_heads
        eye = ops.eye(heads, dtype=self.recurrent_kernel.dtype)
        # Row (k, j) feeds only head k: [k, j, l, e] = R[k, j, e] if l == k else 0.
        dense = ops.einsum("kje,kl->kjle", self.recurrent_kernel, eye)  # (heads, d, heads, 4 d)
        dense = ops.reshape(dense, (self.units, heads, 4, d))  # columns (head, block, unit)
        dense = ops.transpose(dense, (0, 2, 1, 3))  # (units, 4, heads, d): columns (block, head, unit)
        return ops.reshape(dense, (self.units, 4 * self.units))  # (units, 4 * units)

    def recurrent_step(
        self, projected, states, time=None, noise=None, recurrent_mask=None, training=False, recurrent_matrix=None,
        return_gates=False,
    ):
        """One step of the recurrence given the projected input (`project_inputs`).

        Args:
            projected: `(batch, n * units)`, the projected input of this step.
            states: the list of state tensors.
            time: `(batch, 1)`, the time of this step (time gate only).
            noise: `(batch, 2 * units)` uniform noise for the zoneout masks (training only); drawn
                here when None.
            recurrent_mask: `(batch, units)` recurrent-dropout mask, or None.
            training: whether dropout, zoneout and the time-gate leak are active.
            recurrent_matrix: `recurrent_matrix()`, computed once outside a loop; None: here.
            return_gates: whether to return the step's gates too.

        Returns:
            `h` `(batch, units)` and the list of new states; with `return_gates`, then a dict of
            `(batch, units)` tensors: `"input"`, `"forget"` and `"output"` gates as the step
            applied them (a fixed or removed gate as its constant, for the sLSTM the stabilised
            `i'` and `f'`) and the `"candidate"` `g`, before any time gate or zoneout.
        """
        if recurrent_matrix is None:
            recurrent_matrix = self.recurrent_matrix()
        h_prev, c_prev = states[0], states[1]
        h_in = h_prev * recurrent_mask if recurrent_mask is not None else h_prev
        z_h = ops.matmul(h_in, recurrent_matrix)  # (batch, n * units)
        if self.slstm:
            return self._slstm_step(projected + z_h, states, return_gates)
        if self.layer_norm:
            z_h = self._block_norm(z_h, self.recurrent_norm_gain)
        z = ops.split(projected + z_h, len(self.blocks), axis=-1)  # n x (batch, units)
        pre = dict(zip(self.blocks, z))
        if self.full_gate_recurrence:
            z_g = ops.matmul(states[2], self.gate_recurrent_kernel)  # (batch, g * units)
            for gate, part in zip(self.learned_gates, ops.split(z_g, len(self.learned_gates), axis=-1)):
                pre[gate] = pre[gate] + part

        i = self._gate("input", pre, c_prev)
        f = 1.0 - i if self.forget_gate == gating.COUPLED else self._gate("forget", pre, c_prev)
        g = self.activation(pre["candidate"])  # (batch, units)
        c = f * c_prev + i * g  # (batch, units)
        o = self._gate("output", pre, c)
        # Cast back: off TensorFlow, Keras activations return float32 for float64 inputs, and a
        # removed output gate (o = 1.0) does not promote h back to the state's dtype.
        shown = self._cell_norm(c) if self.layer_norm else c
        h = ops.cast(o * self.output_activation(shown), c.dtype)  # (batch, units)

        if self.time_gate:
            k = self._openness(time, training)  # (batch, units)
            c = k * c + (1.0 - k) * c_prev
            h = k * h + (1.0 - k) * h_prev
        if self.zoneout_cell or self.zoneout_hidden:
            if training and noise is None:
                noise = keras.random.uniform(ops.shape(ops.concatenate([h, c], -1)), seed=self.seed_generator)
            noise_c, noise_h = (None, None) if noise is None else ops.split(noise, 2, axis=-1)
            c = self._zoneout(c, c_prev, self.zoneout_cell, noise_c, training)
            h = self._zoneout(h, h_prev, self.zoneout_hidden, noise_h, training)

        new_states = [h, c]
        if self.full_gate_recurrence:
            values = {"input": i, "forget": f, "output": o}
            new_states.append(ops.concatenate([values[g] for g in self.learned_gates], axis=-1))  # (batch, g * units)
        if self.time_gate:
            new_states.append(time + 1.0)  # (batch, 1)
        if return_gates:
            return h, new_states, _gate_values(i, f, o, g)
        return h, new_states

    def _slstm_step(self, z, states, return_gates=False):
        # The stabilised sLSTM step (see the class docstring) from the pre-activations z.
        _, c_prev, n_prev, m_prev = states
        i_pre, f_pre, z_pre, o_pre = ops.split(z, 4, axis=-1)  # 4 x (batch, units)
        log_f = f_pre if self.forget_gate_activation == "exp" else -ops.softplus(-f_pre)
        empty = ops.equal(n_prev, 0.0)  # no memory yet: m_t = ĩ
        m = ops.where(empty, i_pre, ops.maximum(log_f + m_prev, i_pre))  # (batch, units)
        i = ops.exp(i_pre - m)
        # f' = 0 on an empty memory, through exp(-inf): a where after the exp could overflow there
        # (m_{t-1} far above ĩ) and give NaN gradients.
        f = ops.exp(ops.where(empty, -math.inf, log_f + m_prev - m))
        g = self.activation(z_pre)  # (batch, units)
        c = f * c_prev + i * g
        n = f * n_prev + i
        o = ops.sigmoid(o_pre)
        h = ops.cast(o * c / ops.where(ops.equal(n, 0.0), SLSTM_EMPTY_NORMALISER, n), c.dtype)  # (batch, units)
        if return_gates:
            return h, [h, c, n, m], _gate_values(i, f, o, g)
        return h, [h, c, n, m]

    def call(self, inputs, states, training=False):
        if training and self.dropout:
            inputs = inputs * self.get_dropout_mask(inputs)
        recurrent_mask = None
        if training and self.recurrent_dropout:
            recurrent_mask = self.get_recurrent_dropout_mask(states[0])
        time = states[-1] if self.time_gate else None
        return self.recurrent_step(
            self.project_inputs(inputs), states, time=time, recurrent_mask=recurrent_mask, training=training
        )

    def _gate(self, gate, pre, c):
        spec = getattr(self, f"{gate}_gate")
        if spec == gating.REMOVED:
            return 1.0
        if not isinstance(spec, str):
            return spec  # a fixed value
        value = pre[gate]
        if gate in self.peephole:
            value = value + self.peephole[gate] * c
        return self.recurrent_activation(value)  # (batch, units)

    def _block_norm(self, z, gain):
        # Normalises each gate block of z (..., n * units) over its units, then applies the gain.
        blocks = []
        for block in ops.split(z, len(self.blocks), axis=-1):
            mean = ops.mean(block, axis=-1, keepdims=True)
            variance = ops.var(block, axis=-1, keepdims=True)
            blocks.append((block - mean) * ops.rsqrt(variance + LAYER_NORM_EPSILON))
        return ops.concatenate(blocks, axis=-1) * gain  # (..., n * units)

    def _cell_norm(self, c):
        mean = ops.mean(c, axis=-1, keepdims=True)
        variance = ops.var(c, axis=-1, keepdims=True)
        return (c - mean) * ops.rsqrt(variance + LAYER_NORM_EPSILON) * self.cell_norm_gain + self.cell_norm_bias

    def _openness(self, time, training):
        period = ops.abs(self.time_period) + 1e-3  # (units,)
        ratio = ops.clip(self.time_ratio, 1e-3, 1.0)  # (units,)
        phase = ops.mod(time - self.time_shift, period) / period  # (batch, units)
        rising = 2.0 * phase / ratio
        closed = self.time_gate_leak * phase if training else ops.zeros_like(phase)
        return ops.where(phase < 0.5 * ratio, rising, ops.where(phase < ratio, 2.0 - rising, closed))

    @staticmethod
    def _zoneout(new, previous, rate, noise, training):
        if not rate:
            return new
        if training:
            keep = ops.cast(noise < rate, new.dtype)  # (batch, units)
            return keep * previous + (1.0 - keep) * new
        return rate * previous + (1.0 - rate) * new

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, d), dtype=self.compute_dtype) for d in self.state_size]

    def get_config(self):
        config = {
            "units": self.units,
            "variant": self.variant,
            "input_gate": self.input_gate,
            "forget_gate": self.forget_gate,
            "output_gate": self.output_gate,
            "peepholes": list(self.peepholes),
            "full_gate_recurrence": self.full_gate_recurrence,
            "activation": activations.serialize(self.activation),
            "output_activation": activations.serialize(self.output_activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "forget_bias_init": self.forget_bias_init,
            "chrono_max_length": self.chrono_max_length,
            "zoneout_cell": self.zoneout_cell,
            "zoneout_hidden": self.zoneout_hidden,
            "time_gate": self.time_gate,
            "time_gate_max_period": self.time_gate_max_period,
            "time_gate_ratio": self.time_gate_ratio,
            "time_gate_train_ratio": self.time_gate_train_ratio,
            "time_gate_leak": self.time_gate_leak,
            "layer_norm": self.layer_norm,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "peephole_initializer": initializers.serialize(self.peephole_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "num_heads": self.num_heads,
            "forget_gate_activation": self.forget_gate_activation,
        }
        return {**super().get_config(), **config}


def _gate_values(i, f, o, g):
    """The gates of a step as `(batch, units)` tensors: constants (fixed or removed gates) broadcast to `g`'s shape."""
    return {name: ops.cast(ops.broadcast_to(value, ops.shape(g)), g.dtype)
            for name, value in (("input", i), ("forget", f), ("output", o), ("candidate", g))}
