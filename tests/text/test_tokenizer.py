"""Tests of the word-level `Tokenizer` and the subword `WordPieceTokenizer`."""

import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

from lstm_keras.text import CASED_TEXT, FOLDED_TEXT
from lstm_keras.text import END_ID, PAD_ID, RESERVED_TOKENS, START_ID, UNK_ID, Tokenizer
from lstm_keras.text import WordPieceTokenizer

TEXTS = [
    "The cat sat on the mat.",
    "The dog sat on the log!",
    "A cat and a dog, together.",
    "Don't worry: it's 10:30.",
]


@pytest.fixture(scope="module")
def word():
    return Tokenizer.from_texts(TEXTS)


@pytest.fixture(scope="module")
def wordpiece():
    return Tokenizer.from_texts(TEXTS * 5, kind="wordpiece", vocab_size=200)


def ids_of(tokenizer, tokens):
    return [tokenizer.vocabulary.index(token) for token in tokens]


def test_reserved_ids():
    assert RESERVED_TOKENS == ("[PAD]", "[START]", "[END]", "[UNK]")
    assert (PAD_ID, START_ID, END_ID, UNK_ID) == (0, 1, 2, 3)


def test_word_vocabulary_is_by_frequency_then_alphabetical(word):
    vocabulary = word.vocabulary
    assert vocabulary[:4] == list(RESERVED_TOKENS)
    assert vocabulary[4:6] == ["the", "."]  # 4 and 3 times
    assert vocabulary[6:13] == ["'", ":", "a", "cat", "dog", "on", "sat"]  # twice each, alphabetical
    assert word.vocab_size == len(vocabulary) == int(word.get_vocab_size())
    assert [t.decode() for t in word.get_vocabulary().numpy()] == vocabulary


def test_vocab_size_limit():
    tokenizer = Tokenizer.from_texts(TEXTS, vocab_size=7)
    assert tokenizer.vocabulary == list(RESERVED_TOKENS) + ["the", ".", "'"]
    with pytest.raises(ValueError, match="vocab_size"):
        Tokenizer.from_texts(TEXTS, vocab_size=4)


def test_tokenize_batch_scalar_unknown_and_start_end(word):
    ids = word.tokenize(tf.constant(["The cat sat.", "the zebra"]))
    assert isinstance(ids, tf.RaggedTensor) and ids.dtype == tf.int64
    assert ids.to_list() == [ids_of(word, ["the", "cat", "sat", "."]), ids_of(word, ["the"]) + [UNK_ID]]
    with_markers = word.tokenize(tf.constant(["The cat sat."]), add_start_end=True)
    assert with_markers.to_list() == [[START_ID] + ids_of(word, ["the", "cat", "sat", "."]) + [END_ID]]
    scalar = word.tokenize(tf.constant("The cat"))
    assert isinstance(scalar, tf.Tensor) and scalar.numpy().tolist() == ids_of(word, ["the", "cat"])
    assert word.tokenize(tf.constant("dog"), add_start_end=True).numpy().tolist() == [
        START_ID, *ids_of(word, ["dog"]), END_ID
    ]


def test_empty_and_whitespace_strings(word, wordpiece):
    for tokenizer in (word, wordpiece):
        assert tokenizer.tokenize(tf.constant(["", "  \t\n", "\u3000"])).to_list() == [[], [], []]
        assert tokenizer.tokenize(tf.constant(["", " "]), add_start_end=True).to_list() == [
            [START_ID, END_ID], [START_ID, END_ID]
        ]
        assert tokenizer.tokenize(tf.constant("")).numpy().tolist() == []
        assert tokenizer.tokenize(tf.constant([], dtype=tf.string)).to_list() == []


def test_max_tokens_truncates_before_markers():
    tokenizer = Tokenizer.from_texts(TEXTS, max_tokens=3)
    ids = tokenizer.tokenize(tf.constant(["the cat sat on the mat", "a dog"]), add_start_end=True)
    assert ids.to_list() == [
        [START_ID] + ids_of(tokenizer, ["the", "cat", "sat"]) + [END_ID],
        [START_ID] + ids_of(tokenizer, ["a", "dog"]) + [END_ID],
    ]
    assert tokenizer.tokenize(tf.constant("the cat sat on")).shape == (3,)


def test_detokenize_readable_text(word):
    texts = tf.constant(["The cat sat on the mat.", "Don't worry: it's 10:30.", "a dog, together!"])
    ids = word.tokenize(texts, add_start_end=True)
    assert word.detokenize(ids).numpy().tolist() == [
        b"the cat sat on the mat.", b"don't worry: it's 10:30.", b"a dog, together!"
    ]


