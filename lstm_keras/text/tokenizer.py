"""Word-level tokenizer: a `tf.Module` that normalises, splits and maps text to integer ids.

It is the base of the subword `WordPieceTokenizer` (`word_piece_tokenizer.py`), which overrides
only how words become ids, how tokens are joined back and how the vocabulary is learned. Each
class registers its `kind` in `lstm_keras.text.registry`, where `from_texts(kind=...)` and
`from_config` find it.
"""

import collections
import os

import numpy as np
import tensorflow as tf

from lstm_keras import io
from lstm_keras.text import registry
from lstm_keras.text.normalization import normalize, validate_form

RESERVED_TOKENS = ("[PAD]", "[START]", "[END]", "[UNK]")
PAD_ID, START_ID, END_ID, UNK_ID = range(len(RESERVED_TOKENS))

# Undoing the punctuation split in `detokenize`: (pattern, rewrite, times applied), in order.
_LETTER_OR_DIGIT = r"[\p{L}\p{N}]"
_IDEOGRAPH = r"[\p{Han}\p{Hiragana}\p{Katakana}]"
_RESPACING_RULES = (
    (r"(\p{N}) ([.,:]) (\p{N})", r"\1\2\3", 2),  # "26 . 11 . 2026" -> "26.11.2026"
    (rf"({_LETTER_OR_DIGIT}) ([-/]) ({_LETTER_OR_DIGIT})", r"\1\2\3", 2),  # "2026 - 11" -> "2026-11"
    (r"(\p{L}) (['’]) (\p{L})", r"\1\2\3", 1),  # "don ' t" -> "don't"
    (r" ([.,!?;:%)\]}»”’…])", r"\1", 1),  # "hi , you !" -> "hi, you!"
    (r"([(\[{¿¡«“‘]) ", r"\1", 1),  # "¿ que ?" -> "¿que?"
    (rf" ({_IDEOGRAPH})", r"\1", 1),  # "2026 年 11 月" -> "2026年11月"
    (rf"({_IDEOGRAPH}) ", r"\1", 1),
)


def read_vocabulary(path):
    """Reads a vocabulary file (one token per line, the id is the line number minus one)."""
    with open(path, encoding="utf-8") as f:
        tokens = f.read().split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    return tokens


def count_words(normalized_texts):
    """A `collections.Counter` of the whitespace-separated words of batches of normalised strings.

    The reserved tokens are left out: they are never learned as words.
    """
    counts = collections.Counter()
    for words in normalized_texts.map(tf.strings.split):
        counts.update(word.decode("utf-8") for word in words.flat_values.numpy())
    for token in RESERVED_TOKENS:
        counts.pop(token, None)
    return counts


def as_text_batches(texts, batch_size=1024):
    """Returns `texts` (strings, a string tensor or a `tf.data.Dataset`) as batches of strings."""
    if isinstance(texts, tf.data.Dataset):
        spec = texts.element_spec
        if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.string:
            raise TypeError(
                f"the dataset must yield tf.string tensors (texts only); element_spec: {spec}"
            )
        return texts.batch(batch_size) if spec.shape.rank == 0 else texts
    if isinstance(texts, str):
        raise TypeError("`texts` must be a collection of strings, not a single string")
    texts = tf.constant(texts if isinstance(texts, tf.Tensor) else list(texts), dtype=tf.string)
    return tf.data.Dataset.from_tensor_slices(texts).batch(batch_size)


def _as_strings(strings):
    """Returns `strings` (a string, list, array or tensor) as a `tf.string` tensor."""
    return tf.convert_to_tensor(strings, dtype=tf.string)


def _as_ids(ids):
    """Returns `ids` as a tensor or `tf.RaggedTensor`; nested lists may be ragged."""
    if isinstance(ids, (tf.Tensor, tf.RaggedTensor, np.ndarray)):
        return tf.convert_to_tensor(ids) if isinstance(ids, np.ndarray) else ids
    return tf.ragged.constant(ids, dtype=tf.int64)


