"""`CompiledGenerate`: a model's generation function, compiled once per sampler (TensorFlow) or called as is."""

import json

import keras
from keras import ops
from keras import tree

from lstm_keras.decoding.sampler import Sampler


class CompiledGenerate:
    """Calls `function(*inputs, sampler)` as a `tf.function` traced once per sampler, and returns NumPy arrays.

    On TensorFlow the function is traced for the given input signature and kept until it is
    called with another sampler: a sampler of another config, or one that holds its own random
    state (a `seed_generator`: two such samplers draw differently even with the same config).
    On JAX and PyTorch the function runs eagerly (their own loops compile). Every generating
    model of the project (`Translator`, `LanguageModel`) keeps one of these.

    Args:
        input_dtypes: the dtypes of the inputs, in order (a scalar input is given as
            `("int32", ())`, a `(batch, T)` input as `("int32", (None, None))`).
        autograph: whether `tf.function` converts Python control flow (not needed for loops
            written with `keras.ops.while_loop`).

    Example:
    >>> from lstm_keras import decoding
    >>> generate = CompiledGenerate([("float32", (None,))])
    >>> generate(lambda x, sampler: x * 2, decoding.get("greedy"), [1.0, 2.0]).tolist()
    [2.0, 4.0]
    """

    def __init__(self, input_dtypes, autograph=True):
        self.input_dtypes = list(input_dtypes)
        self.autograph = autograph
        self._function = None
        self._key = None

    @staticmethod
    def cache_key(sampler):
        """What must match for a traced function to be reused: the config, and the instance if it holds random state."""
        config = json.dumps(keras.saving.serialize_keras_object(sampler), sort_keys=True, default=str)
        return config, id(sampler) if getattr(sampler, "seed_generator", None) is not None else None

    def __call__(self, function, sampler, *inputs, key=None):
        """Runs `function(*inputs, sampler)`; `key` names whatever else `function` depends on (retraced when it changes)."""
        if not isinstance(sampler, Sampler):
            raise TypeError(f"expected a Sampler (lstm_keras.decoding.get makes one); received {sampler!r}")
        if keras.backend.backend() != "tensorflow":
            return tree.map_structure(ops.convert_to_numpy, function(*inputs, sampler))
        import tensorflow as tf

        key = (self.cache_key(sampler), key)
        if self._function is None or self._key != key:
            self._function = tf.function(
                lambda *args: function(*args, sampler),
                input_signature=[tf.TensorSpec(shape, dtype) for dtype, shape in self.input_dtypes],
                autograph=self.autograph,
            )
            self._key = key
        inputs = [tf.cast(value, dtype) for value, (dtype, _) in zip(inputs, self.input_dtypes)]
        return tree.map_structure(lambda tensor: tensor.numpy(), self._function(*inputs))
