"""Tests of the generated review corpus: determinism, labels from an independent parser, and a
bag-of-words baseline that fails on it.
"""

import collections
import os

import numpy as np
import pytest

from lstm_keras.datasets import reviews
from lstm_keras.datasets.classification import load_classification_data

REVIEWS_TSV = os.path.join(os.path.dirname(__file__), "..", "..", "data", "reviews.tsv")

# The test's own lexicon and rules: an independent reading of the grammar, not the generator's code.
POSITIVE = set("good great funny fresh smart witty solid sharp lovely moving clever superb".split())
NEGATIVE = set("bad dull weak flat bland messy silly slow stale lame awful boring".split())
NEGATION_WORDS = {"not", "never", "hardly", "far"}  # "far from"; "not at all" contains "not"
INTENSIFIERS = {"very", "really", "so", "truly"}
DIMINISHERS = {"slightly", "somewhat", "mildly", "bit"}  # "a bit"
CONCESSIVES = {"although", "though"}


def phrase_value(tokens):
    """(polarity, strength, negated) of the adjective phrase ending `tokens`."""
    adjective = tokens[-1]
    assert adjective in POSITIVE | NEGATIVE, f"no adjective at the end of {tokens}"
    polarity = 1 if adjective in POSITIVE else -1
    negated = any(token in NEGATION_WORDS for token in tokens)
    if negated:
        polarity = -polarity
    strength = 3 if INTENSIFIERS & set(tokens) else 1 if DIMINISHERS & set(tokens) else 2
    return polarity, strength, negated


def parse_label(text):
    """The label (0 negative, 1 positive) that the rules of the corpus give `text`."""
    tokens = text.split()
    if "but" in tokens:
        # Contrast: the part after "but" decides.
        i = tokens.index("but")
        first, second = phrase_value(tokens[:i]), phrase_value(tokens[i + 1:])
        assert first[0] == -second[0], text
        polarity = second[0]
    elif "," in tokens:
        # Concession: the part without "although"/"though" is the main clause and decides.
        i = tokens.index(",")
        parts = [tokens[:i], tokens[i + 1:]]
        (main,) = [part for part in parts if not CONCESSIVES & set(part)]
        (subordinate,) = [part for part in parts if CONCESSIVES & set(part)]
        polarity = phrase_value(main)[0]
        assert phrase_value(subordinate)[0] == -polarity, text
    elif "and" in tokens:
        # Coordination of opposite adjectives: the stronger one decides.
        i = tokens.index("and")
        first, second = phrase_value(tokens[:i]), phrase_value(tokens[i + 1:])
        assert not first[2] and not second[2] and first[0] == -second[0], text
        assert first[1] != second[1], text
        polarity = first[0] if first[1] > second[1] else second[0]
    else:
        polarity = phrase_value(tokens)[0]
    return 1 if polarity > 0 else 0


def texts_and_labels(rows):
    """The texts and the int labels (0 negative, 1 positive) of `(label, text)` rows."""
    return [text for _, text in rows], [reviews.LABEL_NAMES.index(label) for label, _ in rows]


@pytest.fixture(scope="module")
def corpus():
    return texts_and_labels(reviews.generate_reviews(reviews.DEFAULT_SIZE, reviews.DEFAULT_SEED))


def test_generation_is_deterministic_and_distinct():
    rows = reviews.generate_reviews(500, seed=1)
    assert rows == reviews.generate_reviews(500, seed=1)
    assert rows != reviews.generate_reviews(500, seed=2)
    texts, labels = texts_and_labels(rows)
    assert len(texts) == len(set(texts)) == 500
    assert set(labels) == {0, 1}
    assert reviews.generate_reviews(0) == []
    with pytest.raises(ValueError, match="n must be >= 0"):
        reviews.generate_reviews(-1)


def test_every_label_follows_the_rules(corpus):
    texts, labels = corpus
    assert [parse_label(text) for text in texts] == labels
    assert abs(np.mean(labels) - 0.5) < 0.02
    # All the constructions occur often.
    for marker in ("but", "although", "though", "and", "not", "never", "hardly", "far", "at", "very", "slightly"):
        assert sum(marker in text.split() for text in texts) > 300, marker


def test_same_words_occur_with_both_labels(corpus):
    # "the plot was good but the acting was bad" / "the plot was bad but the acting was good".
    texts, labels = corpus
    labels_of_bag = collections.defaultdict(set)
    for text, label in zip(texts, labels):
        labels_of_bag[tuple(sorted(text.split()))].add(label)
    ambiguous = sum(len(labels_of_bag[tuple(sorted(text.split()))]) == 2 for text in texts)
    assert ambiguous / len(texts) > 0.7


def bag_of_words(texts, vocabulary):
    features = np.zeros((len(texts), len(vocabulary)), dtype="float64")  # (examples, vocabulary)
    for row, text in enumerate(texts):
        for token in text.split():
            if token in vocabulary:
                features[row, vocabulary[token]] += 1
    return features


