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

The project's models (`TextClassifier`, `Translator`) include `DistributedFitMixin`, which works
around two bugs of Keras 3's TensorFlow trainer under these strategies (see its docstring), so
that they train under `mirrored` and `multi-worker` with the same loss curve as on one device.
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


class DistributedFitMixin:
    """Lets a `keras.Model` subclass `fit` under a `tf.distribute` strategy with any inputs.

    Before its first `fit` / `evaluate` under a strategy, Keras 3's TensorFlow trainer takes the
    first *distributed* batch and averages it across replicas (`strategy.reduce("MEAN", ...)`)
    only to build the metrics and optimizer from its shapes. That fails on string inputs (a
    `TextClassifier` reads raw text: `AddN` has no string kernel) and under
    `MultiWorkerMirroredStrategy` (keras-team/keras#20585, open), and reading that batch
    advances a reshuffling data set, so the epochs then see other orders than on one device.
    This mixin builds from the data set's `element_spec` instead (the shapes and dtypes, which
    is all the build uses), inside the strategy's scope: no batch is read, nothing is reduced.

    Under `MultiWorkerMirroredStrategy` Keras then averages every step's logs with
    `strategy.reduce("MEAN", value, axis=0)`, which fails on the scalar loss and metrics
    ("Invalid reduction dimension 0 for input with 0 dimensions", tensorflow/tensorflow#72388):
    the mixin's training and test steps return them as vectors of one value, so the reduction
    averages the replicas' values into a scalar, as on one machine.

    Without a strategy, and on other backends, Keras' own code runs unchanged.
    """

    def train_step(self, *args):
        # `(data)` on TensorFlow and PyTorch, `(state, data)` on JAX, which has no strategy.
        return self._one_value_vectors(super().train_step(*args))

    def test_step(self, *args):
        return self._one_value_vectors(super().test_step(*args))

    def _one_value_vectors(self, logs):
        if getattr(self, "_distribute_strategy", None) is None or not _is_multi_worker(self._distribute_strategy):
            return logs
        from keras import ops

        return {name: ops.reshape(value, (1,)) if len(ops.shape(value)) == 0 else value for name, value in logs.items()}

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is None or getattr(self, "_distribute_strategy", None) is None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        element_spec = iterator.data_adapter.get_tf_dataset().element_spec  # TensorSpecs of one batch
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=element_spec)


def _is_multi_worker(strategy):
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode()
