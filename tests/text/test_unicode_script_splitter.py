"""`UnicodeScriptSplitter`: TensorFlow Text tokens, one "[UNK]" for an empty text, truncation by token."""

import doctest

import keras
import pytest
import tensorflow as tf

from lstm_keras.text import unicode_script_splitter as text_splitter
from lstm_keras.text.unicode_script_splitter import UnicodeScriptSplitter


def split(splitter, texts):
    return [[token.decode("utf-8") for token in row] for row in splitter(tf.constant(texts)).to_list()]


def test_punctuation_and_script_changes_split_words():
    texts = ["great! film.", "jazz爵士 and доброе утро", "a,b", "[UNK]", "well  spaced\tout", "\ufffd odd"]
    assert split(UnicodeScriptSplitter(), texts) == [
        ["great", "!", "film", "."],
        ["jazz", "爵士", "and", "доброе", "утро"],
        ["a", ",", "b"],
        ["[UNK]"],  # the standardiser's empty text stays one out-of-vocabulary token
        ["well", "spaced", "out"],
        ["\ufffd", "odd"],
    ]


def test_plain_words_split_as_on_whitespace():
    texts = ["the plot was good", "one", "very very long review " * 20]
    assert split(UnicodeScriptSplitter(), texts) == [text.split() for text in texts]


@pytest.mark.parametrize("truncation, expected", [("post", ["a", "b", ","]), ("pre", [",", "d", "e"])])
def test_truncation_counts_the_split_tokens(truncation, expected):
    splitter = UnicodeScriptSplitter(max_length=3, truncation=truncation)
    assert split(splitter, ["a b, d e", "[UNK]", "x"]) == [expected, ["[UNK]"], ["x"]]


@pytest.mark.parametrize("kwargs, message", [
    ({"max_length": 0}, "max_length.*Received: max_length=0"),
    ({"max_length": True}, "max_length.*Received: max_length=True"),
    ({"truncation": "middle"}, "truncation.*Received: truncation='middle'"),
])
def test_bad_arguments_raise_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        UnicodeScriptSplitter(**kwargs)


def test_config_round_trip_and_registration():
    splitter = UnicodeScriptSplitter(max_length=7, truncation="pre")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(splitter))
    assert isinstance(clone, UnicodeScriptSplitter) and clone.get_config() == {"max_length": 7, "truncation": "pre"}


def test_docstring_examples():
    assert doctest.testmod(text_splitter, extraglobs={"tf": tf}).failed == 0
