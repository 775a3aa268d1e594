"""Checks of assignment 4: the stabilised sLSTM step (xLSTM's scalar memory), against `GatedLSTMCell`."""

import keras
import numpy as np
from keras import ops

from lstm_keras.grading.core import Mismatch
from lstm_keras.grading.core import _call
from lstm_keras.grading.core import _compare_values
from lstm_keras.grading.core import _normal
from lstm_keras.grading.core import _run
from lstm_keras.grading.core import _unpack

# What each output of the step depends on: the hint printed when it is the first one that differs.
HINTS = {
    "m": "the stabiliser: m_t = max(log f + m_prev, ĩ) with log f = log σ(f̃) = -softplus(-f̃) (computed without "
         "exp, so it never overflows); where n_prev = 0 (an empty memory) m_t = ĩ",
    "n": "the normaliser: n_t = f' n_prev + i', with the stabilised gates i' = exp(ĩ - m_t) and "
         "f' = exp(log f + m_prev - m_t) (never exp(ĩ) itself: it overflows for large ĩ)",
    "c": "the cell: c_t = f' c_prev + i' z with z = tanh(z̃) (n is right, so check z and the block order i, f, z, o)",
    "h": "the output: h_t = σ(õ) c_t / n_t (c and n are right, so check the output gate)",
}
# The cases: (batch, input_dim, units, heads, scale of the pre-activations, empty memory).
CASES = [(1, 1, 1, 1, 1.0, False), (2, 3, 4, 2, 1.0, False), (3, 2, 4, 1, 1.0, True), (2, 3, 6, 3, 40.0, False),
         (2, 2, 4, 2, 40.0, True)]


def check_slstm_step(student_fn, seed=None):
    """Checks `slstm_step(x, h_prev, c_prev, n_prev, m_prev, kernel, recurrent, bias) -> (h, c, n, m)`.

    One stabilised sLSTM step (Beck et al. 2024, xLSTM, eqs. 8-17; `GatedLSTMCell(variant="slstm")`,
    sigmoid forget gate): `kernel` `(input_dim, 4 * units)`, `recurrent` the block-diagonal
    `(units, 4 * units)` recurrent matrix, `bias` `(4 * units,)`, blocks in the order input, forget,
    candidate, output; `x` `(batch, input_dim)`, the four states `(batch, units)`. The cases include
    pre-activations in the tens (where `exp(ĩ)` overflows float32: only the stabilised form passes)
    and a first step from an empty memory (`n_prev = 0`). The outputs are compared in the order
    m, n, c, h, and the first that differs comes with a hint naming its equation.

    Args:
        student_fn: the student's function; NumPy or `keras.ops` code.
        seed: the seed of the random inputs, or None for fresh ones.

    Returns:
        A `CheckResult` (also printed).
    """
    from lstm_keras.layers import GatedLSTMCell

    fn_name = getattr(student_fn, "__name__", "your function")

    def body(rng, counter):
        for number, (batch, input_dim, units, heads, scale, empty) in enumerate(CASES, 1):
            where = (f"case {number} of {len(CASES)} (batch={batch}, input_dim={input_dim}, units={units}, "
                     f"heads={heads}{', pre-activations x' + str(int(scale)) if scale > 1 else ''}"
                     f"{', empty memory' if empty else ''})")
            cell = GatedLSTMCell(units, variant="slstm", num_heads=heads)
            cell.build((None, input_dim))
            weights = [_normal(rng, w.shape, 0.5) * (scale if w.path.endswith("bias") else 1.0)
                       for w in cell.trainable_variables]  # kernel, recurrent_kernel, bias
            x = _normal(rng, (batch, input_dim), scale)
            h = _normal(rng, (batch, units), 0.5)
            c = _normal(rng, (batch, units))
            n = np.zeros((batch, units), "float32") if empty else np.abs(_normal(rng, (batch, units))) + 0.5
            m = np.zeros((batch, units), "float32") if empty else _normal(rng, (batch, units), scale)
            with keras.StatelessScope(state_mapping=list(zip(cell.trainable_variables, weights))):
                recurrent = ops.convert_to_numpy(cell.recurrent_matrix())  # (units, 4 * units)
                _, states = cell(x, [h, c, n, m])
            expected = dict(zip(("h", "c", "n", "m"), (ops.convert_to_numpy(s) for s in states)))
            kernel, _, bias = weights
            out = _call(student_fn, where, fn_name, x, h, c, n, m, kernel, recurrent, bias)
            got = dict(zip(("h", "c", "n", "m"), _unpack(out, ("h", "c", "n", "m"), f"{where}: {fn_name}")))
            for name in ("m", "n", "c", "h"):
                try:
                    _compare_values(f"{where}: {name}", got[name], expected[name], counter)
                except Mismatch as mismatch:
                    raise Mismatch(f"{mismatch}\n  hint: {HINTS[name]}") from None

    return _run("check_slstm_step", body, seed, compared="shapes and values")
