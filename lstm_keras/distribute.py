"""Training on several devices or machines with TensorFlow's own `tf.distribute` strategies.

`--strategy default | mirrored | multi-worker` on the `train` commands maps to
`get_strategy(name)`: build and compile the model inside `strategy.scope()`, and pass the
*global* batch size to the data pipeline; `model.fit` splits every batch across the replicas
(`global_batch / strategy.num_replicas_in_sync` examples each).

- `mirrored`: `tf.distribute.MirroredStrategy` over all GPUs of this machine (or, without GPUs,
  over the logical CPU devices, see `LSTM_KERAS_CPU_DEVICES`).
- `multi-worker`: `tf.distribute.MultiWorkerMirroredStrategy`, configured from the `TF_CONFIG`
  environment variable of each worker (the same command runs on every machine; the chief,
  task 0, writes the outputs).
"""

import json
import os

STRATEGIES = ("default", "mirrored", "multi-worker")
CPU_DEVICES_ENV = "LSTM_KERAS_CPU_DEVICES"


def get_strategy(name="default"):
    """Returns the `tf.distribute.Strategy` called `name` (TensorFlow backend only).

    With the environment variable `LSTM_KERAS_CPU_DEVICES=N` the machine's CPU is split into `N`
    logical devices first (for trying `mirrored` without GPUs); this must happen before
    TensorFlow initialises its devices.

    Args:
        name: one of `STRATEGIES`.

    Returns:
        The strategy.

    Raises:
        ValueError: an unknown name, a backend other than TensorFlow, or `multi-worker` without
            a `TF_CONFIG`.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Invalid value for argument `strategy`: received {name!r}; allowed: {list(STRATEGIES)}.")
    import keras

    if name != "default" and keras.backend.backend() != "tensorflow":
        raise ValueError(f"strategy={name!r} needs the TensorFlow backend (KERAS_BACKEND=tensorflow).")
    import tensorflow as tf

    _split_cpu(tf)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if not os.environ.get("TF_CONFIG"):
        raise ValueError(
            "strategy='multi-worker' needs the TF_CONFIG environment variable on every worker, e.g. "
            + json.dumps({"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}})
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy):
    """Whether this process writes the outputs (always, except on non-chief multi-worker tasks)."""
    resolver = getattr(strategy.extended, "_cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type in (None, "chief") or (resolver.task_type == "worker" and resolver.task_id == 0)


def _split_cpu(tf):
    count = int(os.environ.get(CPU_DEVICES_ENV, "0") or 0)
    if count <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.get_logical_device_configuration(cpu) or []) == count:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as error:
        raise ValueError(
            f"{CPU_DEVICES_ENV}={count} must be set before TensorFlow initialises its devices: {error}"
        ) from error
