"""The LSTM as the composite function that TensorFlow Lite's converter turns into its fused LSTM kernel.

TFLite's converter replaces a `tf.function` that carries the attribute `api_implements =
"lstm_<id>"` (with `time_major` and `go_backwards`), takes `(inputs, init_h, init_c, kernel,
recurrent_kernel, bias)` and returns `(last_output, outputs, h, c, runtime)` by one
`UNIDIRECTIONAL_SEQUENCE_LSTM` op: the contract of Keras 2's LSTM, which Keras 3's no longer
keeps (tensorflow/tensorflow#73254). It does so only when the weights are constants and only
the first two results are used (else it keeps the function's body, a loop: still correct), and
its kernel has no peepholes and no coupled gates on this path, so only the standard LSTM maps to
it. `GatedLSTM` traces its recurrence through `standard_lstm_composite` inside
`composite_tracing()` (`lstm_keras.conversion` enters it, with the weights as constants, for a
LiteRT export); everywhere else nothing changes.
"""

import contextlib
import threading
import uuid

_STATE = threading.local()


@contextlib.contextmanager
def composite_tracing():
    """Inside, `GatedLSTM` layers that TFLite's fused LSTM kernel can run trace `standard_lstm_composite`."""
    previous = composite_tracing_active()
    _STATE.active = True
    try:
        yield
    finally:
        _STATE.active = previous


def composite_tracing_active():
    """Whether `composite_tracing()` is entered (in this thread)."""
    return getattr(_STATE, "active", False)


def standard_lstm_composite(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
    """Runs the standard LSTM over `inputs` as a `tf.function` that TFLite's converter fuses.

    The gates are Keras' (blocks input, forget, candidate, output of `kernel` `(features,
    4 units)`, `recurrent_kernel` `(units, 4 units)` and `bias` `(4 units,)`):

        z_t = x_t W + h_{t-1} U + b;  i, f, o = σ(z_i), σ(z_f), σ(z_o);  g = tanh(z_g)
        c_t = f ⊙ c_{t-1} + i ⊙ g;    h_t = o ⊙ tanh(c_t)

    Args:
        inputs: `(batch, time, features)`, time >= 1 (no mask: every step is read).
        init_h, init_c: the initial states `(batch, units)`.
        kernel, recurrent_kernel, bias: the weights (constants, for the converter to fuse).

    Returns:
        `(last_output (batch, units), outputs (batch, time, units), h, c, runtime)`, the
        converter's contract (`runtime` a constant, unused).
    """
    import tensorflow as tf

    function = tf.function(_standard_lstm, autograph=False, experimental_attributes={
        "api_implements": f"lstm_{uuid.uuid4()}",  # one name per call: the converter pairs nothing else with it
        "api_preferred_device": "CPU",
        "time_major": False,
        "go_backwards": False,
    })
    return function(inputs, init_h, init_c, kernel, recurrent_kernel, bias)


def _standard_lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
    import tensorflow as tf

    projected = tf.transpose(tf.matmul(inputs, kernel) + bias, (1, 0, 2))  # (time, batch, 4 units)

    def step(state, z_x):
        h, c = state
        z = z_x + tf.matmul(h, recurrent_kernel)  # (batch, 4 units)
        z_i, z_f, z_g, z_o = tf.split(z, 4, axis=1)
        c = tf.sigmoid(z_f) * c + tf.sigmoid(z_i) * tf.tanh(z_g)
        return tf.sigmoid(z_o) * tf.tanh(c), c

    hs, cs = tf.scan(step, projected, initializer=(init_h, init_c))  # (time, batch, units) each
    outputs = tf.transpose(hs, (1, 0, 2))  # (batch, time, units)
    return outputs[:, -1], outputs, hs[-1], cs[-1], tf.constant(0.0)
