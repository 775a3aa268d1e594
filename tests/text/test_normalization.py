"""Tests of `lstm_keras.text.normalize`: each step, both forms, and use inside graphs."""

import pytest
import tensorflow as tf

from lstm_keras.text import normalize


def as_text(tensor):
    return tensor.numpy().decode("utf-8")


def test_default_pipeline():
    text = "  Crème BRÛLÉE,\ts'il vous plaît!\n "
    assert as_text(normalize(text)) == "creme brulee , s ' il vous plait !"


@pytest.mark.parametrize(
    "options, expected",
    [
        ({}, "ecole a l ' ete : 1 / 2 ."),
        ({"lowercase": False}, "Ecole a l ' ete : 1 / 2 ."),
        ({"split_punctuation": False}, "ecole a l'ete: 1/2."),
        ({"strip_accents": False, "form": "NFKC"}, "école à l ' été : 1 / 2 ."),
        ({"strip_accents": True, "form": "NFKC"}, "ecole a l ' ete : 1 / 2 ."),
    ],
)
def test_options(options, expected):
    assert as_text(normalize("École à l'été: 1/2.", **options)) == expected


def test_forms_compose_or_decompose():
    nfkc = as_text(normalize("é", form="NFKC", strip_accents=False))
    nfkd = as_text(normalize("é", form="NFKD", strip_accents=False))
    assert nfkc == "\u00e9"
    assert nfkd == "e\u0301"
    # Both forms fold compatibility characters: the "fi" ligature, full-width digits.
    for form in ("NFKC", "NFKD"):
        assert as_text(normalize("ﬁne ２０２６", form=form)) == "fine 2026"


def test_unicode_whitespace_is_collapsed_and_stripped():
    text = "\u3000a\u00a0\u00a0b\t\r\n c\u2028d  "
    assert as_text(normalize(text)) == "a b c d"
    assert as_text(normalize(" \t\n ")) == ""
    assert as_text(normalize("")) == ""


def test_symbols_and_ideographs_are_split():
    assert as_text(normalize("2026年11月26日")) == "2026 年 11 月 26 日"
    assert as_text(normalize("5€+$3")) == "5 € + $ 3"
    assert as_text(normalize("¿Qué?")) == "¿ que ?"


def test_shape_is_kept():
    texts = tf.constant([["A b", "C,d"], ["", "É"]])
    result = normalize(texts)
    assert result.shape == (2, 2)
    assert result.numpy().tolist() == [[b"a b", b"c , d"], [b"", b"e"]]


def test_unknown_form_is_rejected():
    with pytest.raises(ValueError, match=r"`form` must be one of .*'NFC'"):
        normalize("x", form="NFC")


def test_same_result_in_tf_function_and_tf_data():
    texts = ["Hello,  World!", "  Ça VA?  ", "", "ﬁ 2026年"]
    expected = normalize(texts).numpy().tolist()

    graph_function = tf.function(normalize, input_signature=[tf.TensorSpec([None], tf.string)])
    assert graph_function(tf.constant(texts)).numpy().tolist() == expected

    ds = tf.data.Dataset.from_tensor_slices(texts)
    assert [t.numpy() for t in ds.map(normalize)] == expected  # unbatched
    batched = [b.numpy().tolist() for b in ds.batch(3).map(normalize)]
    assert sum(batched, []) == expected  # batched
