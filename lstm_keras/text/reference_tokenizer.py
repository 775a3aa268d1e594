"""Text to token ids in plain Python: the reference tokenizer that ships beside LiteRT and ONNX exports.

LiteRT and ONNX files take token ids: the string ops that turn text into ids in the
SavedModels (`TextStandardizer`, `Tokenizer`, TensorFlow Text) do not run there. `lstm-keras
<task> export --format tflite|onnx` therefore writes beside the model its vocabulary
(`<name>_vocabulary.txt`, one token a line, the id is the line number minus one), its settings
(`<name>_export.json`) and a copy of this file (`<name>_tokenizer.py`), which reproduces the ids
with the Python standard library alone, so that a mobile or server developer can port or run it:

    python model_tokenizer.py model_export.json "A great film!"     # prints the ids of each text, one text a line
    >>> tokenizer = ReferenceTokenizer.from_file("model_export.json")  # doctest: +SKIP
    >>> tokenizer.token_ids("A great film!")                          # doctest: +SKIP

Two kinds of settings (the `tokenizer` entry of the export file):

- `"kind": "classifier"` (`TextClassifier`'s `TextStandardizer` and `TextVectorization`):
  invalid UTF-8 becomes U+FFFD; lowercasing; apostrophes removed and other punctuation and
  symbols (Unicode P*, S*) turned into spaces; stop words removed; the first (`"post"`) or last
  (`"pre"`) `max_length` words kept; an empty text becomes `[UNK]`; id 0 is padding, id 1
  `[UNK]`.
- `"kind": "word"` or `"wordpiece"` (`lstm_keras.text.Tokenizer`, `WordPieceTokenizer`):
  lowercasing; Unicode normalisation (`form`), accents (Mn) stripped if asked; spaces around
  punctuation, symbols and Han, Hiragana and Katakana characters; whole words, or WordPiece
  pieces (longest first, `##` inside a word; a word that cannot be spelled, or of more than 100
  bytes, is `[UNK]`); the first `max_tokens` ids; `[PAD]`, `[START]`, `[END]`, `[UNK]` are ids 0
  to 3.

Whitespace is split the way TensorFlow splits it (ASCII whitespace; a no-break space is part of
a word for the classifier). Differences to TensorFlow remain possible for characters whose Unicode
properties changed between Python's and TensorFlow's Unicode versions, and for letters whose
lowercase has several characters ("İ"): the tests compare both on accented, punctuated, Japanese
and invalid input.
"""

import json
import os
import re
import sys
import unicodedata

CLASSIFIER_UNKNOWN_ID = 1
END_ID, TOKENIZER_UNKNOWN_ID = 2, 3  # `[PAD]`, `[START]`, `[END]`, `[UNK]`
EMPTY_TEXT_TOKEN = "[UNK]"
SUFFIX_INDICATOR = "##"
MAX_BYTES_PER_WORD = 100
_ASCII_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")
_RE2_WHITESPACE = re.compile(r"[ \t\n\f\r]+")  # RE2's `\s`: no vertical tab
_IDEOGRAPHIC_NAMES = ("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH", "HIRAGANA", "KATAKANA",
                      "HALFWIDTH KATAKANA", "IDEOGRAPHIC ITERATION MARK", "KANGXI RADICAL", "CJK RADICAL")