def test_detokenize_drops_reserved_stops_at_end_and_accepts_every_input_form(word):
    the, cat = ids_of(word, ["the", "cat"])
    dense = [
        [START_ID, the, UNK_ID, cat, END_ID, the, PAD_ID],
        [the, PAD_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID],
    ]
    expected = [b"the cat", b"the"]
    for dtype in (tf.int32, tf.int64):
        assert word.detokenize(tf.constant(dense, dtype)).numpy().tolist() == expected
        ragged = tf.ragged.constant([[START_ID, the, cat, END_ID], [the]], dtype=dtype)
        assert word.detokenize(ragged).numpy().tolist() == expected
        single = word.detokenize(tf.constant(dense[0], dtype))
        assert single.shape == () and single.numpy() == b"the cat"
    assert word.detokenize(tf.zeros([2, 0], tf.int64)).numpy().tolist() == [b"", b""]


def test_lookup(word):
    the = ids_of(word, ["the"])[0]
    assert word.lookup(tf.constant([START_ID, the, UNK_ID])).numpy().tolist() == [b"[START]", b"the", b"[UNK]"]
    ragged = word.lookup(tf.ragged.constant([[the], []], dtype=tf.int64))
    assert ragged.to_list() == [[b"the"], []]


def test_wordpiece_learns_subwords_and_round_trips(wordpiece):
    assert isinstance(wordpiece, WordPieceTokenizer) and wordpiece.kind == "wordpiece"
    vocabulary = wordpiece.vocabulary
    assert vocabulary[:4] == list(RESERVED_TOKENS)
    assert any(token.startswith("##") for token in vocabulary)
    assert wordpiece.vocab_size <= 200
    texts = tf.constant(["The cat sat on the mat.", "Don't worry: it's 10:30."])
    ids = wordpiece.tokenize(texts, add_start_end=True)
    assert wordpiece.detokenize(ids).numpy().tolist() == [b"the cat sat on the mat.", b"don't worry: it's 10:30."]


def test_wordpiece_splits_words_and_rejoins_pieces():
    vocabulary = list(RESERVED_TOKENS) + ["un", "##aff", "##able", "!", "a", "##b"]
    tokenizer = WordPieceTokenizer(vocabulary)
    ids = tokenizer.tokenize(tf.constant(["Unaffable!", "ab xyz unb unab"]))
    assert ids.to_list() == [[4, 5, 6, 7], [8, 9, UNK_ID, 4, 9, UNK_ID]]
    assert tokenizer.lookup(ids[0]).numpy().tolist() == [b"un", b"##aff", b"##able", b"!"]
    assert tokenizer.detokenize(ids).numpy().tolist() == [b"unaffable!", b"ab unb"]
    assert tokenizer.detokenize(tf.constant([9, 8], tf.int64)).numpy() == b"b a"  # a leading piece


CASED = [
    "¿Dónde está el niño?",
    "Él come piña, ¿verdad?",
    "ÉCOLE: «Señor Muñoz» llegó a las 10:30.",
    "Tom's año (2026) terminó.",
]


@pytest.mark.parametrize("kind", ["word", "wordpiece"])
def test_cased_text_round_trips_with_case_accents_and_spanish_punctuation(kind):
    # A small WordPiece vocabulary splits the rarer words into pieces; both give the text back as written.
    tokenizer = Tokenizer.from_texts(CASED * 3, kind=kind, vocab_size=60 if kind == "wordpiece" else None,
                                     **CASED_TEXT)
    ids = tokenizer.tokenize(CASED)
    assert UNK_ID not in ids.flat_values.numpy()
    if kind == "wordpiece":
        assert any(token.startswith(b"##") for token in tokenizer.lookup(ids).flat_values.numpy())
    assert [text.decode() for text in tokenizer.detokenize(ids).numpy()] == CASED
    # NFKC composes what NFKD would split: the decomposed "n" + combining tilde is the same token as "ñ".
    assert tokenizer.tokenize("nin\u0303o").numpy().tolist() == tokenizer.tokenize("niño").numpy().tolist()
    folded = Tokenizer.from_texts(CASED, kind=kind, **FOLDED_TEXT)
    assert folded.detokenize(folded.tokenize(CASED[:1])).numpy()[0].decode() == "¿donde esta el nino?"


