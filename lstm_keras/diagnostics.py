"""What a notebook or a script checks before and around training: the device, gradients.

* `device_report`: the Keras backend, the accelerator and whether given LSTM layers take the
  fused cuDNN kernel there. Every tutorial prints it first.
* `gradients`: the backend's autodiff of any scalar function of arrays (TensorFlow or JAX).
* `input_gradient_norms`: how much gradient reaches each time step of a sequence model's input,
  the measure of vanishing gradients.
* `exact_float32`: full float32 inside a block (no TF32 products, no mixed-precision policy), for
  checks against NumPy on GPUs that multiply in TF32 by default or after mixed precision is on;
  `agreement_tolerance`: how far two runs of one model may differ under its compute dtype.

Example:
>>> import numpy as np
>>> [g.tolist() for g in gradients(lambda x: keras.ops.sum(x * x), [np.array([1.0, 2.0])])]
[[2.0, 4.0]]
"""

import contextlib

import keras
import numpy as np
from keras import ops


@contextlib.contextmanager
def exact_float32():
    """Runs the block in full float32, on any device and under any mixed-precision policy.

    On NVIDIA GPUs from Ampere on, TensorFlow and JAX multiply float32 matrices in TF32 by default
    (a 10-bit mantissa: products about 1e-3 off), and under a `mixed_float16` or `mixed_bfloat16`
    policy Keras layers compute in 16 bits (`bfloat16` keeps 8 bits of mantissa: about 4e-3 off):
    either fails any comparison with NumPy at 1e-5. Inside this block TensorFlow's TF32 execution
    is off, JAX's default matmul precision is `"float32"` and the global dtype policy is
    `"float32"` (layers created in the block compute in float32); all three are restored after it.
    The tutorials' equation checks and `lstm_keras.grading` run inside it.

    Example:
    >>> keras.config.set_dtype_policy("mixed_bfloat16")
    >>> with exact_float32():
    ...     layer = keras.layers.Dense(1, kernel_initializer="ones")
    ...     output = layer(np.full((1, 3), 1.001, "float32"))
    >>> keras.config.set_dtype_policy("float32")
    >>> layer.compute_dtype, round(float(keras.ops.convert_to_numpy(output)[0, 0]), 4)
    ('float32', 3.003)
    """
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        with _exact_matmuls():
            yield
    finally:
        keras.config.set_dtype_policy(policy)


