"""Tests of `make_translation_dataset` and of the tokenizers inside `tf.data`."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from lstm_keras.text import END_ID, PAD_ID, START_ID, Tokenizer, make_translation_dataset

PAIRS = [
    ("hola", "hello"),
    ("buenos días, señor", "good morning, sir"),
    ("el gato negro duerme en la casa", "the black cat sleeps in the house"),
    ("", "nothing"),
    ("¿qué hora es?", "what time is it?"),
    ("me gusta el café con leche y azúcar por la mañana", "i like coffee with milk and sugar in the morning"),
    ("adiós", "goodbye"),
    ("la casa es grande", "the house is big"),
    (
        "uno dos tres cuatro cinco seis siete ocho nueve diez once doce",
        "one two three four five six seven eight nine ten eleven twelve",
    ),
    ("sí", "yes"),
    ("no sé", "i do not know"),
] * 3
SOURCES, TARGETS = (list(side) for side in zip(*PAIRS))


@pytest.fixture(scope="module")
def tokenizers():
    return Tokenizer.from_texts(SOURCES), Tokenizer.from_texts(TARGETS, kind="wordpiece", vocab_size=120)


def rows(batches):
    """Un-pads a list of `((source, target_in), target_out)` batches into tuples of id lists."""
    result = []
    for (source, target_in), target_out in batches:
        for s, ti, to in zip(source.numpy(), target_in.numpy(), target_out.numpy()):
            result.append(tuple(tuple(int(i) for i in np.trim_zeros(x, "b")) for x in (s, ti, to)))
    return result


@pytest.mark.parametrize("which", [0, 1], ids=["word", "wordpiece"])
def test_tokenizer_inside_tf_data_equals_direct_call(tokenizers, which):
    tokenizer = tokenizers[which]
    texts = SOURCES if which == 0 else TARGETS
    direct = tokenizer.tokenize(tf.constant(texts), add_start_end=True).to_list()
    ds = tf.data.Dataset.from_tensor_slices(texts)

    unbatched = ds.map(lambda text: tokenizer.tokenize(text, add_start_end=True))
    assert [ids.numpy().tolist() for ids in unbatched] == direct

    batched = ds.batch(4).map(lambda batch: tokenizer.tokenize(batch, add_start_end=True))
    assert sum((ids.to_list() for ids in batched), []) == direct

    detokenized = tokenizer.detokenize(tf.ragged.constant(direct, dtype=tf.int64)).numpy().tolist()
    ids_ds = ds.map(lambda text: tokenizer.tokenize(text, add_start_end=True))
    assert [t.numpy() for t in ids_ds.map(tokenizer.detokenize)] == detokenized
    ids_batches = ds.batch(4).map(lambda batch: tokenizer.tokenize(batch, add_start_end=True))
    assert sum((t.numpy().tolist() for t in ids_batches.map(tokenizer.detokenize)), []) == detokenized


def test_teacher_forcing_batches(tokenizers):
    source_tokenizer, target_tokenizer = tokenizers
    ds = make_translation_dataset(SOURCES, TARGETS, source_tokenizer, target_tokenizer, batch_size=4, seed=1)
    spec = ds.element_spec
    assert spec == (
        (tf.TensorSpec([None, None], tf.int64), tf.TensorSpec([None, None], tf.int64)),
        tf.TensorSpec([None, None], tf.int64),
    )
    batches = list(ds)
    for (source, target_in), target_out in batches:
        assert source.shape[0] == target_in.shape[0] == target_out.shape[0] <= 4
        assert target_in.shape == target_out.shape
        for row in (*source.numpy(), *target_in.numpy(), *target_out.numpy()):
            length = len(np.trim_zeros(row, "b"))
            assert (row[length:] == PAD_ID).all()  # right padding only
            assert (row[:length] != PAD_ID).all()
    # Every pair appears exactly once, tokenized as by direct calls.
    sources = source_tokenizer.tokenize(tf.constant(SOURCES), add_start_end=True).to_list()
    targets = target_tokenizer.tokenize(tf.constant(TARGETS)).to_list()
    expected = [
        (tuple(s), (START_ID, *t), (*t, END_ID)) for s, t in zip(sources, targets)
    ]
    assert collections.Counter(rows(batches)) == collections.Counter(expected)


def test_shuffling_is_seeded_and_changes_each_epoch(tokenizers):
    def epochs(seed, count):
        ds = make_translation_dataset(SOURCES, TARGETS, *tokenizers, batch_size=5, seed=seed)
        return [rows(list(ds)) for _ in range(count)]

    first = epochs(seed=3, count=2)
    assert first[0] != first[1]
    assert epochs(seed=3, count=1)[0] == first[0]
    assert epochs(seed=4, count=1)[0] != first[0]


def test_maximum_lengths_truncate_but_keep_markers(tokenizers):
    ds = make_translation_dataset(
        SOURCES, TARGETS, *tokenizers, batch_size=8, max_source_length=5, max_target_length=4
    )
    for source, target_in, target_out in rows(list(ds)):
        assert 3 <= len(source) <= 5 or source == (START_ID, END_ID)
        assert source[0] == START_ID and source[-1] == END_ID
        assert len(target_in) == len(target_out) <= 4
        assert target_in[0] == START_ID and target_out[-1] == END_ID
        assert target_in[1:] == target_out[:-1]
    with pytest.raises(ValueError, match="max_source_length"):
        make_translation_dataset(SOURCES, TARGETS, *tokenizers, max_source_length=2)


def test_length_buckets_do_not_mix(tokenizers):
    ds = make_translation_dataset(SOURCES, TARGETS, *tokenizers, batch_size=64, bucket_boundaries=[6])
    for (source, _), target_out in ds:
        longest = tf.maximum(
            tf.reduce_sum(tf.cast(source != PAD_ID, tf.int32), axis=1),
            tf.reduce_sum(tf.cast(target_out != PAD_ID, tf.int32), axis=1),
        ).numpy()
        assert (longest < 6).all() or (longest >= 6).all()


def test_options_and_errors(tokenizers):
    ds = make_translation_dataset(
        SOURCES, TARGETS, *tokenizers, batch_size=4, source_start_end=False, drop_remainder=True,
        bucket_boundaries=None, shuffle=False,
    )
    batches = list(ds)
    assert all(batch[1].shape[0] == 4 for batch in batches) and len(batches) == len(PAIRS) // 4
    unshuffled_sources = [row[0] for row in rows(batches[:1])]
    expected = tokenizers[0].tokenize(tf.constant(SOURCES[:4])).to_list()
    assert unshuffled_sources == [tuple(ids) for ids in expected]
    with pytest.raises(ValueError, match="aligned"):
        make_translation_dataset(SOURCES, TARGETS[:-1], *tokenizers)
    with pytest.raises(ValueError, match="empty"):
        make_translation_dataset([], [], *tokenizers)


def test_pipelines_end_prefetched_without_autotuning_and_keep_their_batches(tokenizers):
    """`prefetched` turns `tf.data`'s autotuning off (its thread stalled epoch starts); the batches stay the same."""
    from lstm_keras.models.classification.data import make_text_dataset

    builders = (
        lambda: make_translation_dataset(SOURCES, TARGETS, *tokenizers, batch_size=5, seed=3),
        lambda: make_text_dataset(SOURCES, [1] * len(SOURCES), batch_size=4, shuffle=True, seed=2, bucket_boundaries=[3]),
    )
    tuned = tf.data.Options()
    tuned.autotune.enabled = True
    for build in builders:
        dataset = build()
        assert dataset.options().autotune.enabled is False
        # A fresh copy of the pipeline with autotuning on gives the same batches in the same order.
        with_tuning = build().with_options(tuned)
        assert with_tuning.options().autotune.enabled is True
        ours, theirs = list(dataset), list(with_tuning)
        assert len(ours) == len(theirs) > 2
        for a, b in zip(tf.nest.flatten(ours), tf.nest.flatten(theirs)):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
