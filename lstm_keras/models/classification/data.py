"""Batches of raw texts for a `TextClassifier`: `make_text_dataset`."""

import numpy as np
import tensorflow as tf

from lstm_keras.models.classification.defaults import DEFAULTS
from lstm_keras.models.classification.text_classifier import as_string_tensor
from lstm_keras.text.pipeline import prefetched


def make_text_dataset(texts, labels=None, batch_size=DEFAULTS["batch_size"], shuffle=False, seed=0, bucket_boundaries=None):
    """A batched `tf.data.Dataset` of raw texts `(batch,)` (and labels), shuffled each epoch if asked.

    Args:
        texts: a list of texts (str or bytes).
        labels: None, or the labels (one row per text).
        batch_size: texts per batch.
        shuffle: whether to shuffle (a new order each epoch, the same orders for the same seed).
        seed: the shuffling seed.
        bucket_boundaries: None, or increasing word counts: texts are then batched with texts of
            a similar length (`tf.data.Dataset.bucket_by_sequence_length`, whitespace-separated
            words counted), so that the model, which pads a batch to its longest text, does
            less work on padding. Batch sizes stay `batch_size` (the last batch of a bucket may
            be smaller).

    Returns:
        The dataset: batches `texts (batch,)`, or `(texts (batch,), labels (batch, ...))`.

    Example:
    >>> batch = next(iter(make_text_dataset(["good", "bad", ""], [1, 0, 0], batch_size=2)))
    >>> [tuple(t.shape) for t in batch]
    [(2,), (2,)]
    >>> texts = ["a", "a b c d", "b", "c d e f"]
    >>> [b.numpy().tolist() for b in make_text_dataset(texts, batch_size=2, bucket_boundaries=[3])]
    [[b'a', b'b'], [b'a b c d', b'c d e f']]
    """
    texts = as_string_tensor(texts)
    dataset = tf.data.Dataset.from_tensor_slices(texts if labels is None else (texts, np.asarray(labels)))
    if shuffle:
        dataset = dataset.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)
    if not bucket_boundaries:
        return prefetched(dataset.batch(batch_size))
    dataset = dataset.bucket_by_sequence_length(
        element_length_func=lambda text, *label: tf.size(tf.strings.split(text)),
        bucket_boundaries=list(bucket_boundaries),
        bucket_batch_sizes=[batch_size] * (len(bucket_boundaries) + 1),
    )
    return prefetched(dataset)
