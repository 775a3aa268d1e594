"""Language-modelling data: PTB (shared copies), WikiText-2 and text loaders, token streams, TBPTT windows."""

import gzip
import os
import shutil
import zipfile

import numpy as np
import pytest

from lstm_keras.datasets import language_modeling as lm
from lstm_keras.datasets.tiny_corpus import generate_tiny_corpus
from lstm_keras.text import END_ID
from lstm_keras.text import UNK_ID
from lstm_keras.text import Tokenizer

PTB_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "datasets", "ptb")
PTB_DIR = os.environ.get("LSTM_KERAS_PTB_DIR", PTB_DIR)
needs_ptb = pytest.mark.skipif(not os.path.isfile(os.path.join(PTB_DIR, "ptb.train.txt.gz")),
                               reason="no shared PTB copy (../shared/datasets/ptb)")
REPO = os.path.join(os.path.dirname(__file__), "..", "..")


@needs_ptb
def test_ptb_shared_copy_counts():
    data = lm.load_ptb(PTB_DIR)
    assert [len(data.train), len(data.valid), len(data.test)] == [42068, 3370, 3761]
    # The published token counts (Merity et al. 2016's table): words, without <eos>.
    words = [lm.count_tokens(getattr(data, s), with_end=False) for s in ("train", "valid", "test")]
    assert words == [887521, 70390, 78669]
    tokenizer = lm.make_tokenizer(data)
    # 10,000 PTB tokens (<unk> as [UNK], <eos> as [END]) plus [PAD] and [START], never predicted.
    assert tokenizer.vocab_size == 10002
    assert "<unk>" not in tokenizer.vocabulary and "N" in tokenizer.vocabulary
    train = lm.text_to_stream(data.train, tokenizer)
    assert len(train) == 929589  # with one [END] per line: the stream models are scored on
    assert int((train == UNK_ID).sum()) == 45020 and int((train == END_ID).sum()) == 42068
    for split, expected in (("valid", 73760), ("test", 82430)):
        stream = lm.text_to_stream(getattr(data, split), tokenizer)
        assert len(stream) == expected
        assert (stream != UNK_ID).sum() > 0.9 * expected  # valid and test add no new words


@needs_ptb
def test_ptb_plain_and_gzipped_copies_and_checksums(tmp_path):
    shutil.copy(os.path.join(PTB_DIR, "ptb.train.txt.gz"), tmp_path)
    for split in ("valid", "test"):
        with gzip.open(os.path.join(PTB_DIR, f"ptb.{split}.txt.gz"), "rb") as f:
            (tmp_path / f"ptb.{split}.txt").write_bytes(f.read())
    mixed = lm.load_ptb(str(tmp_path))
    assert len(mixed.train) == 42068 and mixed.valid == lm.load_ptb(PTB_DIR).valid
    (tmp_path / "ptb.test.txt").write_text("not the treebank\n")
    with pytest.raises(ValueError, match="ptb.test.txt"):
        lm.load_ptb(str(tmp_path))
    os.remove(tmp_path / "ptb.test.txt")
    with pytest.raises(FileNotFoundError, match="ptb.test.txt"):
        lm.load_ptb(str(tmp_path))


@needs_ptb
def test_ptb_in_a_folder_of_data_sets(tmp_path):
    (tmp_path / "ptb").symlink_to(os.path.abspath(PTB_DIR), target_is_directory=True)
    assert lm.load_ptb(str(tmp_path)).test == lm.load_ptb(PTB_DIR).test
    (tmp_path / "other").mkdir()
    with pytest.raises(FileNotFoundError, match="ptb.train.txt not found"):
        lm.load_ptb(str(tmp_path / "other"))