class ReferenceTokenizer:
    """The token ids of a text, as the exported model's training saw them.

    Args:
        settings: the `tokenizer` entry of an export file (`kind` and its options).
        vocabulary: the tokens, in id order.

    Example:
    >>> settings = {"kind": "classifier", "lowercase": True, "strip_punctuation": True,
    ...             "stop_words": None, "max_length": 3, "truncation": "post"}
    >>> ReferenceTokenizer(settings, ["", "[UNK]", "great", "film"]).token_ids("A GREAT film, I'd say!")
    [1, 2, 3]
    """

    def __init__(self, settings, vocabulary):
        self.settings = dict(settings)
        self.tokens = list(vocabulary)
        self.ids = {token: index for index, token in enumerate(self.tokens)}
        if self.settings["kind"] not in ("classifier", "word", "wordpiece"):
            raise ValueError(f"unknown tokenizer kind {self.settings['kind']!r}")

    @classmethod
    def from_file(cls, path, entry="tokenizer"):
        """The tokenizer of an export file (`<name>_export.json`), with the vocabulary file it names.

        `entry`: `"tokenizer"`, or a translator's `"source_tokenizer"` / `"target_tokenizer"`.
        """
        with open(path, encoding="utf-8") as f:
            settings = json.load(f)[entry]
        vocabulary_path = os.path.join(os.path.dirname(os.path.abspath(path)), settings["vocabulary"])
        with open(vocabulary_path, encoding="utf-8") as f:
            vocabulary = f.read().split("\n")
        if vocabulary and vocabulary[-1] == "":
            vocabulary.pop()
        return cls(settings, vocabulary)

    def token_ids(self, text):
        """The ids of one text (str, or bytes decoded as UTF-8 with U+FFFD for invalid bytes): a list of ints."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        if self.settings["kind"] == "classifier":
            words = _ASCII_WHITESPACE.split(self.standardize(text))
            return [self.ids.get(word, CLASSIFIER_UNKNOWN_ID) for word in words if word]
        ids = []
        for word in _ASCII_WHITESPACE.split(self.normalize(text)):
            if word:
                ids += self._word_ids(word)
        max_tokens = self.settings.get("max_tokens")
        return ids[:max_tokens] if max_tokens else ids

    def detokenize(self, ids):
        """Text from a `Tokenizer`'s ids: the tokens before the first `[END]`, reserved ones left out, `##` glued.

        Words are joined with single spaces ("hello , world !"): the SavedModel's detokenizer also
        reattaches punctuation, which this reference does not do.
        """
        words = []
        for token_id in ids:
            if token_id == END_ID:
                break
            if token_id > TOKENIZER_UNKNOWN_ID:
                words.append(self.tokens[token_id])
        text = " ".join(words)
        return text.replace(" " + SUFFIX_INDICATOR, "").removeprefix(SUFFIX_INDICATOR)

    def standardize(self, text):
        """A classifier's text as its vectoriser splits it (words separated by one space)."""
        settings = self.settings
        if settings["lowercase"]:
            text = text.lower()
        if settings["strip_punctuation"]:
            text = "".join("" if c in "'\u2019" else " " if unicodedata.category(c)[0] in "PS" else c for c in text)
        if settings.get("stop_words") or settings.get("max_length"):
            words = [word for word in _ASCII_WHITESPACE.split(text) if word]
            stop_words = set(settings.get("stop_words") or ())
            words = [word for word in words if word not in stop_words]
            length = settings.get("max_length")
            if length:
                words = words[:length] if settings["truncation"] == "post" else words[-length:]
            text = " ".join(words)
        text = _RE2_WHITESPACE.sub(" ", text).strip(" \t\n\v\f\r")
        return text or EMPTY_TEXT_TOKEN

    def normalize(self, text):
        """A `Tokenizer`'s normalised text (`lstm_keras.text.normalization.normalize`)."""
        settings = self.settings
        if settings["lowercase"]:
            text = text.lower()
        if settings["strip_accents"]:
            text = "".join(c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c) != "Mn")
            if settings["form"] == "NFKC":
                text = unicodedata.normalize("NFKC", text)
        else:
            text = unicodedata.normalize(settings["form"], text)
        if settings["split_punctuation"]:
            text = "".join(f" {c} " if _splits(c) else c for c in text)
        text = "".join(" " if c in " \t\n\f\r" or unicodedata.category(c).startswith("Z") else c for c in text)
        return re.sub(" +", " ", text).strip(" \t\n\v\f\r")

    def _word_ids(self, word):
        """The ids of one normalised word: itself, or its WordPiece pieces."""
        if self.settings["kind"] == "word":
            return [self.ids.get(word, TOKENIZER_UNKNOWN_ID)]
        if len(word.encode("utf-8")) > MAX_BYTES_PER_WORD:
            return [TOKENIZER_UNKNOWN_ID]
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):  # the longest piece in the vocabulary first
                piece = (SUFFIX_INDICATOR if start else "") + word[start:end]
                if piece in self.ids:
                    pieces.append(self.ids[piece])
                    start = end
                    break
            else:
                return [TOKENIZER_UNKNOWN_ID]
        return pieces


def _splits(character):
    """Whether `normalize` puts spaces around `character`: punctuation, symbols, Han, Hiragana, Katakana."""
    if unicodedata.category(character)[0] in "PS":
        return True
    name = unicodedata.name(character, "")
    return name.startswith(_IDEOGRAPHIC_NAMES) and not name.startswith("KATAKANA-HIRAGANA")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python tokenizer.py EXPORT_JSON TEXT...")
    reference = ReferenceTokenizer.from_file(sys.argv[1])
    for argument in sys.argv[2:]:
        print(" ".join(str(i) for i in reference.token_ids(argument)))
