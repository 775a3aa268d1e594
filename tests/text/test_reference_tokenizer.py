"""The plain-Python reference tokenizer against the TensorFlow tokenizers it stands in for."""

import pytest
import tensorflow as tf

from lstm_keras.models.classification.text_classifier import TextClassifier
from lstm_keras.text import Tokenizer
from lstm_keras.text.normalization import CASED_TEXT
from lstm_keras.text.reference_tokenizer import ReferenceTokenizer

# Case, accents, apostrophes, punctuation glued to words, symbols, Japanese, full-width and
# compatibility characters, no-break and other Unicode spaces, control whitespace, invalid
# UTF-8, empty and whitespace-only texts.
TEXTS = [
    "A GREAT film, I'd say: 10/10!", "Crème brûlée — très «bon»…", "don’t STOP\tme\nnow",
    "2026年11月26日に東京へ行きました。ラーメン", "ｆｕｌｌ-ｗｉｄｔｈ ﬁne", "no\u00a0break\u2003em space", "tab\vvertical",
    b"ok\xff bytes \xc3(", "", "   ", "¿Dónde está?", "naïve café the the film", "x" * 120 + " ok",
]
TRAINING = ["a great film i would say", "creme brulee tres bon", "dont stop me now the film",
            "東京 へ 行き ました", "fine full width no break em space", "¿ dónde está ?", "naive cafe ok bytes"]


@pytest.mark.parametrize("options", [
    {}, {"lowercase": False, "strip_punctuation": False}, {"stop_words": ["the", "film"], "max_length": 3},
    {"max_length": 2, "truncation": "pre"},
], ids=["default", "cased-punctuated", "stop-words-truncated", "pre"])
def test_classifier_ids_equal_the_vectorizer(options):
    classifier = TextClassifier(["a", "b"], vocabulary_size=60, units=2, embedding_dim=2, **options)
    classifier.adapt(TRAINING + [t for t in TEXTS if isinstance(t, str)])
    reference = ReferenceTokenizer({"kind": "classifier", **classifier.standardizer.get_config()},
                                   classifier.vocabulary)
    expected = classifier.vectorizer(tf.constant(TEXTS)).numpy()  # (n, T), right-padded with 0
    for text, row in zip(TEXTS, expected):
        assert reference.token_ids(text) == [int(i) for i in row if i], text


@pytest.mark.parametrize("kind", ["word", "wordpiece"])
@pytest.mark.parametrize("cased", [False, True], ids=["folded", "cased"])
def test_tokenizer_ids_equal_the_tokenizer(kind, cased):
    tokenizer = Tokenizer.from_texts(TRAINING + [t for t in TEXTS if isinstance(t, str)], vocab_size=80, kind=kind,
                                     **(CASED_TEXT if cased else {}))
    config = tokenizer.get_config()  # kind, form, lowercase, strip_accents, split_punctuation, max_tokens
    reference = ReferenceTokenizer(config, tokenizer.vocabulary)
    texts = [t if isinstance(t, bytes) else t.encode() for t in TEXTS]
    texts = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)
    for text, ids in zip(TEXTS, tokenizer.tokenize(texts).to_list()):
        assert reference.token_ids(text) == ids, text


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown tokenizer kind 'bpe'"):
        ReferenceTokenizer({"kind": "bpe"}, [])
