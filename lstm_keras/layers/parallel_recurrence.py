"""`ParallelRecurrence`: the base of the recurrent layers that train in parallel over time (`MinGRU`, `MLSTM`, ...).

Every recurrent layer of `lstm_keras.layers` answers the same four calls, which the task models use so
that one `--cell` option can choose any of them (`GatedLSTM` answers them too):

- `initial_state(batch_size)`: the zero states, a list of `(batch, ...)` tensors;
- `scan(sequences, states, mask=None, training=False)` -> `(outputs (batch, time, units), states)`:
  the whole sequence forward from explicit states, ignoring the carried states of a stateful layer;
- `step(inputs, states, training=False)` -> `(output (batch, units), states)`: one step, for generation;
- `reset_state()`: zeroes the carried states of a stateful layer.

A subclass defines `state_shapes` (the per-example shapes of its states), `parallel_scan(sequences,
states, mask)` (the parallel form; masked steps must keep the state) and `step`; this class does the
rest: `return_sequences`, `return_state`, `go_backwards` (the sequence and mask reversed in time,
outputs in processing order, as `keras.layers.RNN` gives them, so `keras.layers.Bidirectional` works),
`stateful` (states carried in variables across batches), the outputs at masked steps (zeros) and the
config.
"""

import keras
import numpy as np
from keras import ops
from keras.src import backend
from keras.src.utils import tracking


class ParallelRecurrence(keras.layers.Layer):
    """The base of recurrent layers with a parallel training form (see the module docstring).

    Args:
        units: positive int, the size of the output.
        return_sequences: whether to return the output of every step `(batch, time, units)` or
            the last one `(batch, units)`.
        return_state: whether to return the final states after the output.
        go_backwards: whether to process the sequence backwards (outputs in processing order).
        stateful: whether the last states of each batch are the initial states of the next
            (the batch size must then be fixed).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, time, input_dim)`.
        initial_state: optional list of initial state tensors (a single tensor for one state).
        mask: optional boolean `(batch, time)`; masked steps keep the state and output zeros.
        training: whether dropout (if any) is active.

    Returns:
        The output (see `return_sequences`); with `return_state`, the list `[output, *states]`.
    """

    def __init__(self, units, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Invalid value for argument `units`: expected a positive int. Received: units={units!r}")
        self.units = int(units)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.zero_output_for_mask = True  # what keras.layers.Bidirectional looks for
        self.supports_masking = True
        self.states = None

    # ------------------------------------------------------------------ what a subclass defines
    @property
    def state_shapes(self):
        """The per-example shapes of the states, e.g. `[(units,)]`."""
        raise NotImplementedError

    def parallel_scan(self, sequences, states, mask, training=False):
        """`(outputs (batch, time, units), final states)` of the whole sequence; masked steps keep the state."""
        raise NotImplementedError

    def step(self, inputs, states, training=False):
        """One step: `(output (batch, units), states)` from inputs `(batch, input_dim)`."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the shared contract
    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} expects inputs of rank 3 (batch, time, features) with a known feature "
                f"size; received an input of shape {tuple(input_shape)}."
            )
        self.build_weights(int(input_shape[-1]))
        if self.stateful:
            batch_size = input_shape[0]
            if batch_size is None:
                raise ValueError(
                    f"A stateful {type(self).__name__} needs a fixed batch size (e.g. `keras.Input(..., "
                    f"batch_size=N)`); received an input of shape {tuple(input_shape)}."
                )
            self._create_states(batch_size)
        self.built = True

    @tracking.no_automatic_dependency_tracking
    def _create_states(self, batch_size):
        # Untracked, as keras.layers.RNN keeps its states: not weights, so not saved with them.
        self.states = [
            backend.Variable(ops.zeros((batch_size, *shape)), trainable=False, dtype=self.variable_dtype,
                             name="rnn_state")
            for shape in self.state_shapes
        ]

    def build_weights(self, input_dim):
        """Creates the layer's weights for inputs of `input_dim` features."""
        raise NotImplementedError

    def initial_state(self, batch_size):
        """Zero states: a list of `(batch, *shape)` float32 tensors."""
        return [ops.zeros((batch_size, *shape), dtype="float32") for shape in self.state_shapes]

    def scan(self, sequences, states=None, mask=None, training=False):
        """The whole sequence forward from `states` (zeros if None), ignoring carried states."""
        if states is None:
            states = self.initial_state(ops.shape(sequences)[0])
        states = [ops.cast(state, "float32") for state in _as_list(states)]
        if mask is not None:
            mask = ops.cast(mask, "bool")
        outputs, states = self.parallel_scan(sequences, states, mask, training=training)
        if mask is not None:
            outputs = ops.where(mask[:, :, None], outputs, 0.0)  # (batch, time, units)
        return ops.cast(outputs, self.compute_dtype), states

    def reset_state(self):
        """Zeroes the carried states of a stateful layer."""
        if self.states is not None:
            for state in self.states:
                state.assign(ops.zeros(state.shape, dtype=state.dtype))

    reset_states = reset_state

    def call(self, inputs, initial_state=None, mask=None, training=False):
        if mask is not None:
            mask = ops.cast(mask, "bool")
        if self.go_backwards:
            inputs = ops.flip(inputs, axis=1)
            mask = None if mask is None else ops.flip(mask, axis=1)
        if initial_state is None and self.stateful:
            initial_state = [ops.convert_to_tensor(state) for state in self.states]
        outputs, states = self.scan(inputs, initial_state, mask, training=training)
        if self.stateful:
            for variable, state in zip(self.states, states):
                variable.assign(ops.cast(state, variable.dtype))
        if self.return_sequences:
            output = outputs
        else:
            output = outputs[:, -1] if mask is None else _last_unmasked(outputs, mask)  # (batch, units)
        if self.return_state:
            return [output, *[ops.cast(state, self.compute_dtype) for state in states]]
        return output

    def compute_mask(self, inputs, mask=None):
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_shapes)
        return output_mask

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        output_shape = (batch, input_shape[1], self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [output_shape] + [(batch, *shape) for shape in self.state_shapes]
        return output_shape

    def get_config(self):
        config = {
            "units": self.units,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
        }
        return {**super().get_config(), **config}


def _as_list(states):
    return list(states) if isinstance(states, (list, tuple)) else [states]


def _last_unmasked(outputs, mask):
    """The output `(batch, units)` of each row's last unmasked step (zeros for a fully masked row)."""
    steps = ops.shape(outputs)[1]
    positions = ops.arange(steps, dtype="int32")[None, :]  # (1, time)
    last = ops.max(ops.where(mask, positions, -1), axis=1)  # (batch,)
    picked = ops.take_along_axis(outputs, ops.maximum(last, 0)[:, None, None], axis=1)[:, 0]  # (batch, units)
    return ops.where((last >= 0)[:, None], picked, 0.0)
