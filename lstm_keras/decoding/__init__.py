"""Decoding strategies over a model-supplied step function (keras-hub samplers style).

`Sampler` owns the loop; `GreedySampler` overrides how the next token is picked; `BeamSampler`
overrides the loop. `get("greedy")` / `get("beam")` map names (or configs, or instances) to samplers.
"""

import keras

from lstm_keras.decoding.beam import BeamSampler
from lstm_keras.decoding.beam import gnmt_coverage_penalty
from lstm_keras.decoding.beam import gnmt_length_penalty
from lstm_keras.decoding.greedy import GreedySampler
from lstm_keras.decoding.random import RandomSampler
from lstm_keras.decoding.sampler import Sampler
from lstm_keras.decoding.sampler import ban_repeated_ngrams
from lstm_keras.decoding.top_k import TopKSampler
from lstm_keras.decoding.top_p import TopPSampler

# Names accepted by `get`; a later task adds its random samplers here.
ALL_SAMPLERS = {
    "beam": BeamSampler,
    "greedy": GreedySampler,
    "random": RandomSampler,
    "top_k": TopKSampler,
    "top_p": TopPSampler,
}


def serialize(sampler):
    """Returns the Keras config of a sampler (a dict with its class name and config)."""
    return keras.saving.serialize_keras_object(sampler)


def get(identifier, **kwargs):
    """Returns a sampler from a name, a config dict or a `Sampler` instance.

    Args:
        identifier: a name in `ALL_SAMPLERS` (`"greedy"`, `"beam"`), a config dict (made by
            `serialize`, or just `{"class_name": "BeamSampler", "config": {...}}`), or a `Sampler`
            (returned as is).
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
    >>> get({"class_name": "BeamSampler", "config": {"num_beams": 4}}).num_beams
    4
    """
    if isinstance(identifier, Sampler):
        return identifier
    if isinstance(identifier, dict):
        classes = {cls.__name__: cls for cls in ALL_SAMPLERS.values()}
        if identifier.get("class_name") in classes:
            return classes[identifier["class_name"]].from_config(identifier.get("config", {}))
        return keras.saving.deserialize_keras_object(identifier)
    if isinstance(identifier, str) and identifier.lower() in ALL_SAMPLERS:
        return ALL_SAMPLERS[identifier.lower()](**kwargs)
    raise ValueError(
        f"Invalid sampler: expected one of {sorted(ALL_SAMPLERS)}, a sampler config or a `Sampler` "
        f"instance. Received: {identifier!r}"
    )


def from_options(beam_size=None, length_penalty=0.6, greedy=False, top_k=None, top_p=None, seed=None,
                 no_repeat_ngram=0, coverage_penalty=0.0):
    """The sampler that decoding options name (the `--beam-size`, `--greedy`, `--top-k`, `--top-p` flags).

    Beam search for a `beam_size` above 1, greedy decoding for a beam of 1 or `greedy`, top-k or
    top-p sampling for `top_k` / `top_p`, else random sampling; `seed` seeds the random draws;
    `no_repeat_ngram` is every sampler's `no_repeat_ngram_size` (`--no-repeat-ngram`);
    `coverage_penalty` is beam search's GNMT beta (`--coverage-penalty`).

    Example:
    >>> from_options(beam_size=4).num_beams, type(from_options(beam_size=1)).__name__
    (4, 'GreedySampler')
    >>> type(from_options(top_p=0.9, seed=1)).__name__, type(from_options()).__name__
    ('TopPSampler', 'RandomSampler')
    >>> from_options(greedy=True, no_repeat_ngram=3).no_repeat_ngram_size
    3
    """
    chosen = [name for name, value in (("beam_size", beam_size), ("greedy", greedy or None), ("top_k", top_k),
                                       ("top_p", top_p)) if value is not None]
    if len(chosen) > 1:
        raise ValueError(f"the decoding options {chosen} exclude one another: give at most one")
    guard = {"no_repeat_ngram_size": no_repeat_ngram}
    if beam_size is not None and beam_size > 1:
        return get("beam", num_beams=beam_size, length_penalty=length_penalty, coverage_penalty=coverage_penalty,
                   **guard)
    if greedy or beam_size is not None:
        return get("greedy", **guard)
    if top_k is not None:
        return get("top_k", k=top_k, seed=seed, **guard)
    if top_p is not None:
        return get("top_p", p=top_p, seed=seed, **guard)
    return get("random", seed=seed, **guard)