@contextlib.contextmanager
def _exact_matmuls():
    """TF32 off (TensorFlow) or the `"float32"` matmul precision (JAX) inside the block."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        before = tf.config.experimental.tensor_float_32_execution_enabled()
        tf.config.experimental.enable_tensor_float_32_execution(False)
        try:
            yield
        finally:
            tf.config.experimental.enable_tensor_float_32_execution(before)
    elif backend == "jax":
        import jax

        with jax.default_matmul_precision("float32"):
            yield
    else:
        yield


# How far two runs of one trained model that must agree (a text alone and padded in a batch, a
# SavedModel and the Keras model) may differ in a probability, by the model's compute dtype: the
# largest difference measured on a trained text classifier was 3e-8 in float32, 3e-5 in float16
# and 8e-5 in bfloat16 (mixed precision).
AGREEMENT_TOLERANCES = {"float64": 1e-10, "float32": 1e-5, "float16": 1e-3, "bfloat16": 1e-3}


def agreement_tolerance(dtype):
    """The absolute tolerance of a check that two runs of one model agree, for its compute `dtype`.

    Example:
    >>> agreement_tolerance("float32"), agreement_tolerance("bfloat16")
    (1e-05, 0.001)
    """
    return AGREEMENT_TOLERANCES[keras.backend.standardize_dtype(dtype)]


def accelerators():
    """The names of the GPUs the current Keras backend can use (an empty list on a CPU-only machine)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return [device.name for device in tf.config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax

        return [str(device) for device in jax.devices() if device.platform == "gpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(k) for k in range(torch.cuda.device_count())]
    return []


def device_report(layers):
    """A few lines that say where training will run and whether the fused (cuDNN) kernel will.

    The fused kernel runs only on a GPU and only for a layer whose configuration allows it
    (`GatedLSTM.fused_kernel_compatible`: the standard gates and activations, no peepholes, time
    gate, zoneout, layer normalisation or recurrent dropout).

    Args:
        layers: `{label: GatedLSTM}`, the layers to report on (e.g. the configuration of the
            model a notebook trains).

    Returns:
        The report, one line each for the backend, the device and every layer.

    Example:
    >>> from lstm_keras.layers import GatedLSTM
    >>> print(device_report({"GatedLSTM(32)": GatedLSTM(32)}).splitlines()[-1])  # doctest: +SKIP
    cuDNN path for GatedLSTM(32): not active (fused_kernel_compatible=True, GPU=False)
    """
    gpus = accelerators()
    backend = keras.backend.backend()
    lines = [
        f"Keras {keras.__version__} on {backend} {_backend_version(backend)}",
        "device: " + (f"GPU {gpus[0]}" if gpus else "CPU only"),
    ]
    for label, layer in layers.items():
        fused = layer.fused_kernel_compatible
        lines.append(
            f"cuDNN path for {label}: {'active' if fused and gpus else 'not active'} "
            f"(fused_kernel_compatible={fused}, GPU={bool(gpus)})"
        )
    return "\n".join(lines)


def _backend_version(backend):
    try:
        return __import__(backend).__version__
    except (ImportError, AttributeError):
        return ""


def gradients(scalar_fn, args):
    """The gradients of `scalar_fn(*args)` with respect to every argument, by the backend's autodiff.

    Args:
        scalar_fn: a function of backend tensors, written with `keras.ops`, that returns a scalar.
        args: the arrays (NumPy or backend tensors) to differentiate at.

    Returns:
        A list of NumPy arrays, one gradient per argument, each of its argument's shape.

    Raises:
        ValueError: the result does not depend on an argument by a path autodiff can follow
            (TensorFlow gives no gradient).
        NotImplementedError: on a backend other than TensorFlow and JAX.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tensors = [tf.convert_to_tensor(a) for a in args]
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            value = scalar_fn(*tensors)
        grads = tape.gradient(value, tensors)
        missing = [k for k, g in enumerate(grads) if g is None]
        if missing:
            raise ValueError(f"no gradient with respect to argument(s) {missing}: autodiff cannot see a path to them")
        return [g.numpy() for g in grads]
    if backend == "jax":
        import jax

        grads = jax.grad(scalar_fn, argnums=tuple(range(len(args))))(*[np.asarray(a) for a in args])
        return [np.asarray(g) for g in grads]
    raise NotImplementedError(f"gradients: no autodiff helper for the {backend!r} backend (TensorFlow or JAX)")


def input_gradient_norms(model, inputs, targets):
    """The norm of ∂L/∂x_t at every step t, L the mean squared error of `model(inputs)` against `targets`.

    A model can only learn a dependency whose error signal reaches back to it: for a simple RNN
    these norms fall exponentially with the distance from the loss; an LSTM's forget gate keeps
    them up (notebooks 01 and 04).

    Args:
        model: a callable Keras model or layer, `(batch, time, features) -> outputs`.
        inputs: the input sequences, `(batch, time, features)`.
        targets: targets of the outputs' shape.

    Returns:
        A NumPy array `(time,)`: the norm of the gradient over the batch and the features, per step,
        summed in float64: the squares of a float32 gradient below about 1e-19 would flush to 0. The
        gradient itself is the model's dtype; a float32 model's gradient underflows below about
        1e-45, so measure long vanishing gradients with a float64 model.
    """

    def loss(x):
        return ops.mean(ops.square(model(x) - targets))

    (gradient,) = gradients(loss, [inputs])  # (batch, time, features)
    return np.linalg.norm(np.asarray(gradient, np.float64), axis=(0, 2))  # (time,)
