"""Decoding strategies over a model-supplied step function (keras-hub samplers style).

`Sampler` owns the loop; `GreedySampler` overrides how the next token is picked; `BeamSampler`
overrides the loop. `get("greedy")` / `get("beam")` map names (or configs, or instances) to samplers.
"""

import keras

from lstm_keras.decoding.beam import BeamSampler
from lstm_keras.decoding.beam import gnmt_length_penalty
from lstm_keras.decoding.greedy import GreedySampler
from lstm_keras.decoding.sampler import Sampler

# Names accepted by `get`; a later task adds its random samplers here.
ALL_SAMPLERS = {
    "beam": BeamSampler,
    "greedy": GreedySampler,
}


def serialize(sampler):
    """Returns the Keras config of a sampler (a dict with its class name and config)."""
    return keras.saving.serialize_keras_object(sampler)


def get(identifier, **kwargs):
    """Returns a sampler from a name, a config dict or a `Sampler` instance.

    Args:
        identifier: a name in `ALL_SAMPLERS` (`"greedy"`, `"beam"`), a dict made by `serialize`,
            or a `Sampler` (returned as is).
        **kwargs: constructor arguments when `identifier` is a name (e.g. `num_beams=5`).

    Returns:
        A `Sampler`.

    Example:
    >>> get("greedy").__class__.__name__
    'GreedySampler'
    >>> get("beam", num_beams=3).num_beams
    3
    >>> get(serialize(get("beam", num_beams=2))).num_beams
    2
    """
    if isinstance(identifier, Sampler):
        return identifier
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    if isinstance(identifier, str) and identifier.lower() in ALL_SAMPLERS:
        return ALL_SAMPLERS[identifier.lower()](**kwargs)
    raise ValueError(
        f"Invalid sampler: expected one of {sorted(ALL_SAMPLERS)}, a sampler config or a `Sampler` "
        f"instance. Received: {identifier!r}"
    )
