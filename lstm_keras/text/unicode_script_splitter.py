"""`UnicodeScriptSplitter`: TensorFlow Text tokenisation as the `split` of the classifier's `TextVectorization`."""

import keras
import tensorflow as tf

from lstm_keras.text.text_standardizer import EMPTY_TEXT_TOKEN
from lstm_keras.text.text_standardizer import check_truncation
from lstm_keras.text.text_standardizer import truncate_tokens


@keras.saving.register_keras_serializable(package="lstm_keras")
class UnicodeScriptSplitter:
    """Splits standardised texts into tokens with `tensorflow_text.UnicodeScriptTokenizer`, then truncates.

    The tokenizer splits on whitespace and wherever the Unicode script changes, so punctuation
    and symbols become tokens of their own ("great!" becomes "great", "!") and runs of
    different scripts are split ("jazz爵士" becomes "jazz", "爵士"). Splitting on whitespace
    alone keeps "great!" and "great" apart as two different words.

    The standardiser's marker for an empty text (`"[UNK]"`) stays one token, and a text of more
    than `max_length` tokens keeps its first (`truncation="post"`) or last (`"pre"`) ones: the
    count is that of these tokens, not of whitespace-separated words.

    A SavedModel whose classifier uses this splitter runs TensorFlow Text ops: the serving
    process must `import tensorflow_text` before loading it (it needs no `lstm_keras`).

    Args:
        max_length: None or a positive int, the most tokens a text keeps.
        truncation: `"post"` (keep the first `max_length` tokens) or `"pre"` (keep the last).

    Call arguments:
        texts: a `tf.string` tensor `(batch,)` of standardised texts.

    Returns:
        A `tf.RaggedTensor` of `tf.string` tokens, `(batch, (tokens))`, at least one per text.

    Example:
    >>> split = UnicodeScriptSplitter(max_length=3)
    >>> [[t.decode() for t in row] for row in split(tf.constant(["great!", "[UNK]", "a b c d"])).to_list()]
    [['great', '!'], ['[UNK]'], ['a', 'b', 'c']]
    """

    def __init__(self, max_length=None, truncation="post"):
        check_truncation("UnicodeScriptSplitter", max_length, truncation)
        self.max_length = max_length
        self.truncation = truncation

    def __call__(self, texts):
        # Imported here: only classifiers that choose this splitter need TensorFlow Text.
        import tensorflow_text

        texts = tf.convert_to_tensor(texts, dtype=tf.string)  # (batch,)
        is_empty = tf.equal(texts, EMPTY_TEXT_TOKEN)  # (batch,)
        tokens = tensorflow_text.UnicodeScriptTokenizer().tokenize(tf.where(is_empty, "", texts))  # (batch, (tokens))
        # A text without tokens gets the one "[UNK]" token back (the vectoriser's out-of-vocabulary id).
        missing = tf.cast(tf.equal(tokens.row_lengths(), 0), tf.int64)  # (batch,) 1 where no token
        filler = tf.RaggedTensor.from_row_lengths(tf.fill([tf.reduce_sum(missing)], EMPTY_TEXT_TOKEN), missing)
        tokens = tf.concat([tokens, filler], axis=1)  # (batch, (>= 1 tokens))
        return truncate_tokens(tokens, self.max_length, self.truncation)  # (batch, (<= max_length))

    def get_config(self):
        return {"max_length": self.max_length, "truncation": self.truncation}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
