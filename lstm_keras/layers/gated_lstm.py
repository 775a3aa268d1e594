"""`GatedLSTM`: the gated LSTM layer users put in models."""

import inspect

import keras
from keras import ops
from keras import tree
from keras.src import backend

from lstm_keras.layers.gated_lstm_cell import GatedLSTMCell
from lstm_keras.layers.tflite_lstm import composite_tracing_target
from lstm_keras.layers.tflite_lstm import standard_lstm_composite

# Every constructor option of the cell (after `units`), forwarded by the layer.
CELL_OPTIONS = tuple(
    name for name, p in inspect.signature(GatedLSTMCell.__init__).parameters.items()
    if name not in ("self", "units") and p.kind is p.POSITIONAL_OR_KEYWORD
)


@keras.saving.register_keras_serializable(package="lstm_keras")
class GatedLSTM(keras.layers.RNN):
    """A gated LSTM layer: `keras.layers.LSTM` with every gate selectable (see `GatedLSTMCell`).

    When the configuration is the standard LSTM (learned gates, tanh/sigmoid, no peepholes, full
    gate recurrence, zoneout, time gate, layer norm or recurrent dropout) the layer calls the same
    fused backend kernel as `keras.layers.LSTM` (`keras.src.backend.lstm`: cuDNN on a GPU with
    TensorFlow, JAX or PyTorch; it declines masks that are not right-padded). Every other
    configuration projects the inputs of all time steps in one matrix product outside the
    recurrence and runs the recurrence as a compiled backend loop (`tf.while_loop`,
    `jax.lax.scan`), XLA-compiled where the backend allows it. `variant="slstm"` is the sLSTM of
    xLSTM (Beck et al. 2024; equations, weight layout and states `[h, c, n, m]` in `GatedLSTMCell`):
    its block-diagonal recurrent kernel is laid out as one matrix once per call, so each step is one
    matrix product, like the classic LSTM's.

    Args:
        units: positive int, the size of the output and states.
        variant: None, a preset name of `lstm_keras.layers.VARIANTS` (explicit options
            override the preset) or `"slstm"` (with `num_heads` and `forget_gate_activation`).
        return_sequences: whether to return the output of every step `(batch, time, units)` or
            the last one `(batch, units)`.
        return_state: whether to return the final states after the output.
        go_backwards: whether to process the sequence backwards (outputs in processing order).
        stateful: whether the last state of each batch is the initial state of the next.
        unroll: whether to unroll the loop (short sequences only).
        use_cudnn: `"auto"` (fused kernel when possible), True (required: error otherwise) or
            False (never).
        **kwargs: every option of `GatedLSTMCell` (gates, peepholes, activations, zoneout, time
            gate, layer norm, dropout, initializers, regularizers, constraints, seed) and the
            base layer's arguments.

    Call arguments:
        sequences: `(batch, time, features)`.
        initial_state: optional list of initial state tensors.
        mask: optional boolean `(batch, time)`; masked steps keep the previous state.
        training: whether dropout and zoneout are active.
        timestamps: optional `(batch, time)` times of the steps for the time gate (default: the
            count of steps processed so far, 0, 1, 2, ... in processing order, masked steps not
            counted; kept in the state, so a stateful layer's clock runs on across batches).

    Returns:
        The output (see `return_sequences`), followed by the final states with `return_state`.

    Example:
    >>> layer = GatedLSTM(16, variant="peephole", return_sequences=True)
    >>> tuple(layer(keras.ops.ones((4, 7, 3))).shape)
    (4, 7, 16)
    >>> tuple(GatedLSTM(16, forget_gate="coupled")(keras.ops.ones((4, 7, 3))).shape)
    (4, 16)
    >>> tuple(GatedLSTM(16, variant="slstm", num_heads=4)(keras.ops.ones((4, 7, 3))).shape)
    (4, 16)
    """

    def __init__(
        self,
        units,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_cudnn="auto",
        **kwargs,
    ):
        cell_kwargs = {name: kwargs.pop(name) for name in CELL_OPTIONS if name in kwargs}
        cell = GatedLSTMCell(
            units,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="gated_lstm_cell",
            **cell_kwargs,
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            **kwargs,
        )
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                f"Invalid value for argument `use_cudnn`: received {use_cudnn!r}; allowed: 'auto', True or False."
            )
        self.use_cudnn = use_cudnn
        if (
            backend.backend() == "tensorflow"
            and cell.fused_kernel_compatible
            and use_cudnn in ("auto", True)
            and backend.cudnn_ok(cell.activation, cell.recurrent_activation, unroll, cell.use_bias)
        ):
            # cuDNN kernels are not XLA-compatible.
            self.supports_jit = False
        if backend.backend() == "tensorflow" and (cell.zoneout_cell or cell.zoneout_hidden):
            # XLA's random number generation made a zoneout training step about 4x slower on CPU
            # than the same loop as a TensorFlow graph (benchmarks/bench_lstm.py).
            self.supports_jit = False
        self._timestamps = None

    def build(self, sequences_shape, initial_state_shape=None):
        if len(sequences_shape) != 3:
            raise ValueError(
                f"{self.__class__.__name__} expects inputs of rank 3 (batch, time, features); "
                f"received an input of shape {tuple(sequences_shape)}."
            )
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False, timestamps=None):
        self._timestamps = timestamps
        try:
            return super().call(sequences, initial_state=initial_state, mask=mask, training=training)
        finally:
            self._timestamps = None

    def inner_loop(self, sequences, initial_state, mask, training=False, states_needed=None):
        if tree.is_nested(mask):
            mask = mask[0]
        if states_needed is None:  # Keras' RNN.call keeps the final states only for these
            states_needed = self.return_state or self.stateful
        if composite_tracing_target() and not states_needed and not training:
            weights = self._composite_weights()
            if weights is not None:
                return self._composite_loop(sequences, initial_state, mask, weights)
        if self.use_cudnn in ("auto", True) and self.cell.fused_kernel_compatible:
            try:
                return self._fused_loop(sequences, initial_state, mask, training)
            except NotImplementedError:
                pass
        if self.use_cudnn is True:
            raise ValueError(
                "use_cudnn=True, but the fused (cuDNN) kernel is not available for this gating "
                "configuration, mask or backend/device. Pass use_cudnn='auto' to fall back."
            )
        return self._compiled_loop(sequences, initial_state, mask, training)

    def _fused_loop(self, sequences, initial_state, mask, training):
        # The same call as keras.layers.LSTM: raises NotImplementedError where no fused kernel runs.
        if training and self.cell.dropout:
            sequences = sequences * ops.expand_dims(self.cell.get_dropout_mask(sequences[:, 0, :]), 1)
        out = backend.lstm(
            sequences,
            initial_state[0],
            initial_state[1],
            mask,
            kernel=self.cell.kernel,
            recurrent_kernel=self.cell.recurrent_kernel,
            bias=self.cell.bias,
            activation=self.cell.activation,
            recurrent_activation=self.cell.recurrent_activation,
            return_sequences=self.return_sequences,
            go_backwards=self.go_backwards,
            unroll=self.unroll,
        )
        if backend.backend() == "tensorflow":
            self.supports_jit = False
        return out

    def _composite_weights(self):
        """`(kernel, recurrent_kernel, bias)` for the converters' fused LSTM, or None where it does not fit.

        It fits the standard LSTM (`fused_kernel_compatible`: tanh and sigmoid, a bias); for
        TFLite only with weights that read as constants (`lstm_keras.conversion` traces a
        LiteRT export with them so): given variables, its converter cannot fuse (and crashed on
        them in tests).
        """
        import tensorflow as tf

        cell = self.cell
        if not (backend.backend() == "tensorflow" and cell.fused_kernel_compatible and not self.unroll):
            return None
        # A constant (inside `keras.StatelessScope`), or a variable's value read in the graph.
        weights = [w.value for w in (cell.kernel, cell.recurrent_kernel, cell.bias)]
        weights = [tf.convert_to_tensor(w) if isinstance(w, tf.Variable) else w for w in weights]
        if composite_tracing_target() == "tflite" and any(tf.is_symbolic_tensor(w) for w in weights):
            return None
        return weights

    def _composite_loop(self, sequences, initial_state, mask, weights):
        """The standard LSTM as the converters' fused LSTM runs it (`tflite_lstm`), masks and direction around it.

        The fused kernel reads every step, so each row is read from its start: with a
        right-padded mask (what the tasks' token ids give; as on the cuDNN path, other masks are
        not supported), its outputs up to its length are the masked loop's, its last output the
        one at its length, and the steps after it get what the loop gives them (the last output
        carried, or zeros). Backwards, each row is reversed within its length first, as the
        cuDNN path does. The final cell state is the one after every step: this path serves
        only where Keras discards the final states (`inner_loop`'s `states_needed`).
        """
        import tensorflow as tf

        batch, steps = tf.shape(sequences)[0], tf.shape(sequences)[1]
        if mask is None:
            lengths = tf.fill([batch], steps)  # (batch,)
        else:
            lengths = tf.reduce_sum(tf.cast(mask, "int32"), axis=1)  # (batch,)
        if self.go_backwards:
            # Each row reversed within its length (by a gather: tf2onnx would pair a ReverseSequence
            # with the forward layer's LSTM into one bidirectional op of other semantics).
            positions = tf.range(steps)[None, :]  # (1, time)
            within = tf.where(positions < lengths[:, None], lengths[:, None] - 1 - positions, positions)  # (batch, time)
            sequences = tf.gather(sequences, within, axis=1, batch_dims=1)
        _, outputs, _, final_c, _ = standard_lstm_composite(
            sequences, initial_state[0], initial_state[1], *weights
        )  # outputs (batch, time, units)
        last = tf.gather(outputs, tf.maximum(lengths - 1, 0), axis=1, batch_dims=1)  # (batch, units)
        last = tf.where(lengths[:, None] > 0, last, tf.zeros_like(last))
        valid = tf.sequence_mask(lengths, steps)[:, :, None]  # (batch, time, 1)
        if self.go_backwards:  # in processing order: the padding first, where the loop outputs zeros
            outputs = tf.reverse(tf.gather(outputs, within, axis=1, batch_dims=1), axis=[1])
            outputs = tf.where(tf.reverse(valid, axis=[1]), outputs, 0.0)
        else:
            carried = tf.zeros_like(last) if self.zero_output_for_mask else last
            outputs = tf.where(valid, outputs, carried[:, None, :])
        return last, outputs, [last, final_c]

    def _compiled_loop(self, sequences, initial_state, mask, training):
        cell = self.cell
        units = cell.units
        if training and cell.dropout:
            sequences = sequences * ops.expand_dims(cell.get_dropout_mask(sequences[:, 0, :]), 1)
        # Everything a step needs from outside the recurrence, packed along the last axis.
        parts = [cell.project_inputs(sequences)]  # (batch, time, n * units)
        with_times = cell.time_gate and self._timestamps is not None
        if with_times:
            times = ops.cast(self._timestamps, parts[0].dtype)  # (batch, time)
            parts.append(ops.expand_dims(times, -1))  # (batch, time, 1)
        with_noise = bool(training and (cell.zoneout_cell or cell.zoneout_hidden))
        if with_noise:
            batch, steps = ops.shape(sequences)[0], ops.shape(sequences)[1]
            noise = keras.random.uniform((batch, steps, 2 * units), seed=cell.seed_generator)
            parts.append(ops.cast(noise, parts[0].dtype))  # (batch, time, 2 * units)
        packed = ops.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
        width = len(cell.blocks) * units
        recurrent_mask = None
        if training and cell.recurrent_dropout:
            recurrent_mask = cell.get_recurrent_dropout_mask(initial_state[0])
        recurrent_matrix = cell.recurrent_matrix()  # (units, n * units), once outside the loop

        def step(inputs, states):
            projected = inputs[:, :width]  # (batch, n * units)
            offset = width
            # The time gate's clock: the given timestamps, else the step counter kept in the state.
            time = states[-1] if cell.time_gate else None
            if with_times:
                time = inputs[:, offset:offset + 1]  # (batch, 1)
                offset += 1
            noise = inputs[:, offset:offset + 2 * units] if with_noise else None  # (batch, 2 * units)
            return cell.recurrent_step(
                projected, list(states), time=time, noise=noise, recurrent_mask=recurrent_mask, training=training,
                recurrent_matrix=recurrent_matrix,
            )

        return backend.rnn(
            step,
            packed,
            list(initial_state),
            go_backwards=self.go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )

    def get_config(self):
        config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            config.pop(key, None)
        base_config = super().get_config()
        del base_config["cell"]
        return {**base_config, **config, "units": self.units, "use_cudnn": self.use_cudnn}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # The contract of every recurrent layer (lstm_keras.layers.parallel_recurrence).
    def initial_state(self, batch_size):
        """Zero states: the list of the cell's `(batch, size)` states."""
        return list(self.cell.get_initial_state(batch_size))

    def scan(self, sequences, states=None, mask=None, training=False):
        """`(outputs (batch, time, units), states)` of the whole sequence from `states`, ignoring carried states."""
        if states is None:
            states = self.initial_state(ops.shape(sequences)[0])
        _, outputs, states = self.inner_loop(sequences, list(states), mask, training=training, states_needed=True)
        return outputs, list(states)

    def step(self, inputs, states, training=False):
        """One step: `(output (batch, units), states)` from inputs `(batch, features)`."""
        output, states = self.cell(inputs, list(states), training=training)
        return output, list(states)

    def gate_activations(self, sequences, initial_state=None):
        """The gates, cell state and output of every step: for looking inside a layer, not for training.

        Runs the cell step by step in inference mode (no dropout, zoneout or time-gate leak) over
        unmasked sequences, in processing order (reversed with `go_backwards`), with the cell's
        own equations, so every preset and option is covered, the sLSTM included.

        Args:
            sequences: `(batch, time, features)`.
            initial_state: optional list of initial state tensors (default: zeros).

        Returns:
            A dict of `(batch, time, units)` tensors: `"input"`, `"forget"` and `"output"` gates
            as the cell applied them (a fixed gate as its constant, a removed one as 1, the
            sLSTM's stabilised exponential gates), the `"candidate"` `g_t`, the `"cell"` state
            `c_t` and the `"hidden"` output `h_t` (the layer's output with `return_sequences`).

        Example:
        >>> layer = GatedLSTM(8, forget_gate="coupled")
        >>> gates = layer.gate_activations(keras.ops.ones((2, 5, 3)))
        >>> sorted(gates), tuple(gates["input"].shape)
        (['candidate', 'cell', 'forget', 'hidden', 'input', 'output'], (2, 5, 8))
        >>> bool(keras.ops.all(keras.ops.isclose(gates["forget"], 1.0 - gates["input"])))
        True
        """
        sequences = ops.convert_to_tensor(sequences, self.compute_dtype)  # (batch, time, features)
        if not self.built:
            self.build(sequences.shape)
        if self.go_backwards:
            sequences = ops.flip(sequences, axis=1)
        states = list(initial_state) if initial_state is not None else self.initial_state(ops.shape(sequences)[0])
        projected = self.cell.project_inputs(sequences)  # (batch, time, n * units)
        recurrent_matrix = self.cell.recurrent_matrix()
        traces = {}
        for t in range(sequences.shape[1]):
            time = states[-1] if self.cell.time_gate else None
            h, states, gates = self.cell.recurrent_step(projected[:, t], states, time=time,
                                                        recurrent_matrix=recurrent_matrix, return_gates=True)
            for name, value in {**gates, "cell": states[1], "hidden": h}.items():
                traces.setdefault(name, []).append(value)
        return {name: ops.stack(values, axis=1) for name, values in traces.items()}  # each (batch, time, units)


def _forward(name):
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's `{name}`.")


# The layer forwards the cell's settings as read-only properties (as keras.layers.LSTM does).
for _name in ("units", "blocks", "learned_gates", "fused_kernel_compatible") + CELL_OPTIONS:
    setattr(GatedLSTM, _name, _forward(_name))