def write_wikitext(folder, lines):
    for split in ("train", "valid", "test"):
        (folder / f"wiki.{split}.tokens").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def test_wikitext2_local_copies(tmp_path):
    lines = ["", " = Valkyria Chronicles = ", "", " Senjō no Valkyria 3 : <unk> Chronicles , 1 @,@ 000 "]
    write_wikitext(tmp_path, lines)
    data = lm.load_language_modeling_data("wikitext-2", data_dir=str(tmp_path))
    assert data.train == lines and data.name == "wikitext-2"
    tokenizer = lm.make_tokenizer(data)
    stream = lm.text_to_stream(data.train, tokenizer)
    # Every line ends with [END], blank ones included; case, accents and "@,@" are kept as tokens.
    assert len(stream) == lm.count_tokens(lines) == 19
    assert int((stream == END_ID).sum()) == 4 and int((stream == UNK_ID).sum()) == 1
    assert "Valkyria" in tokenizer.vocabulary and "@,@" in tokenizer.vocabulary
    # The zip as published: its checksum is checked.
    nested = tmp_path / "zipped"
    nested.mkdir()
    with zipfile.ZipFile(nested / lm.WIKITEXT2_ZIP, "w") as archive:
        for split in ("train", "valid", "test"):
            archive.write(tmp_path / f"wiki.{split}.tokens", f"wikitext-2/wiki.{split}.tokens")
    with pytest.raises(ValueError, match="md5"):
        lm.load_wikitext2(str(nested))
    with pytest.raises(FileNotFoundError, match="WikiText-2"):
        lm.load_wikitext2(str(tmp_path / "nothing"))


def test_text_file_and_folders(tmp_path):
    text = tmp_path / "story.txt"
    text.write_text("".join(f"line {i}\n\n" for i in range(20)), encoding="utf-8")
    data = lm.load_language_modeling_data(str(text))
    assert (len(data.train), len(data.valid), len(data.test)) == (16, 2, 2)  # blank lines dropped
    assert data.test == ["line 18", "line 19"] and data.tokenizer_options == {}
    folder = tmp_path / "splits"
    folder.mkdir()
    for split, n in (("train", 5), ("valid", 2), ("test", 1)):
        (folder / f"{split}.txt").write_text("".join(f"{split} {i}\n" for i in range(n)))
    data = lm.load_text(str(folder))
    assert (data.train[0], len(data.valid), data.test) == ("train 0", 2, ["test 0"])
    (tmp_path / "empty.txt").write_text("\n  \n")
    with pytest.raises(ValueError, match="no training text"):
        lm.load_text(str(tmp_path / "empty.txt"))
    with pytest.raises(FileNotFoundError, match="--dataset"):
        lm.load_language_modeling_data(str(tmp_path / "missing.txt"))
    gz = tmp_path / "lines.txt.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as f:
        f.write("a b\r\nc\n")
    assert lm.read_lines(str(gz)) == ["a b", "c"]


def test_text_to_stream_ends_every_line():
    tokenizer = Tokenizer.from_texts(["the cat sat", "a dog"])
    stream = lm.text_to_stream(["the cat", "", "zebra dog"], tokenizer)
    expected = tokenizer.tokenize(["the cat", "", "zebra dog"]).to_list()
    assert stream.tolist() == expected[0] + [END_ID] + [END_ID] + expected[2] + [END_ID]
    assert stream.dtype == np.int32 and lm.text_to_stream([], tokenizer).shape == (0,)


