"""Subword tokenizer: WordPiece over the words of the word-level `Tokenizer`."""

import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib

from lstm_keras.text import registry
from lstm_keras.text.tokenizer import RESERVED_TOKENS, Tokenizer, count_words

SUFFIX_INDICATOR = "##"
MAX_BYTES_PER_WORD = 100


@registry.register("wordpiece")
class WordPieceTokenizer(Tokenizer):
    """WordPiece subword tokenizer (Wu et al. 2016, "Google's Neural Machine Translation System").

    Text is normalised and split into words exactly as in `Tokenizer`; each word is then split
    greedily into the longest vocabulary pieces (`tensorflow_text.FastWordpieceTokenizer`),
    pieces inside a word carrying the `##` prefix ("unaffable" -> "un", "##aff", "##able").
    A word that cannot be covered by pieces (or is longer than 100 bytes) becomes `[UNK]`.
    `detokenize` glues the `##` pieces back to their word. Everything else (reserved ids,
    `max_tokens`, the traced signatures that survive `tf.saved_model`) is as in `Tokenizer`.

    The vocabulary is learned by TensorFlow Text's WordPiece learner (`wordpiece_tokenizer_learner_lib`,
    the learner of BERT's vocabulary) from the words of the normalised texts: the `vocab_size` most
    frequent of them (a vocabulary cannot hold more whole words; rarer words are spelled with the
    pieces the frequent ones teach, and the learner's time grows with the words it reads: on the
    18,484 distinct German words of Multi30k's training side, for 8,000 tokens, it learned 3,244 in
    42 s from the 8,000 most frequent words, and 3,633 in 145 s from all of them, both measured
    one after the other on a busy 2-core machine).

    Args:
        vocabulary: a list of tokens or the path of a vocabulary file (one token per line),
            starting with `RESERVED_TOKENS`; subword continuations start with "##".
        form, lowercase, strip_accents, split_punctuation, max_tokens, name: as in `Tokenizer`.

    Example:
    >>> vocabulary = list(RESERVED_TOKENS) + ["un", "##aff", "##able", "!", "a"]
    >>> tokenizer = WordPieceTokenizer(vocabulary)
    >>> tokenizer.tokenize(["Unaffable!", "xyz"]).to_list()
    [[4, 5, 6, 7], [3]]
    >>> tokenizer.detokenize([[4, 5, 6, 7]]).numpy()[0].decode()
    'unaffable!'
    """

    @classmethod
    def learn_vocabulary(cls, normalized_texts, vocab_size):
        """Returns a WordPiece vocabulary learned from normalised texts.

        Args:
            normalized_texts: a `tf.data.Dataset` of batches of normalised strings.
            vocab_size: the target vocabulary size (reserved tokens included); None means 8000.

        Returns:
            A list of tokens starting with `RESERVED_TOKENS`.
        """
        vocab_size = 8000 if vocab_size is None else vocab_size
        # The texts are already normalised and split: the learner reads their words as they are.
        return wordpiece_tokenizer_learner_lib.learn(
            dict(count_words(normalized_texts)), vocab_size, list(RESERVED_TOKENS), max_input_tokens=vocab_size,
        )

    def _build_lookup(self, vocabulary):
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=vocabulary,
            suffix_indicator=SUFFIX_INDICATOR,
            max_bytes_per_word=MAX_BYTES_PER_WORD,
            token_out_type=tf.int64,
            unknown_token="[UNK]",
            no_pretokenization=True,
        )

    def word_ids(self, words):
        pieces = self._wordpiece.tokenize(words)  # (words, (pieces)) or (batch, (words), (pieces))
        return pieces.merge_dims(-2, -1)  # (tokens,) or (batch, (tokens))

    def join(self, tokens):
        texts = super().join(tokens)  # (batch,)
        texts = tf.strings.regex_replace(texts, f" {SUFFIX_INDICATOR}", "")
        return tf.strings.regex_replace(texts, f"^{SUFFIX_INDICATOR}", "")
