"""`TextStandardizer`: the `standardize` callable of the classifier's `TextVectorization`."""

import keras
import tensorflow as tf

# What an empty text (or one left empty by standardisation) becomes: `TextVectorization`'s
# out-of-vocabulary token, so that every text has at least one token (id 1, "[UNK]").
EMPTY_TEXT_TOKEN = "[UNK]"
TRUNCATIONS = ("post", "pre")
# Apostrophes are dropped inside words ("don't" -> "dont"); every other punctuation mark or
# symbol (Unicode categories P* and S*, including the U+FFFD of invalid bytes) becomes a space.
APOSTROPHES = r"['\x{2019}]"
PUNCTUATION = r"[\p{P}\p{S}]"


@keras.saving.register_keras_serializable(package="lstm_keras")
class TextStandardizer:
    """Cleans raw text with TensorFlow ops before it is split on whitespace.

    The steps, in order, all graph ops (so they run in `tf.data`, in the model and in an exported
    SavedModel served without `lstm_keras`):

    1. Invalid UTF-8 byte sequences become U+FFFD (`tf.strings.unicode_transcode` with
       `errors="replace"`), so no later step fails on bytes that are not text.
    2. Lowercasing with Unicode semantics ("É" becomes "é"), if `lowercase`.
    3. Punctuation stripping, if `strip_punctuation`: apostrophes are removed ("don't" becomes
       "dont"), every other punctuation mark or symbol becomes a space ("good,bad" becomes
       "good bad").
    4. Stop-word removal, if `stop_words`: whole tokens equal to a stop word are dropped (after
       steps 2 and 3, so give the stop words in that form).
    5. Truncation, if `max_length`: a text of more than `max_length` tokens keeps its first
       `max_length` tokens (`truncation="post"`, the default) or its last ones (`"pre"`, the
       choice of `keras.utils.pad_sequences`); tokens are whitespace-separated, counted after
       steps 2 to 4 (unknown words count).
    6. Whitespace collapsing: runs of whitespace become one space, leading and trailing
       whitespace goes.
    7. A text left empty or whitespace-only becomes `"[UNK]"`, one out-of-vocabulary token, so
       that no sequence is entirely padding.

    Args:
        lowercase: whether to lowercase.
        strip_punctuation: whether to strip punctuation and symbols.
        stop_words: None or a list of words to remove.
        max_length: None or a positive int, the most tokens a text keeps.
        truncation: `"post"` (drop the tokens after the first `max_length`) or `"pre"` (drop
            the tokens before the last `max_length`).

    Call arguments:
        texts: a `tf.string` tensor of any shape.

    Returns:
        A `tf.string` tensor of the same shape.

    Example:
    >>> standardize = TextStandardizer(stop_words=["the"])
    >>> [t.decode() for t in standardize(tf.constant(["The plot, I'd say: GREAT!", " ", b"ok\\xff"])).numpy()]
    ['plot id say great', '[UNK]', 'ok']
    >>> TextStandardizer(max_length=2, truncation="pre")(tf.constant("one two three")).numpy().decode()
    'two three'
    """

    def __init__(self, lowercase=True, strip_punctuation=True, stop_words=None, max_length=None, truncation="post"):
        if stop_words is not None and (isinstance(stop_words, str) or not all(isinstance(w, str) for w in stop_words)):
            raise ValueError(
                f"Invalid value for argument `stop_words` of TextStandardizer: expected None or a list "
                f"of strings. Received: stop_words={stop_words!r}"
            )
        check_truncation("TextStandardizer", max_length, truncation)
        self.lowercase = bool(lowercase)
        self.strip_punctuation = bool(strip_punctuation)
        self.stop_words = sorted(set(stop_words)) if stop_words else None
        self.max_length = max_length
        self.truncation = truncation

    def __call__(self, texts):
        texts = tf.convert_to_tensor(texts, dtype=tf.string)
        texts = tf.strings.unicode_transcode(
            texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD, replace_control_characters=False
        )
        if self.lowercase:
            texts = tf.strings.lower(texts, encoding="utf-8")
        if self.strip_punctuation:
            texts = tf.strings.regex_replace(texts, APOSTROPHES, "")
            texts = tf.strings.regex_replace(texts, PUNCTUATION, " ")
        if self.stop_words or self.max_length:
            texts = self._filter_tokens(texts)
        texts = tf.strings.strip(tf.strings.regex_replace(texts, r"\s+", " "))
        return tf.where(tf.equal(texts, ""), tf.constant(EMPTY_TEXT_TOKEN), texts)

    def _filter_tokens(self, texts):
        """Stop-word removal and truncation, on the whitespace-separated tokens of each text."""
        flat = tf.reshape(texts, [-1])  # (n,)
        kept = tf.strings.split(flat)  # (n, (tokens))
        if self.stop_words:
            stop_words = tf.constant(self.stop_words)  # (S,)
            is_stop = tf.reduce_any(tf.equal(tf.expand_dims(kept.flat_values, -1), stop_words), axis=-1)  # (all tokens,)
            kept = tf.ragged.boolean_mask(kept, kept.with_flat_values(tf.logical_not(is_stop)))  # (n, (kept tokens))
        kept = truncate_tokens(kept, self.max_length, self.truncation)  # (n, (<= max_length))
        joined = tf.strings.reduce_join(kept, axis=-1, separator=" ")  # (n,)
        return tf.reshape(joined, tf.shape(texts))  # same shape as `texts`

    def get_config(self):
        return {
            "lowercase": self.lowercase,
            "strip_punctuation": self.strip_punctuation,
            "stop_words": self.stop_words,
            "max_length": self.max_length,
            "truncation": self.truncation,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def check_truncation(owner, max_length, truncation):
    """Raises a ValueError naming `owner` unless `max_length` is None or a positive int and `truncation` is known."""
    if max_length is not None and (not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1):
        raise ValueError(
            f"Invalid value for argument `max_length` of {owner}: expected None or a positive int. "
            f"Received: max_length={max_length!r}"
        )
    if truncation not in TRUNCATIONS:
        raise ValueError(
            f"Invalid value for argument `truncation` of {owner}: expected one of {TRUNCATIONS}. "
            f"Received: truncation={truncation!r}"
        )


def truncate_tokens(tokens, max_length, truncation):
    """Each row's first (`truncation="post"`) or last (`"pre"`) `max_length` tokens (all if None).

    `tokens` is ragged, `(n, (tokens))`; shared by `TextStandardizer` and `UnicodeScriptSplitter`.
    """
    if not max_length:
        return tokens
    return tokens[:, :max_length] if truncation == "post" else tokens[:, -max_length:]  # (n, (<= max_length))
