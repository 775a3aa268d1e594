"""Checks of assignment 1: the gates of an LSTM step and the step itself, against `GatedLSTMCell`."""

import keras
import numpy as np
from keras import ops

from lstm_keras.grading.core import _call
from lstm_keras.grading.core import _compare_gradients
from lstm_keras.grading.core import _compare_values
from lstm_keras.grading.core import _is_numpy
from lstm_keras.grading.core import _normal
from lstm_keras.grading.core import _run
from lstm_keras.grading.core import _unpack


def check_lstm_gates(student_fn, seed=None):
    """Checks `lstm_gates(x, h_prev, kernel, recurrent_kernel, bias) -> (i, f, g, o)`.

    The gates and candidate of one LSTM step, each `(batch, units)`: `i`, `f`, `o` the input,
    forget and output gates (sigmoid) and `g` the candidate (tanh), with the weights in the layout
    of `keras.layers.LSTMCell` and `GatedLSTMCell`: `kernel` `(input_dim, 4 * units)`,
    `recurrent_kernel` `(units, 4 * units)`, `bias` `(4 * units,)`, blocks in the order i, f, g, o.
    The reference is the library's `GatedLSTMCell` (its `project_inputs` and recurrent kernel,
    checked to reproduce the cell's own step); the gradient is compared for `sum(i*r1 + f*r2 + ...)`.

    Args:
        student_fn: the student's function; NumPy or `keras.ops` code.
        seed: the seed of the random inputs, or None for fresh ones.

    Returns:
        A `CheckResult` (also printed).
    """

    def reference(cell, x, h, *weights):
        with keras.StatelessScope(state_mapping=list(zip(cell.trainable_variables, weights))):
            z = cell.project_inputs(x) + ops.matmul(h, cell.recurrent_kernel)  # (batch, 4 * units)
            i, f, g, o = ops.split(z, 4, axis=-1)  # 4 x (batch, units)
            return [cell.recurrent_activation(i), cell.recurrent_activation(f), cell.activation(g),
                    cell.recurrent_activation(o)]

    return _check_lstm("check_lstm_gates", student_fn, seed, ("i", "f", "g", "o"), reference, with_cell_state=False)


def check_lstm_step(student_fn, seed=None):
    """Checks `lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias) -> (h, c)`.

    One step of the standard LSTM (the equations of `GatedLSTMCell`, variant "vanilla"), with the
    weights in the layout of `keras.layers.LSTMCell`: `kernel` `(input_dim, 4 * units)`,
    `recurrent_kernel` `(units, 4 * units)`, `bias` `(4 * units,)`, blocks in the order input,
    forget, candidate, output. `x` is `(batch, input_dim)`, the states `(batch, units)`. The
    reference is the library's `GatedLSTMCell`; the gradient of `sum(h * r1 + c * r2)` with respect
    to every argument is compared.

    Args:
        student_fn: the student's function; NumPy or `keras.ops` code.
        seed: the seed of the random inputs, or None for fresh ones.

    Returns:
        A `CheckResult` (also printed).
    """

    def reference(cell, x, h, c, *weights):
        with keras.StatelessScope(state_mapping=list(zip(cell.trainable_variables, weights))):
            _, (h_new, c_new) = cell(x, [h, c])
        return [h_new, c_new]

    return _check_lstm("check_lstm_step", student_fn, seed, ("h", "c"), reference, with_cell_state=True)


def _check_lstm(name, student_fn, seed, output_names, reference, with_cell_state):
    from lstm_keras.layers import GatedLSTMCell

    fn_name = getattr(student_fn, "__name__", "your function")
    arg_names = ("x", "h_prev", "c_prev", "kernel", "recurrent_kernel", "bias")
    if not with_cell_state:
        arg_names = ("x", "h_prev", "kernel", "recurrent_kernel", "bias")

    def body(rng, counter):
        shapes = [(1, 1, 1), (2, 3, 4), (3, 5, 2), (4, 2, 6)]
        for n, (batch, input_dim, units) in enumerate(shapes, 1):
            where = f"case {n} of {len(shapes)} (batch={batch}, input_dim={input_dim}, units={units})"
            cell = GatedLSTMCell(units)
            cell.build((None, input_dim))
            x = _normal(rng, (batch, input_dim))
            h = _normal(rng, (batch, units), 0.5)
            c = _normal(rng, (batch, units))
            weights = [_normal(rng, w.shape, 0.5) for w in cell.trainable_variables]  # kernel, recurrent_kernel, bias
            args = [x, h, c, *weights] if with_cell_state else [x, h, *weights]

            def ref(*a):
                if with_cell_state:
                    return reference(cell, *a)
                return reference(cell, a[0], a[1], *a[2:])

            expected = [ops.convert_to_numpy(t) for t in ref(*args)]
            if not with_cell_state:
                _check_gates_reference(cell, x, h, c, weights, expected)
            out = _call(student_fn, where, fn_name, *args)
            got = _unpack(out, output_names, f"{where}: {fn_name}")
            for label, g, e in zip(output_names, got, expected):
                _compare_values(f"{where}: {label}", g, e, counter)
            _compare_gradients(where, fn_name, student_fn, ref, args, arg_names, _is_numpy(got), rng, counter)

    return _run(name, body, seed)


def _check_gates_reference(cell, x, h, c, weights, gates):
    """The gates computed from the cell's pieces must give the cell's own step: `c' = f c + i g`."""
    i, f, g, _ = gates
    with keras.StatelessScope(state_mapping=list(zip(cell.trainable_variables, weights))):
        _, (_, c_new) = cell(x, [h, c])
    if not np.allclose(ops.convert_to_numpy(c_new), f * c + i * g, atol=1e-5):
        raise RuntimeError("the reference gates do not reproduce GatedLSTMCell's step")
