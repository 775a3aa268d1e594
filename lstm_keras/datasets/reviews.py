"""A generated review corpus whose labels depend on word order and scope, not on which words occur.

Every sentence has one or two clauses `<subject> <verb> <adjective phrase>` ("the plot was not at
all bad"). An adjective phrase is an adjective from a positive or a negative list, optionally
preceded by an intensifier ("very", strength 3), a diminisher ("slightly", strength 1) or a
negator ("not", "never", "hardly", "not at all", "far from"; "not" may take an intensifier:
"not very good"). A bare adjective has strength 2. A negator flips the adjective's polarity.
The second clause may be elliptic, an adjective phrase alone ("the film was good but slow").

The label of a sentence follows from its form:

| form | example | label |
|---|---|---|
| single | the film was never boring | the clause's polarity |
| but | the plot was good but the acting was not great | the clause after "but" |
| although, first | although far from clever , the script was never dull | the main clause, after the comma |
| although, second | the plot was good , though the acting was bad | the main clause, before the comma |
| and | the plot was very good and slightly slow | the stronger adjective (no negators here) |

The two clauses of a two-clause sentence always have opposite polarities, and every two-clause
sentence comes with a twin made of exactly the same words with the opposite label: the phrases
swapped around "but", the concessive word moved to the other clause, or the intensity modifiers
swapped between the two adjectives ("very good and slightly slow" / "slightly good and very
slow"). Three quarters of the sentences have two clauses, so a bag-of-words model stays near
chance, while a sequence model that tracks negation and clause scope can label every sentence
(a small `keras.layers.LSTM` reaches 100% on the held-out split within a few epochs).

The generator only draws `random.Random(seed).random()` floats, a sequence Python guarantees
across versions, so `data/reviews.tsv` is reproducible with `write_reviews_tsv("data/reviews.tsv")`.
"""

import random

from lstm_keras.io import write_text

LABEL_NAMES = ("negative", "positive")
DEFAULT_SIZE = 20000
DEFAULT_SEED = 0
# The fixed test split of the default corpus: its last TEST_SIZE sentences.
TEST_SIZE = 4000

POSITIVE = (
    "good", "great", "funny", "fresh", "smart", "witty", "solid", "sharp", "lovely", "moving",
    "clever", "superb",
)
NEGATIVE = (
    "bad", "dull", "weak", "flat", "bland", "messy", "silly", "slow", "stale", "lame", "awful",
    "boring",
)
INTENSIFIERS = ("very", "really", "so", "truly")
DIMINISHERS = ("slightly", "somewhat", "mildly", "a bit")
NEGATORS = ("not", "never", "hardly", "not at all", "far from")
SUBJECTS = (
    "the plot", "the cast", "the script", "the story", "the music", "the pace", "the acting",
    "the humor", "the film", "the movie", "the lead", "the score", "the twist",
)
VERBS = ("was", "is")
CONCESSIVES = ("although", "though")

# The probability of each form per draw; a two-clause draw gives two sentences (twins).
FORM_WEIGHTS = (("single", 0.4), ("but", 0.2), ("although", 0.2), ("and", 0.2))


def _pick(rng, items):
    """One item of `items`, drawn with `rng.random()` only (stable across Python versions)."""
    return items[int(rng.random() * len(items))]


def _form(rng):
    """Draws a sentence form according to FORM_WEIGHTS."""
    u = rng.random()
    for name, weight in FORM_WEIGHTS:
        if u < weight:
            return name
        u -= weight
    return FORM_WEIGHTS[-1][0]


def _adjective(rng, polarity):
    """An adjective of `polarity` (+1 or -1)."""
    return _pick(rng, POSITIVE if polarity > 0 else NEGATIVE)


def _phrase(rng, polarity, negation):
    """An adjective phrase whose overall polarity is `polarity` (+1 or -1).

    With `negation`, a negator precedes an adjective of the opposite polarity ("not bad" is
    positive); otherwise an optional intensifier or diminisher precedes an adjective of
    `polarity`.
    """
    if negation:
        negator = _pick(rng, NEGATORS)
        words = [negator]
        if negator == "not" and rng.random() < 0.3:
            words.append(_pick(rng, INTENSIFIERS))
        return words + [_adjective(rng, -polarity)]
    u = rng.random()
    if u < 0.25:
        return [_pick(rng, INTENSIFIERS), _adjective(rng, polarity)]
    if u < 0.5:
        return [_pick(rng, DIMINISHERS), _adjective(rng, polarity)]
    return [_adjective(rng, polarity)]


def _two_clauses(connective, first, second, frame):
    """Renders two adjective phrases (in text order) joined by `connective`.

    `connective` is "but", "and", ", although" (the concessive word before the second phrase:
    the first phrase is the main clause) or "although ," (the concessive word before the first
    phrase: the second phrase is the main clause). `frame` holds the subjects, the verbs, the
    concessive word and whether the second clause is elliptic ("the film was good but slow").
    """
    subject_a, verb_a, subject_b, verb_b, concessive, elliptic = frame
    clause_a = f"{subject_a} {verb_a}"
    clause_b = "" if elliptic else f"{subject_b} {verb_b} "
    if connective in ("but", "and"):
        return f"{clause_a} {first} {connective} {clause_b}{second}"
    if connective == ", although":
        return f"{clause_a} {first} , {concessive} {clause_b}{second}"
    if elliptic:
        return f"{concessive} {first} , {clause_a} {second}"
    return f"{concessive} {clause_a} {first} , {subject_b} {verb_b} {second}"


