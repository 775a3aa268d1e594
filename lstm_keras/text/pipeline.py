"""`tf.data` input pipelines: translation with teacher forcing, and `prefetched`, the last step of every pipeline."""

import tensorflow as tf

from lstm_keras.text.tokenizer import END_ID, PAD_ID, START_ID

# Length buckets: a batch holds sequences whose longer side (source or target) falls in the same
# range, so little of it is padding. Boundaries beyond the maximum lengths are simply never used.
DEFAULT_BUCKET_BOUNDARIES = (8, 12, 16, 24, 32, 48, 64, 96, 128)
TOKENIZE_BATCH_SIZE = 1024


def prefetched(dataset):
    """`dataset` prefetching its next batches, with `tf.data`'s autotuning off.

    Autotuning runs a thread for every iterator of the pipeline, and destroying the iterator
    waits for it: Keras does at the start of every epoch and of every validation. In six-minute
    translation runs on 2 CPU cores those waits took 3 to 40 s (the native stack of the stalled
    main thread: `~RootDataset::Iterator` waiting on its `tf.data` thread), time the budget
    had counted on (`BENCHMARKS.md`). Without autotuning, `AUTOTUNE` parallelism is the number
    of cores and the prefetch buffer adapts on its own; the batches and their order do not
    change.

    Example:
    >>> prefetched(tf.data.Dataset.range(3)).options().autotune.enabled
    False
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def _with_start_end(ids, max_length, add_start, add_end):
    """Truncates ragged `ids` (batch, (tokens)) to fit `max_length` with the markers, then adds them."""
    extra = int(add_start) + int(add_end)
    if max_length is not None:
        ids = ids[:, : max_length - extra]  # (batch, (<= max_length - extra))
    column = tf.ones([ids.nrows(), 1], dtype=ids.dtype)  # (batch, 1)
    parts = ([column * START_ID] if add_start else []) + [ids] + ([column * END_ID] if add_end else [])
    return tf.concat(parts, axis=1)  # (batch, (tokens + extra))


def _as_strings(texts):
    """Returns a 1-D `tf.string` tensor of `texts` (a list, array or tensor of strings)."""
    if isinstance(texts, str):
        raise TypeError("expected a collection of strings, not a single string")
    return tf.convert_to_tensor(texts if isinstance(texts, tf.Tensor) else list(texts), tf.string)


def _dense(inputs, target_out):
    """Makes plain tensors of unbatched ragged rows (which come out as rank-1 `RaggedTensorSpec`s)."""
    source, target_in = inputs
    return (tf.identity(source), tf.identity(target_in)), tf.identity(target_out)


def make_translation_dataset(
    source_texts,
    target_texts,
    source_tokenizer,
    target_tokenizer,
    batch_size=64,
    shuffle=True,
    seed=0,
    max_source_length=None,
    max_target_length=None,
    bucket_boundaries=DEFAULT_BUCKET_BOUNDARIES,
    source_start_end=True,
    drop_remainder=False,
    cache=True,
):
    """Builds padded batches `((source_ids, target_in_ids), target_out_ids)` for teacher forcing.

    Each target `y` (token ids) gives the decoder input `target_in = [START] + y` and the label
    `target_out = y + [END]`, so at step `t` the decoder reads token `t - 1` and predicts token
    `t`. Sources are wrapped in `[START] ... [END]` too unless `source_start_end=False`.

    The steps: tokenize (in large batches, with the tokenizers' `tf.function`s), truncate,
    cache, shuffle (seeded; a new order each epoch, the same orders for the same seed), group
    by length with `tf.data.Dataset.bucket_by_sequence_length` (or plain batching when
    `bucket_boundaries` is empty), right-pad with `0` (`[PAD]`) to the longest sequence of the
    batch, prefetch. Right padding with id 0 keeps Keras masking and the cuDNN LSTM kernel usable.

    Args:
        source_texts: the source sentences (a list of strings or a `tf.string` tensor).
        target_texts: the target sentences, aligned with `source_texts`.
        source_tokenizer: a `lstm_keras.text.Tokenizer` for the source language.
        target_tokenizer: a `lstm_keras.text.Tokenizer` for the target language.
        batch_size: the number of pairs per batch.
        shuffle: whether to shuffle the pairs (the whole data set) each epoch.
        seed: the shuffling seed.
        max_source_length: if set, source sequences are truncated to this many ids, markers
            included (the `[END]` marker is kept).
        max_target_length: if set, `target_in` and `target_out` have at most this many ids.
        bucket_boundaries: increasing sequence-length boundaries for bucketing; empty or None
            for plain batching in (shuffled) order.
        source_start_end: whether to wrap sources in `[START]` and `[END]`.
        drop_remainder: whether to drop incomplete batches (per bucket).
        cache: whether to keep the tokenized pairs in memory after the first epoch.

    Returns:
        A `tf.data.Dataset` of `((source_ids, target_in_ids), target_out_ids)`, int64 tensors of
        shapes `(batch, source_time)`, `(batch, target_time)` and `(batch, target_time)`.

    Raises:
        ValueError: the texts are empty or not aligned, or a maximum length is too small.

    Example:
    >>> from lstm_keras.text import Tokenizer
    >>> pairs = [("hola mundo", "hello world"), ("adios", "bye")]
    >>> sources, targets = zip(*pairs)
    >>> ds = make_translation_dataset(
    ...     sources, targets, Tokenizer.from_texts(sources), Tokenizer.from_texts(targets),
    ...     batch_size=2, shuffle=False)
    >>> (source, target_in), target_out = next(iter(ds))
    >>> source.numpy().tolist(), target_in.numpy().tolist(), target_out.numpy().tolist()
    ([[1, 5, 6, 2], [1, 4, 2, 0]], [[1, 5, 6], [1, 4, 0]], [[5, 6, 2], [4, 2, 0]])
    """
    source_texts = _as_strings(source_texts)  # (count,)
    target_texts = _as_strings(target_texts)  # (count,)
    count = int(source_texts.shape[0])
    if count != int(target_texts.shape[0]):
        raise ValueError(
            f"source_texts and target_texts must be aligned; received {count} sources and "
            f"{int(target_texts.shape[0])} targets"
        )
    if count == 0:
        raise ValueError("no sentence pairs: source_texts and target_texts are empty")
    min_source_length = 3 if source_start_end else 1
    if max_source_length is not None and max_source_length < min_source_length:
        raise ValueError(
            f"`max_source_length` must be >= {min_source_length}; received: {max_source_length}"
        )
    if max_target_length is not None and max_target_length < 2:
        raise ValueError(f"`max_target_length` must be >= 2; received: {max_target_length}")

    def tokenize(sources, targets):
        # (batch,) strings -> ragged (batch, (tokens)) ids.
        source_ids = _with_start_end(
            source_tokenizer.tokenize(sources), max_source_length,
            add_start=source_start_end, add_end=source_start_end,
        )
        target_ids = target_tokenizer.tokenize(targets)
        target_in = _with_start_end(target_ids, max_target_length, add_start=True, add_end=False)
        target_out = _with_start_end(target_ids, max_target_length, add_start=False, add_end=True)
        return (source_ids, target_in), target_out

    ds = tf.data.Dataset.from_tensor_slices((source_texts, target_texts))
    ds = ds.batch(TOKENIZE_BATCH_SIZE).map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.unbatch().map(_dense)  # ((source (s,), target_in (t,)), target_out (t,))
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    pad = tf.constant(PAD_ID, tf.int64)
    if bucket_boundaries:
        boundaries = sorted(set(int(b) for b in bucket_boundaries))
        ds = ds.bucket_by_sequence_length(
            element_length_func=lambda inputs, target_out: tf.maximum(
                tf.shape(inputs[0])[0], tf.shape(target_out)[0]
            ),
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            padding_values=((pad, pad), pad),
            drop_remainder=drop_remainder,
        )  # ((batch, s), (batch, t)), (batch, t)
    else:
        ds = ds.padded_batch(
            batch_size, padding_values=((pad, pad), pad), drop_remainder=drop_remainder
        )  # ((batch, s), (batch, t)), (batch, t)
    return prefetched(ds)
