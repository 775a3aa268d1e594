"""The LSTM as the composite function that TFLite's converter fuses into one kernel, and tf2onnx into ONNX's `LSTM`.

TFLite's converter replaces a `tf.function` that carries the attribute `api_implements =
"lstm_<id>"` (with `time_major` and `go_backwards`), takes `(inputs, init_h, init_c, kernel,
recurrent_kernel, bias)` and returns `(last_output, outputs, h, c, runtime)` by one
`UNIDIRECTIONAL_SEQUENCE_LSTM` op: the contract of Keras 2's LSTM, which Keras 3's no longer
keeps (tensorflow/tensorflow#73254). It does so only when the weights are constants and only
the first two results are used (else it keeps the function's body, a loop: still correct), and
its kernel has no peepholes and no coupled gates on this path, so only the standard LSTM maps to
it. The function's body is the loop of Keras 2's LSTM, which tf2onnx's LSTM rewriter turns into
ONNX's `LSTM` op. `GatedLSTM` traces its recurrence through `standard_lstm_composite` inside
`composite_tracing(target)` (`lstm_keras.conversion` enters it: for LiteRT with `fused_lstm`,
the weights as constants; for ONNX always); everywhere else nothing changes.
"""

import contextlib
import threading
import uuid

_STATE = threading.local()


TARGETS = ("tflite", "onnx")


@contextlib.contextmanager
def composite_tracing(target):
    """Inside, the standard `GatedLSTM` layers trace `standard_lstm_composite` for `target`'s converter.

    `"tflite"`: only where the weights read as constants (the converter fuses nothing else, and
    crashed on variables in tests); `"onnx"`: always (tf2onnx freezes the variables itself).
    """
    if target not in TARGETS:
        raise ValueError(f"Invalid value for argument `target`: expected one of {TARGETS}. Received: {target!r}")
    previous = composite_tracing_target()
    _STATE.target = target
    try:
        yield
    finally:
        _STATE.target = previous


def composite_tracing_target():
    """The target of the `composite_tracing` entered in this thread, or None."""
    return getattr(_STATE, "target", None)


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
    # Written as Keras 2's loop was (input and recurrent products, a bias, one split per step), the
    # pattern that tf2onnx's LSTM rewriter turns into ONNX's `LSTM` op.
    import tensorflow as tf

    steps = tf.shape(inputs)[1]
    xs = tf.TensorArray(inputs.dtype, size=steps).unstack(tf.transpose(inputs, (1, 0, 2)))  # time x (batch, features)
    hs = tf.TensorArray(inputs.dtype, size=steps, element_shape=init_h.shape)

    def step(t, h, c, hs):
        z = tf.nn.bias_add(tf.matmul(xs.read(t), kernel) + tf.matmul(h, recurrent_kernel), bias)  # (batch, 4 units)
        z_i, z_f, z_g, z_o = tf.split(z, 4, axis=1)
        c = tf.sigmoid(z_f) * c + tf.sigmoid(z_i) * tf.tanh(z_g)
        h = tf.sigmoid(z_o) * tf.tanh(c)
        return t + 1, h, c, hs.write(t, h)

    _, h, c, hs = tf.while_loop(lambda t, *_: t < steps, step, (0, init_h, init_c, hs))
    outputs = tf.ensure_shape(tf.transpose(hs.stack(), (1, 0, 2)), [inputs.shape[0], inputs.shape[1], init_h.shape[1]])
    return outputs[:, -1], outputs, tf.ensure_shape(h, init_h.shape), tf.ensure_shape(c, init_c.shape), tf.constant(0.0)