def _group(rng):
    """One sentence, or a twin pair of sentences with the same words and opposite labels.

    Returns:
        A list of `(text, label)` pairs, `label` 0 (negative) or 1 (positive).
    """
    form = _form(rng)
    label = 1 if rng.random() < 0.5 else 0
    polarity = 1 if label else -1
    subject_a = _pick(rng, SUBJECTS)
    verb_a = _pick(rng, VERBS)

    if form == "single":
        # Half of the single clauses are negated, so no single word predicts the label.
        phrase = _phrase(rng, polarity, negation=rng.random() < 0.5)
        return [(f"{subject_a} {verb_a} {' '.join(phrase)}", label)]

    subject_b = _pick(rng, SUBJECTS)
    while subject_b == subject_a:
        subject_b = _pick(rng, SUBJECTS)
    frame = (subject_a, verb_a, subject_b, _pick(rng, VERBS), _pick(rng, CONCESSIVES),
             rng.random() < 0.75)
    decisive_first = rng.random() < 0.5

    def render(connective, decisive, other):
        """The sentence with the decisive phrase first or second (fixed for both twins)."""
        first, second = (decisive, other) if decisive_first else (other, decisive)
        return _two_clauses(connective, first, second, frame)

    if form == "and":
        # Opposite adjectives with different strengths; the stronger one decides. The twin
        # swaps the modifiers, so that the other adjective becomes the stronger one.
        strong, weak = _pick(rng, ((INTENSIFIERS, DIMINISHERS), (INTENSIFIERS, ()), ((), DIMINISHERS)))
        strong_words = [_pick(rng, strong)] if strong else []
        weak_words = [_pick(rng, weak)] if weak else []
        decisive = _adjective(rng, polarity)
        other = _adjective(rng, -polarity)
        return [
            (render("and", " ".join(strong_words + [decisive]), " ".join(weak_words + [other])), label),
            (render("and", " ".join(weak_words + [decisive]), " ".join(strong_words + [other])), 1 - label),
        ]

    # "but" and "although": a decisive phrase of the label's polarity and an opposite one.
    decisive = " ".join(_phrase(rng, polarity, negation=rng.random() < 0.4))
    other = " ".join(_phrase(rng, -polarity, negation=rng.random() < 0.4))
    if form == "but":
        # The phrase after "but" decides; the twin swaps the two phrases.
        return [
            (_two_clauses("but", other, decisive, frame), label),
            (_two_clauses("but", decisive, other, frame), 1 - label),
        ]
    # The main clause decides; the twin moves the concessive word to the other clause.
    main_label = label if decisive_first else 1 - label  # the label when the first phrase is main
    return [
        (render(", although", decisive, other), main_label),
        (render("although ,", decisive, other), 1 - main_label),
    ]


def generate_reviews(n, seed=DEFAULT_SEED):
    """Generates `n` distinct review sentences and their labels, deterministically from `seed`.

    See the module docstring for the grammar and the labelling rule.

    Args:
        n: the number of sentences.
        seed: the random seed; the same seed always gives the same corpus.

    Returns:
        A list of `n` `(label, text)` pairs: the label "negative" or "positive", the text a
        lowercase, space-tokenised sentence. These are the rows of `data/reviews.tsv`.

    Example:
    >>> rows = generate_reviews(4, seed=0)
    >>> len(rows), len({text for _, text in rows}), {label for label, _ in rows} <= set(LABEL_NAMES)
    (4, 4, True)
    >>> generate_reviews(4, seed=0) == rows
    True
    """
    if n < 0:
        raise ValueError(f"generate_reviews: n must be >= 0, received n={n}")
    rng = random.Random(seed)
    texts, labels, seen = [], [], set()
    attempts = 0
    while len(texts) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise ValueError(f"generate_reviews: could not find {n} distinct sentences")
        group = _group(rng)
        if any(text in seen for text, _ in group):
            continue
        for text, label in group[: n - len(texts)]:
            seen.add(text)
            texts.append(text)
            labels.append(label)
    # Shuffle (Fisher-Yates on rng.random()) so that twins are not neighbours.
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(rng.random() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return [(LABEL_NAMES[labels[i]], texts[i]) for i in order]


def write_reviews_tsv(path, n=DEFAULT_SIZE, seed=DEFAULT_SEED):
    """Writes the generated corpus to `path` as `label<TAB>text` lines (atomically).

    Args:
        path: the output file, e.g. `data/reviews.tsv`.
        n: the number of sentences.
        seed: the random seed.

    Returns:
        `path`.

    Example:
    >>> import os, tempfile
    >>> path = write_reviews_tsv(os.path.join(tempfile.mkdtemp(), "reviews.tsv"), n=3)
    >>> len(open(path).read().splitlines())
    3
    """
    write_text(path, "".join(f"{label}\t{text}\n" for label, text in generate_reviews(n, seed)))
    return path