def test_from_texts_accepts_datasets():
    expected = Tokenizer.from_texts(TEXTS).vocabulary
    scalars = tf.data.Dataset.from_tensor_slices(TEXTS)
    assert Tokenizer.from_texts(scalars).vocabulary == expected
    assert Tokenizer.from_texts(scalars.batch(3)).vocabulary == expected
    with pytest.raises(TypeError, match="tf.string"):
        Tokenizer.from_texts(tf.data.Dataset.from_tensor_slices((TEXTS, TEXTS)))


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"`kind` must be one of \('word', 'wordpiece'\); received: kind='bpe'"):
        Tokenizer.from_texts(TEXTS, kind="bpe")
    with pytest.raises(ValueError, match="must start with the reserved tokens"):
        Tokenizer(["a", "b"])
    with pytest.raises(ValueError, match="duplicate"):
        Tokenizer(list(RESERVED_TOKENS) + ["a", "a"])
    with pytest.raises(ValueError, match="form"):
        Tokenizer(list(RESERVED_TOKENS), form="NFC")


@pytest.mark.parametrize("kind", ["word", "wordpiece"])
def test_vocabulary_file_and_config_round_trip(tmp_path, kind, word, wordpiece):
    learned = word if kind == "word" else wordpiece
    tokenizer = type(learned)(learned.vocabulary, lowercase=False, max_tokens=6)
    path = tmp_path / "sub" / "vocab.txt"
    tokenizer.save_vocabulary(path)
    assert path.read_text(encoding="utf-8").split("\n")[:-1] == tokenizer.vocabulary
    assert [p.name for p in path.parent.iterdir()] == ["vocab.txt"]  # no temporary left behind
    config = tokenizer.get_config()
    assert config == {
        "kind": kind, "form": "NFKD", "lowercase": False, "strip_accents": True,
        "split_punctuation": True, "max_tokens": 6,
    }
    restored = Tokenizer.from_config(config, str(path))
    assert type(restored) is type(tokenizer)
    texts = tf.constant(TEXTS + ["The Zebra"])
    assert restored.tokenize(texts).to_list() == tokenizer.tokenize(texts).to_list()


LOAD_IN_FRESH_PROCESS = textwrap.dedent(
    """
    import sys
    import tensorflow as tf
    import tensorflow_text  # registers the TF Text ops used by the graphs

    for path in sys.argv[1:]:
        tokenizer = tf.saved_model.load(path)
        batch = tokenizer.tokenize(tf.constant(["The cat sat.", ""]), add_start_end=True)
        print(batch.to_list())
        print(tokenizer.tokenize(tf.constant("the dog")).numpy().tolist())
        print(tokenizer.detokenize(batch).numpy().tolist())
        print(tokenizer.detokenize(tf.cast(batch.to_tensor(), tf.int32)).numpy().tolist())
        print(tokenizer.lookup(batch[0]).numpy().tolist())
        print(int(tokenizer.get_vocab_size()))
    assert "lstm_keras" not in sys.modules
    """
)


def test_saved_model_round_trip_in_a_fresh_process(tmp_path, word, wordpiece):
    expected, paths = [], []
    for tokenizer in (word, wordpiece):
        path = str(tmp_path / tokenizer.kind)
        tf.saved_model.save(tokenizer, path)
        paths.append(path)
        batch = tokenizer.tokenize(tf.constant(["The cat sat.", ""]), add_start_end=True)
        expected += [
            str(batch.to_list()),
            str(tokenizer.tokenize(tf.constant("the dog")).numpy().tolist()),
            str(tokenizer.detokenize(batch).numpy().tolist()),
            str(tokenizer.detokenize(batch).numpy().tolist()),
            str(tokenizer.lookup(batch[0]).numpy().tolist()),
            str(tokenizer.vocab_size),
        ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH="")
    result = subprocess.run(
        [sys.executable, "-c", LOAD_IN_FRESH_PROCESS, *paths],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == expected


def test_each_tokenizer_registers_its_kind():
    from lstm_keras.text import registry

    assert registry.get("word") is Tokenizer and registry.get("wordpiece") is WordPieceTokenizer
    assert set(registry.kinds()) >= {"word", "wordpiece"}
    assert Tokenizer.kind == "word" and WordPieceTokenizer.kind == "wordpiece"
    assert type(Tokenizer.from_texts(["a b", "b c"], kind="wordpiece", vocab_size=30)) is WordPieceTokenizer
    with pytest.raises(ValueError, match="kind"):
        registry.get("bpe")