def logistic_regression(features, labels, steps=10, l2=1e-3):
    """L2-regularised logistic regression fitted by Newton's method; returns a predictor.

    The Hessian uses `np.einsum`, not a BLAS matrix product: multi-threaded BLAS on a small,
    busy CI machine is slower than this by an order of magnitude.
    """
    x = np.concatenate([features, np.ones((len(features), 1))], axis=1)  # (examples, vocabulary + 1)
    weights = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ weights)))  # (examples,)
        gradient = np.einsum("ni,n->i", x, p - labels) / len(labels) + l2 * weights
        hessian = np.einsum("ni,nj,n->ij", x, x, p * (1 - p)) / len(labels) + l2 * np.eye(x.shape[1])
        weights -= np.linalg.solve(hessian, gradient)
    return lambda f: (np.concatenate([f, np.ones((len(f), 1))], axis=1) @ weights > 0).astype("int32")


def test_bag_of_words_baseline_fails():
    data = load_classification_data("reviews")
    assert len(data.train_texts) == reviews.DEFAULT_SIZE - reviews.TEST_SIZE
    assert len(data.test_texts) == reviews.TEST_SIZE
    vocabulary = {w: i for i, w in enumerate(sorted({w for t in data.train_texts for w in t.split()}))}
    x_train, x_test = bag_of_words(data.train_texts, vocabulary), bag_of_words(data.test_texts, vocabulary)
    predict = logistic_regression(x_train, data.train_labels)
    train_accuracy = np.mean(predict(x_train) == data.train_labels)
    test_accuracy = np.mean(predict(x_test) == data.test_labels)
    print(f"bag-of-words logistic regression: train {train_accuracy:.3f}, test {test_accuracy:.3f}")
    assert test_accuracy < 0.70
    assert train_accuracy < 0.70  # it cannot even fit the training set

    # Control: the same baseline solves the sentences that a bag of words can solve.
    easy = [
        i for i, text in enumerate(data.train_texts)
        if not {"but", ",", "and"} & set(text.split()) and not NEGATION_WORDS & set(text.split())
    ]
    x_easy, y_easy = x_train[easy], data.train_labels[easy]
    half = len(easy) // 2
    predict_easy = logistic_regression(x_easy[:half], y_easy[:half])
    assert np.mean(predict_easy(x_easy[half:]) == y_easy[half:]) > 0.95


def test_committed_tsv_is_the_generated_corpus(corpus, tmp_path):
    if not os.path.isfile(REVIEWS_TSV):
        pytest.skip(f"{REVIEWS_TSV} not present")
    assert os.path.getsize(REVIEWS_TSV) < 1_000_000
    path = reviews.write_reviews_tsv(str(tmp_path / "reviews.tsv"))
    with open(path, "rb") as f, open(REVIEWS_TSV, "rb") as committed:
        assert f.read() == committed.read(), "data/reviews.tsv is stale: regenerate it"
    texts, labels = corpus
    first = open(REVIEWS_TSV, encoding="utf-8").readline().rstrip("\n")
    assert first == f"{reviews.LABEL_NAMES[labels[0]]}\t{texts[0]}"


def test_tsv_round_trip_through_the_loader(tmp_path):
    path = reviews.write_reviews_tsv(str(tmp_path / "small.tsv"), n=300, seed=5)
    texts, labels = texts_and_labels(reviews.generate_reviews(300, seed=5))
    data = load_classification_data(path, test=0.2, seed=0)
    assert data.label_names == ["negative", "positive"]
    loaded = sorted(zip(data.train_texts + data.test_texts, data.train_labels.tolist() + data.test_labels.tolist()))
    assert loaded == sorted(zip(texts, labels))


@pytest.mark.large
def test_lstm_learns_what_bag_of_words_cannot():
    import keras

    data = load_classification_data("reviews")
    vocabulary = {w: i + 1 for i, w in enumerate(sorted({w for t in data.train_texts for w in t.split()}))}
    length = max(len(t.split()) for t in data.train_texts + data.test_texts)

    def encode(texts):
        ids = np.zeros((len(texts), length), dtype="int32")  # (examples, time)
        for row, text in enumerate(texts):
            tokens = [vocabulary.get(w, 0) for w in text.split()]
            ids[row, : len(tokens)] = tokens
        return ids

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((length,), dtype="int32"),
        keras.layers.Embedding(len(vocabulary) + 1, 32, mask_zero=True),  # (batch, time, 32)
        keras.layers.LSTM(64),  # (batch, 64)
        keras.layers.Dense(1, activation="sigmoid"),  # (batch, 1)
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(encode(data.train_texts), data.train_labels, epochs=4, batch_size=64, verbose=0)
    _, accuracy = model.evaluate(encode(data.test_texts), data.test_labels, verbose=0)
    assert accuracy > 0.95