@pytest.mark.parametrize("length, batch_size, bptt", [(1, 1, 1), (7, 2, 3), (50, 4, 5), (12, 5, 20), (36, 3, 4)])
def test_windows_cover_every_token_once_in_order(length, batch_size, bptt):
    stream = np.arange(3, 3 + length)
    inputs, targets = lm.language_modeling_windows(stream, batch_size, bptt, start_token_id=END_ID)
    windows = -(-(-(-length // batch_size)) // bptt)
    assert inputs.shape == targets.shape == (windows, batch_size, bptt)
    # Rows read left to right across the windows are contiguous parts of the stream.
    rows_in = inputs.transpose(1, 0, 2).reshape(batch_size, -1)
    rows_out = targets.transpose(1, 0, 2).reshape(batch_size, -1)
    flat_out = rows_out.reshape(-1)
    assert flat_out[flat_out != 0].tolist() == stream.tolist()  # every target once, in order
    flat_in = rows_in.reshape(-1)[rows_out.reshape(-1) != 0]
    assert flat_in.tolist() == [END_ID] + stream[:-1].tolist()  # each input is the previous token


@pytest.mark.parametrize("length, batch_size, bptt, warmup", [(40, 4, 5, 3), (13, 3, 4, 7), (5, 4, 2, 9), (9, 1, 4, 3)])
def test_warmup_rows_read_the_preceding_tokens_and_score_every_token_once(length, batch_size, bptt, warmup):
    stream = np.arange(3, 3 + length)
    inputs, targets = lm.language_modeling_windows(stream, batch_size, bptt, start_token_id=END_ID, warmup=warmup)
    rows_in = inputs.transpose(1, 0, 2).reshape(batch_size, -1)  # (batch, width)
    rows_out = targets.transpose(1, 0, 2).reshape(batch_size, -1)
    scored = rows_out != 0
    assert sorted(rows_out[scored].tolist()) == stream.tolist()  # every token scored exactly once
    inputs_of_stream = np.concatenate([[END_ID], stream[:-1]])
    for r in range(batch_size):
        for column in np.flatnonzero(scored[r]):
            index = rows_out[r, column] - 3  # the token's position in the stream
            # The row read the stream's inputs up to this token contiguously: with `warmup` or more of them.
            assert column <= index
            np.testing.assert_array_equal(rows_in[r, :column + 1], inputs_of_stream[index - column:index + 1])
            assert column >= min(warmup, index)


def test_arrays_are_the_windows_in_order_and_check_their_arguments():
    stream = np.arange(3, 40)
    inputs, targets = lm.language_modeling_windows(stream, 3, 4, start_token_id=END_ID)
    flat_inputs, flat_targets = lm.language_modeling_arrays(stream, 3, 4, start_token_id=END_ID)
    assert flat_inputs.shape == flat_targets.shape == (len(inputs) * 3, 4)
    # Keras' batches of 3 rows (no shuffling) are exactly the windows.
    for j, (expected_x, expected_y) in enumerate(zip(inputs, targets)):
        np.testing.assert_array_equal(flat_inputs[3 * j:3 * (j + 1)], expected_x)
        np.testing.assert_array_equal(flat_targets[3 * j:3 * (j + 1)], expected_y)
    assert flat_inputs.dtype == flat_targets.dtype == np.int32
    for name, kwargs in (("bptt", {"bptt": 0}), ("batch_size", {"batch_size": 0}), ("warmup", {"warmup": -1})):
        with pytest.raises(ValueError, match=name):
            lm.language_modeling_windows(stream, **{"batch_size": 3, "bptt": 4, **kwargs}, start_token_id=END_ID)
    with pytest.raises(ValueError, match="non-empty"):
        lm.language_modeling_windows(np.array([], "int32"), 3, 4, start_token_id=END_ID)


def test_tiny_corpus_is_reproducible_and_committed():
    sentences = generate_tiny_corpus()
    path = os.path.join(REPO, "data", "tiny_corpus.txt")
    with open(path, encoding="utf-8") as f:
        assert f.read() == "".join(s + "\n" for s in sentences)
    assert os.path.getsize(path) < 300_000
    # Determiners agree with their nouns.
    words = " ".join(sentences).split()
    pairs = set(zip(words, words[1:]))
    assert ("a", "dogs") not in pairs and ("some", "dog") not in pairs and ("a", "dog") in pairs


def test_the_named_tiny_corpus_is_the_committed_file_without_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no file named "tiny" here: the corpus is generated
    named = lm.load_language_modeling_data("tiny")
    from_file = lm.load_text(os.path.join(REPO, "data", "tiny_corpus.txt"))
    assert named.name == "tiny"
    assert (named.train, named.valid, named.test) == (from_file.train, from_file.valid, from_file.test)


def test_a_byte_order_mark_does_not_stick_to_the_first_word(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes("\ufeffevery word counts\nevery line\n".encode("utf-8"))
    assert lm.read_lines(str(path))[0] == "every word counts"
