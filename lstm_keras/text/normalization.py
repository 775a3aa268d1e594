"""Text normalisation for the tokenizers: pure TensorFlow graph ops on `tf.string` tensors.

Every step is a TensorFlow op (no Python per string), so `normalize` runs eagerly, inside
`tf.data.Dataset.map` and inside a SavedModel signature that is served without `lstm_keras`.
"""

import tensorflow as tf
import tensorflow_text as tf_text

NORMALIZATION_FORMS = ("NFKD", "NFKC")

# Characters that become tokens of their own: Unicode punctuation (P*) and symbols (S*), and
# the ideographic scripts that are written without spaces (as BERT's basic tokenizer does).
SPLIT_CHARACTERS = r"[\p{P}\p{S}\p{Han}\p{Hiragana}\p{Katakana}]"

# Two sets of `normalize` options: text as written (case and accents kept, Unicode compatibility
# characters composed), the default of translation, whose output must read like the references;
# and folded text (lowercase, accents stripped), the tokenizers' default, for classification,
# language models and teaching material that wants small vocabularies.
CASED_TEXT = {"form": "NFKC", "lowercase": False, "strip_accents": False}
FOLDED_TEXT = {"form": "NFKD", "lowercase": True, "strip_accents": True}


def validate_form(form):
    """Returns `form` if it is a supported Unicode normalisation form, else raises ValueError."""
    if form not in NORMALIZATION_FORMS:
        raise ValueError(
            f"`form` must be one of {NORMALIZATION_FORMS}; received: form={form!r}"
        )
    return form


def normalize(texts, form="NFKD", lowercase=True, strip_accents=True, split_punctuation=True):
    """Normalises UTF-8 text with TensorFlow ops, ready to be split on whitespace.

    The steps, in order:

    1. Lowercasing (`tf.strings.lower` with UTF-8 semantics, so "É" becomes "é"), if `lowercase`.
    2. Unicode normalisation with `tensorflow_text.normalize_utf8` to `form`: "NFKD" decomposes
       accented letters into a base letter plus combining marks, "NFKC" composes them; both
       fold compatibility characters ("ﬁ" becomes "fi", full-width digits become ASCII).
    3. Accent stripping, if `strip_accents`: the text is decomposed (NFKD) and every combining
       mark (Unicode category Mn) is removed, so "Crème brûlée" becomes "Creme brulee"; with
       `form="NFKC"` the result is then recomposed to NFKC.
    4. Punctuation splitting, if `split_punctuation`: a space on each side of every punctuation
       mark or symbol and of every Han, Hiragana or Katakana character, so "Hi, you!" becomes
       "Hi , you !" and "2026年11月26日" becomes "2026 年 11 月 26 日".
    5. Whitespace collapsing (any run of Unicode whitespace becomes one space) and stripping.

    Args:
        texts: a `tf.string` tensor of any shape (or anything `tf.convert_to_tensor` accepts).
        form: the Unicode normalisation form, "NFKD" or "NFKC".
        lowercase: whether to lowercase.
        strip_accents: whether to remove combining marks (accents).
        split_punctuation: whether to put spaces around punctuation, symbols and ideographs.

    Returns:
        A `tf.string` tensor of the same shape.

    Raises:
        ValueError: `form` is not "NFKD" or "NFKC".

    Example:
    >>> normalize(["  Crème BRÛLÉE, s'il vous plaît!  "]).numpy()[0].decode()
    "creme brulee , s ' il vous plait !"
    >>> normalize("26/11/2026", split_punctuation=False).numpy().decode()
    '26/11/2026'
    """
    validate_form(form)
    texts = tf.convert_to_tensor(texts, dtype=tf.string)
    if lowercase:
        texts = tf.strings.lower(texts, encoding="utf-8")
    if strip_accents:
        texts = tf_text.normalize_utf8(texts, "NFKD")
        texts = tf.strings.regex_replace(texts, r"\p{Mn}", "")
        if form == "NFKC":
            texts = tf_text.normalize_utf8(texts, "NFKC")
    else:
        texts = tf_text.normalize_utf8(texts, form)
    if split_punctuation:
        texts = tf.strings.regex_replace(texts, f"({SPLIT_CHARACTERS})", r" \1 ")
    texts = tf.strings.regex_replace(texts, r"[\s\p{Z}]+", " ")
    return tf.strings.strip(texts)