def _relaxed_spec(value):
    """The type spec of `value` with every dimension unknown (rank, dtype and raggedness kept)."""
    if isinstance(value, tf.RaggedTensor):
        return tf.RaggedTensorSpec(
            [None] * value.shape.rank, value.dtype, value.ragged_rank, value.row_splits.dtype
        )
    rank = value.shape.rank
    return tf.TensorSpec(None if rank is None else [None] * rank, value.dtype)


@registry.register("word")
class Tokenizer(tf.Module):
    """Word-level tokenizer with reserved tokens, savable inside a SavedModel.

    Text is normalised with `lstm_keras.text.normalize` (lowercasing, Unicode normalisation,
    accent stripping and spaces around punctuation, as configured), split on whitespace, and
    each word is looked up in the vocabulary; words that are not in it become `[UNK]`. The
    first four ids are reserved: `[PAD]`=0, `[START]`=1, `[END]`=2, `[UNK]`=3.

    `tokenize`, `detokenize` and `lookup` convert their inputs to tensors (so Python lists do
    not cause retracing) and run `tf.function` graphs, in eager code, in `tf.data.Dataset.map`
    or inside other `tf.function`s. `tf.saved_model.save` (of the tokenizer, or of a module
    that holds it as an attribute) traces the graphs for every input signature below and saves
    them under the same names, so after `import tensorflow_text` (which registers its ops) and
    `tf.saved_model.load`, a process without `lstm_keras` can call:

    - `tokenize(strings, add_start_end=False)`: `strings` a `tf.string` scalar or 1-D batch,
      `add_start_end` a Python bool.
    - `detokenize(ids)` and `lookup(ids)`: `ids` int32 or int64, a 1-D sequence, a dense 2-D
      batch (padding `0` is dropped) or a 2-D `tf.RaggedTensor`.
    - `get_vocab_size()` and `get_vocabulary()`: no arguments.

    Args:
        vocabulary: a list of tokens (the id of a token is its index) or the path of a
            vocabulary file with one token per line; it must start with `RESERVED_TOKENS`.
        form: the Unicode normalisation form, "NFKD" or "NFKC".
        lowercase: whether to lowercase the text.
        strip_accents: whether to remove accents (combining marks).
        split_punctuation: whether punctuation marks, symbols and ideographs are separate tokens.
        max_tokens: if set, `tokenize` keeps only the first `max_tokens` tokens of each text
            (before `[START]`/`[END]` are added, so a sequence has at most `max_tokens + 2` ids).
        name: the module name.

    Example:
    >>> tokenizer = Tokenizer.from_texts(["The cat sat.", "The dog ran!"])
    >>> tokenizer.vocab_size
    11
    >>> tokenizer.tokenize(["the cat ran", "a dog"], add_start_end=True).to_list()
    [[1, 4, 7, 9, 2], [1, 3, 8, 2]]
    >>> tokenizer.detokenize([[4, 7, 6, 0, 0]]).numpy()[0].decode()
    'the cat.'
    >>> tokenizer.lookup([4, 7, 3]).numpy().tolist()
    [b'the', b'cat', b'[UNK]']
    """

    def __init__(
        self,
        vocabulary,
        form="NFKD",
        lowercase=True,
        strip_accents=True,
        split_punctuation=True,
        max_tokens=None,
        name=None,
    ):
        super().__init__(name=name)
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = read_vocabulary(vocabulary)
        vocabulary = [token.decode() if isinstance(token, bytes) else token for token in vocabulary]
        self._check_vocabulary(vocabulary)
        if max_tokens is not None and max_tokens < 0:
            raise ValueError(f"`max_tokens` must be None or >= 0; received: max_tokens={max_tokens}")
        self.form = validate_form(form)
        self.lowercase = bool(lowercase)
        self.strip_accents = bool(strip_accents)
        self.split_punctuation = bool(split_punctuation)
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self._vocabulary = tuple(vocabulary)
        self._vocabulary_tensor = tf.constant(vocabulary, dtype=tf.string)
        self._build_lookup(vocabulary)

    # ----------------------------------------------------------------- building
    @classmethod
    def from_texts(
        cls,
        texts,
        kind=None,
        vocab_size=8000,
        form="NFKD",
        lowercase=True,
        strip_accents=True,
        split_punctuation=True,
        max_tokens=None,
        name=None,
    ):
        """Learns a vocabulary from training texts and returns a tokenizer of that `kind`.

        Args:
            texts: a list (or array, or `tf.string` tensor) of strings, or a `tf.data.Dataset`
                of strings (scalars or batches).
            kind: "word" (whole words) or "wordpiece" (subwords, `WordPieceTokenizer`); None
                means the class it is called on.
            vocab_size: the largest vocabulary size, reserved tokens included; for "word" the
                most frequent words are kept (ties broken alphabetically), None keeps all; for
                "wordpiece" it is the target size of the WordPiece learner.
            form, lowercase, strip_accents, split_punctuation, max_tokens, name: as in the
                constructor; the texts are normalised the same way before learning.

        Returns:
            A `Tokenizer` (or `WordPieceTokenizer`).

        Raises:
            ValueError: `kind` is unknown or `vocab_size` leaves no room beside the reserved tokens.
        """
        tokenizer_class = cls if kind is None else registry.get(kind)
        if vocab_size is not None and vocab_size <= len(RESERVED_TOKENS):
            raise ValueError(
                f"`vocab_size` must be None or > {len(RESERVED_TOKENS)} (the reserved tokens); "
                f"received: vocab_size={vocab_size}"
            )
        options = dict(
            form=form, lowercase=lowercase, strip_accents=strip_accents,
            split_punctuation=split_punctuation,
        )
        normalized = as_text_batches(texts).map(lambda batch: normalize(batch, **options))
        vocabulary = tokenizer_class.learn_vocabulary(normalized, vocab_size)
        return tokenizer_class(vocabulary, max_tokens=max_tokens, name=name, **options)

    @classmethod
    def learn_vocabulary(cls, normalized_texts, vocab_size):
        """Returns the reserved tokens followed by the most frequent words.

        Args:
            normalized_texts: a `tf.data.Dataset` of batches of normalised strings.
            vocab_size: the largest vocabulary size (reserved tokens included), None for all.

        Returns:
            A list of tokens.
        """
        counts = count_words(normalized_texts)
        words = sorted(counts, key=lambda word: (-counts[word], word))
        if vocab_size is not None:
            words = words[: vocab_size - len(RESERVED_TOKENS)]
        return list(RESERVED_TOKENS) + words

    def _check_vocabulary(self, vocabulary):
        if tuple(vocabulary[: len(RESERVED_TOKENS)]) != RESERVED_TOKENS:
            raise ValueError(
                f"the vocabulary must start with the reserved tokens {RESERVED_TOKENS}; "
                f"it starts with {tuple(vocabulary[: len(RESERVED_TOKENS)])}"
            )
        duplicates = [t for t, n in collections.Counter(vocabulary).items() if n > 1]
        if duplicates:
            raise ValueError(f"the vocabulary has duplicate tokens: {duplicates[:10]}")
        bad = [t for t in vocabulary if not t or t != t.strip() or len(t.split()) != 1]
        if bad:
            raise ValueError(f"vocabulary tokens must be non-empty and without spaces: {bad[:10]}")

    def _build_lookup(self, vocabulary):
        """Creates what `word_ids` needs; subclasses override both."""
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(vocabulary, dtype=tf.string),
                tf.range(len(vocabulary), dtype=tf.int64),
            ),
            default_value=UNK_ID,
        )

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        # `tf.saved_model.save` keeps the concrete functions traced so far: trace every signature
        # first (as Keras layers prepare themselves for saving), then save the graphs under the
        # public names, so the loaded object is called like this one.
        if save_type == "savedmodel":
            self._trace_signatures()
        children = super()._trackable_children(save_type, **kwargs)
        if save_type == "savedmodel":
            children.update(tokenize=self._tokenize, detokenize=self._detokenize, lookup=self._lookup)
        return children

    def _trace_signatures(self):
        for strings in (tf.TensorSpec([], tf.string), tf.TensorSpec([None], tf.string)):
            for add_start_end in (False, True):
                self._tokenize.get_concrete_function(strings, add_start_end)
        for dtype in (tf.int32, tf.int64):
            for ids in (
                tf.TensorSpec([None], dtype),
                tf.TensorSpec([None, None], dtype),
                tf.RaggedTensorSpec([None, None], dtype, ragged_rank=1),
            ):
                self._detokenize.get_concrete_function(ids)
                self._lookup.get_concrete_function(ids)

    # ------------------------------------------------------------ the variants
    def word_ids(self, words):
        """Maps words (a 1-D tensor, or a 2-D ragged batch) to ids of the same shape."""
        return self._table.lookup(words)

    def join(self, tokens):
        """Joins tokens (ragged `(batch, (tokens))`) into strings: `(batch,)`."""
        return tf.strings.reduce_join(tokens, axis=-1, separator=" ")

    # -------------------------------------------------------------- public API
    @property
    def vocab_size(self):
        """The number of tokens, reserved tokens included."""
        return len(self._vocabulary)

    @property
    def vocabulary(self):
        """The tokens, as a list (the id of a token is its index)."""
        return list(self._vocabulary)

    def normalize(self, strings):
        """Normalises `strings` the way `tokenize` does (returns a `tf.string` tensor)."""
        return normalize(
            strings, form=self.form, lowercase=self.lowercase,
            strip_accents=self.strip_accents, split_punctuation=self.split_punctuation,
        )

    def tokenize(self, strings, add_start_end=False):
        """Converts text to token ids.

        Empty and whitespace-only strings give no tokens (only `[START]`, `[END]` if asked);
        text beyond `max_tokens` tokens is dropped.

        Args:
            strings: a string or a 1-D batch of strings (a `tf.string` tensor or a list).
            add_start_end: whether to put `[START]` before and `[END]` after each sequence.

        Returns:
            int64 ids: 1-D for a scalar, a `tf.RaggedTensor` `(batch, (tokens))` for a batch.
        """
        strings = _as_strings(strings)
        # Trace for any length first, so batches of other sizes reuse that graph.
        self._tokenize.get_concrete_function(_relaxed_spec(strings), bool(add_start_end))
        return self._tokenize(strings, bool(add_start_end))

    def detokenize(self, ids):
        """Converts token ids back to readable text.

        Each sequence is cut at its first `[END]`; every reserved token (`[PAD]`, `[START]`,
        `[END]`, `[UNK]`) is dropped; subwords are rejoined; spaces the punctuation split added
        are removed where the punctuation clearly attaches ("hi , you !" -> "hi, you!",
        "2026 - 11 - 26" -> "2026-11-26"). Case and accents removed by normalisation stay removed.

        Args:
            ids: int32 or int64 ids: a 1-D sequence, a dense 2-D batch (padding `0` is
                dropped) or a 2-D ragged batch (a tensor or nested lists).

        Returns:
            A `tf.string` scalar for a 1-D sequence, else a `(batch,)` tensor.
        """
        ids = _as_ids(ids)
        self._detokenize.get_concrete_function(_relaxed_spec(ids))
        return self._detokenize(ids)

    def lookup(self, ids):
        """Returns the token strings of `ids` (any input `detokenize` takes), e.g. for plot axes."""
        ids = _as_ids(ids)
        self._lookup.get_concrete_function(_relaxed_spec(ids))
        return self._lookup(ids)

    # The graphs behind the public methods (saved as `tokenize`, `detokenize`, `lookup`).
    @tf.function(autograph=False)
    def _tokenize(self, strings, add_start_end=False):
        rank = strings.shape.rank
        if rank not in (0, 1):
            raise ValueError(
                f"`strings` must be a scalar or a 1-D batch; received shape {strings.shape}"
            )
        words = tf.strings.split(self.normalize(strings))  # (words,) or (batch, (words))
        ids = self.word_ids(words)  # (tokens,) or (batch, (tokens))
        if self.max_tokens is not None:
            ids = ids[: self.max_tokens] if rank == 0 else ids[:, : self.max_tokens]
        if add_start_end:
            if rank == 0:
                ids = tf.concat([[START_ID], ids, [END_ID]], axis=0)  # (tokens + 2,)
            else:
                column = tf.ones([ids.nrows(), 1], dtype=tf.int64)  # (batch, 1)
                ids = tf.concat([column * START_ID, ids, column * END_ID], axis=1)
                # (batch, (tokens + 2))
        return ids

    @tf.function(autograph=False)
    def _detokenize(self, ids):
        single = ids.shape.rank == 1
        if single:
            ids = ids[tf.newaxis]  # (1, tokens)
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(ids)  # (batch, (tokens))
        texts = self._detokenize_batch(tf.cast(ids, tf.int64))  # (batch,)
        return texts[0] if single else texts

    @tf.function(
        input_signature=[tf.RaggedTensorSpec([None, None], tf.int64, ragged_rank=1)],
        autograph=False,
    )
    def _detokenize_batch(self, ids):
        # Traced once; every signature of `detokenize` calls this graph.
        dense = ids.to_tensor(default_value=PAD_ID)  # (batch, max_tokens)
        ends_seen = tf.cumsum(tf.cast(tf.equal(dense, END_ID), tf.int32), axis=1)  # (batch, max_tokens)
        before_end = tf.RaggedTensor.from_tensor(tf.equal(ends_seen, 0), lengths=ids.row_lengths())
        keep = tf.logical_and(before_end, ids >= len(RESERVED_TOKENS))  # (batch, (tokens))
        tokens = tf.gather(self._vocabulary_tensor, tf.ragged.boolean_mask(ids, keep))
        texts = self.join(tokens)  # (batch,)
        if self.split_punctuation:
            for pattern, rewrite, times in _RESPACING_RULES:
                for _ in range(times):
                    texts = tf.strings.regex_replace(texts, pattern, rewrite)
        return texts

    @tf.function(autograph=False)
    def _lookup(self, ids):
        return tf.gather(self._vocabulary_tensor, tf.cast(ids, tf.int64))

    @tf.function(input_signature=[], autograph=False)
    def get_vocab_size(self):
        """Returns the vocabulary size as an int32 scalar tensor (callable after loading)."""
        return tf.size(self._vocabulary_tensor)

    @tf.function(input_signature=[], autograph=False)
    def get_vocabulary(self):
        """Returns the vocabulary as a 1-D `tf.string` tensor (callable after loading)."""
        return tf.identity(self._vocabulary_tensor)

    # ------------------------------------------------------------ persistence
    def save_vocabulary(self, path):
        """Writes the vocabulary to `path` (one token per line, UTF-8), atomically."""
        io.write_text(path, "".join(f"{token}\n" for token in self._vocabulary))

    def get_config(self):
        """Returns the JSON-serialisable settings (the vocabulary is saved separately)."""
        return {
            "kind": self.kind,
            "form": self.form,
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "split_punctuation": self.split_punctuation,
            "max_tokens": self.max_tokens,
        }

    @classmethod
    def from_config(cls, config, vocabulary):
        """Rebuilds a tokenizer from `get_config()` and a vocabulary (list or file path).

        Example:
        >>> tokenizer = Tokenizer(list(RESERVED_TOKENS) + ["hello"], max_tokens=5)
        >>> Tokenizer.from_config(tokenizer.get_config(), tokenizer.vocabulary).max_tokens
        5
        """
        config = dict(config)
        tokenizer_class = registry.get(config.pop("kind", cls.kind))
        return tokenizer_class(vocabulary, **config)
