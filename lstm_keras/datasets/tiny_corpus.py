"""A small generated English corpus for language-model demos and tests (`data/tiny_corpus.txt`).

Sentences come from a small probabilistic grammar with long-range structure a language model can
learn and an n-gram model of short context cannot fully capture:

- number agreement: the verb agrees with the head noun of its subject across a prepositional
  phrase or a relative clause ("the dog near the cats runs", "the dogs that the cat sees run");
- determiners agree with their noun ("a dog", never "a dogs"; "some dogs", never "some dog");
- a sentence may have a second clause after "and" / "but" / "because", and always ends with ".".

The vocabulary is small (about 110 words), so a tiny LSTM trained for a minute reaches a
perplexity far below the unigram baseline. The generator only draws `random.Random(seed).random()`
floats (a sequence Python guarantees across versions), so the file is reproducible:
`write_tiny_corpus("data/tiny_corpus.txt")`.
"""

import random

from lstm_keras.io import write_text

DEFAULT_SIZE = 4000
DEFAULT_SEED = 0

# (singular, plural) nouns and verbs.
NOUNS = (
    ("dog", "dogs"), ("cat", "cats"), ("bird", "birds"), ("child", "children"), ("teacher", "teachers"),
    ("farmer", "farmers"), ("king", "kings"), ("robot", "robots"), ("painter", "painters"),
    ("sailor", "sailors"), ("horse", "horses"), ("student", "students"),
)
INTRANSITIVE = (
    ("sleeps", "sleep"), ("runs", "run"), ("sings", "sing"), ("waits", "wait"), ("laughs", "laugh"),
    ("works", "work"), ("dances", "dance"), ("rests", "rest"),
)
TRANSITIVE = (
    ("sees", "see"), ("likes", "like"), ("follows", "follow"), ("helps", "help"), ("chases", "chase"),
    ("watches", "watch"), ("visits", "visit"), ("knows", "know"),
)
COPULA = ("is", "are")
ADJECTIVES = ("small", "old", "happy", "red", "quiet", "clever", "tired", "young", "brave", "lazy")
PREPOSITIONS = ("near", "behind", "with", "beside")
PLACES = (
    "in the garden", "near the river", "on the hill", "at home", "in the village", "by the sea",
    "under the bridge", "in the morning", "at night",
)
ADVERBS = ("quickly", "slowly", "often", "never", "always", "happily", "quietly")
CONNECTIVES = ("and", "but", "because")
SINGULAR_DETERMINERS = ("the", "a", "this", "every")
PLURAL_DETERMINERS = ("the", "some", "these", "many")


def _pick(rng, items):
    """One item of `items`, drawn with `rng.random()` only (stable across Python versions)."""
    return items[int(rng.random() * len(items))]


def _noun_phrase(rng, plural, depth):
    """A noun phrase whose head noun is plural or not; returns a list of words."""
    words = [_pick(rng, PLURAL_DETERMINERS if plural else SINGULAR_DETERMINERS)]
    if rng.random() < 0.35:
        words.append(_pick(rng, ADJECTIVES))
    words.append(_pick(rng, NOUNS)[plural])
    u = rng.random()
    if depth == 0 and u < 0.25:
        # A prepositional phrase with a noun of random number (an attractor for agreement).
        words += [_pick(rng, PREPOSITIONS)] + _noun_phrase(rng, rng.random() < 0.5, depth + 1)
    elif depth == 0 and u < 0.45:
        # An object relative clause: "that the cats see" (its verb agrees with its own subject).
        inner_plural = rng.random() < 0.5
        words += ["that"] + _noun_phrase(rng, inner_plural, depth + 1) + [_pick(rng, TRANSITIVE)[inner_plural]]
    return words


def _verb_phrase(rng, plural):
    """A verb phrase agreeing with a singular or plural subject; returns a list of words."""
    u = rng.random()
    if u < 0.4:
        words = [_pick(rng, INTRANSITIVE)[plural]]
        if rng.random() < 0.4:
            words.append(_pick(rng, ADVERBS))
    elif u < 0.75:
        words = [_pick(rng, TRANSITIVE)[plural]] + _noun_phrase(rng, rng.random() < 0.5, 1)
    else:
        words = [COPULA[plural], _pick(rng, ADJECTIVES)]
    if rng.random() < 0.3:
        words += _pick(rng, PLACES).split()
    return words


def _clause(rng):
    plural = rng.random() < 0.5
    return _noun_phrase(rng, plural, 0) + _verb_phrase(rng, plural)


def generate_tiny_corpus(n=DEFAULT_SIZE, seed=DEFAULT_SEED):
    """Generates `n` sentences (lowercase words separated by spaces, ending with " .").

    Args:
        n: the number of sentences.
        seed: the random seed.

    Returns:
        A list of `n` strings.

    Example:
    >>> sentences = generate_tiny_corpus(3, seed=1)
    >>> len(sentences), all(s.endswith(" .") for s in sentences)
    (3, True)
    >>> generate_tiny_corpus(5, seed=2) == generate_tiny_corpus(5, seed=2)
    True
    """
    rng = random.Random(seed)
    sentences = []
    for _ in range(n):
        words = _clause(rng)
        if rng.random() < 0.3:
            words += [_pick(rng, CONNECTIVES)] + _clause(rng)
        sentences.append(" ".join(words + ["."]))
    return sentences


def write_tiny_corpus(path, n=DEFAULT_SIZE, seed=DEFAULT_SEED):
    """Writes `generate_tiny_corpus(n, seed)` to `path`, one sentence a line (atomically)."""
    write_text(path, "".join(sentence + "\n" for sentence in generate_tiny_corpus(n, seed)))
