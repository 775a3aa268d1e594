"""Language-model pretraining of a `TextClassifier` (Dai & Le 2015; Howard & Ruder 2018, ULMFiT).

`pretrain_classifier_from_lm` trains a language model on a `TextClassifier`'s own training
texts (tokenised by the classifier's vectoriser) and copies its embedding and LSTM weights, by
layer name, into the classifier, which is then fine-tuned as usual ("Semi-supervised Sequence
Learning", Dai & Le 2015). The language model learns either to predict the next token of the
texts (`objective="next_token"`, Dai & Le's LM-LSTM) or to read a text and then write it again
(`objective="autoencoder"`, their sequence autoencoder SA-LSTM, whose encoder and decoder are
one network).
"""

import time

import keras
import numpy as np
import tensorflow as tf

from lstm_keras.layers.gating import gating_options
from lstm_keras.models.classification.text_classifier import as_string_tensor
from lstm_keras.models.language_model import LanguageModel
from lstm_keras.models.truncated_bptt import DEFAULTS
from lstm_keras.models.truncated_bptt import check_training_stream
from lstm_keras.models.truncated_bptt import fit_language_model
from lstm_keras.text.pipeline import prefetched
from lstm_keras.training import TimeBudget
from lstm_keras.training import epochs_completed

OBJECTIVES = ("next_token", "autoencoder")


def classifier_token_rows(classifier, texts, batch_size=1024):
    """The texts as the classifier reads them: one int32 array of its vectoriser's ids per text (padding dropped)."""
    rows = []
    for start in range(0, len(texts), batch_size):
        ids = np.asarray(classifier.vectorizer(as_string_tensor(list(texts[start:start + batch_size]))))  # (n, T)
        rows.extend(row[row != 0].astype("int32") for row in ids)
    return rows


def classifier_token_stream(classifier, texts, batch_size=1024):
    """The texts as the classifier reads them, as one stream: its vectoriser's ids, each text followed by an end id.

    The end id is `len(classifier.vocabulary)`, one past the vectoriser's ids, so a language
    model of these streams has `len(classifier.vocabulary) + 1` ids; padding stays 0.

    Returns:
        A 1-D int32 NumPy array.
    """
    end = np.array([len(classifier.vocabulary)], "int32")
    pieces = [piece for row in classifier_token_rows(classifier, texts, batch_size) for piece in (row, end)]
    return np.concatenate(pieces) if pieces else np.zeros((0,), "int32")


def autoencoder_example(row, end_id, pad_id=0):
    """One sequence-autoencoder example (Dai & Le 2015): read the text and an end id, then write the text and an end id.

    For ids `x` of length `T`: inputs `[x, END, x]` and targets `[PAD] * T + [x, END]` (both
    `2T + 1` long): the model is scored only on what it writes after reading the whole text.

    Example:
    >>> inputs, targets = autoencoder_example(np.array([5, 6, 7]), end_id=9)
    >>> inputs.tolist(), targets.tolist()
    ([5, 6, 7, 9, 5, 6, 7], [0, 0, 0, 5, 6, 7, 9])
    """
    row = np.asarray(row, "int32")
    end = np.array([end_id], "int32")
    return np.concatenate([row, end, row]), np.concatenate([np.full(len(row), pad_id, "int32"), row, end])


def _autoencoder_dataset(rows, end_id, batch_size, seed=None):
    """Batches of autoencoder examples, each padded to its longest (`(batch, 2T + 1)` inputs and targets)."""
    examples = [autoencoder_example(row, end_id) for row in rows]
    lengths = [len(inputs) for inputs, _ in examples]
    inputs = tf.RaggedTensor.from_row_lengths(np.concatenate([i for i, _ in examples]), lengths)
    targets = tf.RaggedTensor.from_row_lengths(np.concatenate([t for _, t in examples]), lengths)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if seed is not None:
        dataset = dataset.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.ragged_batch(batch_size).map(lambda x, y: (x.to_tensor(), y.to_tensor()))  # padded with 0
    return prefetched(dataset)


def pretrain_classifier_from_lm(
    classifier,
    texts,
    epochs,
    valid_texts=None,
    batch_size=DEFAULTS["batch_size"],
    bptt=DEFAULTS["bptt"],
    learning_rate=DEFAULTS["learning_rate"],
    clipnorm=DEFAULTS["clipnorm"],
    time_budget=None,
    verbose=0,
    objective="next_token",
    seed=0,
):
    """Pretrains a `TextClassifier`'s embedding and LSTM layers as a language model on its own texts.

    1. The texts become the classifier's own token ids (its standardisation, vocabulary and
       truncation).
    2. A `LanguageModel` with the classifier's embedding size, units, layers and gating
       (untied softmax, the classifier's dropout) learns for `epochs` epochs. With
       `objective="next_token"` it is stateful and predicts the next token of one stream of
       the texts, each followed by an end id (`classifier_token_stream`), with truncated BPTT.
       With `"autoencoder"` it is stateless and reads each text then writes it again
       (`autoencoder_example`, batches of `batch_size` texts in a new order each epoch).
    3. The weights of the layers both models name alike (`token_embedding`, `lstm_1`, ...) are
       copied into the classifier (the embedding rows of the ids both have; the classifier's
       vectoriser never produces the end id). The classifier's pooling and output layer keep their initial weights.

    The classifier must be adapted (`classifier.adapt(texts)`) and unidirectional (a language
    model reads left to right only).

    Args:
        classifier: a `TextClassifier`, adapted, with `bidirectional=False`.
        texts: the training texts (the classifier's own, without labels).
        epochs: the language model's epochs (>= 1).
        valid_texts: texts for the language model's validation perplexity, or None.
        batch_size, bptt, time_budget: as in `fit_language_model` (`batch_size` shrinks to
            `len(stream) // bptt` for a short text; `bptt` is not used by the autoencoder, which
            back-propagates through whole texts).
        learning_rate, clipnorm: as in `LanguageModel.compile` (None: the default of the cell's
            optimiser).
        verbose: Keras' `fit` verbosity.
        objective: `"next_token"` or `"autoencoder"`.
        seed: the autoencoder's shuffling seed.

    Returns:
        A dict: `lm_epochs`, `lm_tokens` (the training stream's length), `lm_train_perplexity`,
        `lm_valid_perplexity` (or None), `lm_seconds` and `copied_layers`.

    Raises:
        ValueError: the classifier is bidirectional or not adapted, `epochs` < 1, an unknown
            `objective`, or the texts have fewer than `bptt` tokens (next token).
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"Invalid value for argument `epochs` of pretrain_classifier_from_lm: expected an int >= 1. "
                         f"Received: epochs={epochs!r}")
    if classifier.bidirectional:
        raise ValueError("pretrain_classifier_from_lm needs a unidirectional classifier (bidirectional=False): "
                         "a language model reads left to right only")
    if len(classifier.vocabulary) <= 2:
        raise ValueError("pretrain_classifier_from_lm: the classifier has no vocabulary; call classifier.adapt(texts) first")
    if objective not in OBJECTIVES:
        raise ValueError(f"pretrain_classifier_from_lm: objective must be one of {OBJECTIVES}, received {objective!r}")
    end_id = len(classifier.vocabulary)
    if objective == "autoencoder":
        rows = classifier_token_rows(classifier, texts)  # never empty: an empty text is [UNK]
        language_model = _language_model(classifier, None)
        language_model.compile(learning_rate=learning_rate, clipnorm=clipnorm)
        valid_rows = classifier_token_rows(classifier, valid_texts) if valid_texts else []
        callbacks = [TimeBudget.of(time_budget)]
        valid = _autoencoder_dataset(valid_rows, end_id, batch_size) if valid_rows else None
        if valid is not None:
            callbacks.append(keras.callbacks.EarlyStopping("val_perplexity", patience=epochs, restore_best_weights=True))
        started = time.monotonic()
        history = language_model.fit(_autoencoder_dataset(rows, end_id, batch_size, seed=seed), validation_data=valid,
                                     epochs=epochs, callbacks=callbacks, verbose=verbose, shuffle=False)
        stats = {"epochs_trained": epochs_completed(history), "train_seconds": round(time.monotonic() - started, 1)}
        tokens = int(sum(len(row) + 1 for row in rows))  # the tokens written (the targets)
    else:
        stream = classifier_token_stream(classifier, texts)
        # Few texts: fewer parallel streams, so that every stream has at least one window.
        batch_size = max(1, min(batch_size, len(stream) // bptt))
        check_training_stream(stream, batch_size, bptt)
        valid_stream = classifier_token_stream(classifier, valid_texts) if valid_texts else None
        language_model = _language_model(classifier, batch_size)
        language_model.compile(learning_rate=learning_rate, clipnorm=clipnorm)
        history, stats = fit_language_model(
            language_model, stream, valid_stream, bptt=bptt, epochs=epochs, time_budget=time_budget,
            anneal_factor=None, patience=epochs, verbose=verbose,
        )
        tokens = int(len(stream))
    copied = copy_language_model_weights(language_model, classifier)
    valid = history.history.get("val_perplexity")
    return {
        "lm_objective": objective,
        "lm_epochs": stats["epochs_trained"],
        "lm_tokens": tokens,
        "lm_train_perplexity": float(history.history["perplexity"][-1]),
        "lm_valid_perplexity": float(valid[-1]) if valid else None,
        "lm_seconds": stats["train_seconds"],
        "copied_layers": copied,
    }


def _language_model(classifier, batch_size):
    """The language model of the classifier's shape: stateful for `batch_size` streams, or stateless (None)."""
    gating = {**gating_options(classifier.gating), **classifier.lstm_options} if classifier.cell == "lstm" else None
    end_id = len(classifier.vocabulary)
    return LanguageModel(
        end_id + 1,
        embedding_dim=classifier.embedding_dim,
        units=classifier.units,
        num_layers=classifier.num_layers,
        gating=gating,
        cell=classifier.cell,
        embedding_dropout=classifier.dropout,
        dropout=classifier.dropout,
        output_dropout=classifier.dropout,
        batch_size=batch_size,
        pad_token_id=0,
        start_token_id=None,
        end_token_id=end_id,
        name="pretraining_language_model",
    )


def copy_language_model_weights(language_model, model):
    """Copies the weights of the layers `model` and `language_model` both name alike (by weight name).

    Embedding matrices are copied row by row for the ids both have (the first
    `min(V_model, V_language_model)` rows; the model's other rows are kept); the softmax
    weights of a `TokenEmbedding` have no counterpart and stay behind.

    Returns:
        The names of the layers copied.

    Raises:
        ValueError: a weight of the same name has another shape (the message names it).
    """
    source_layers = {layer.name: layer for layer in language_model.layers}
    copied = []
    for layer in model.layers:
        source = source_layers.get(layer.name)
        if source is None or not layer.weights:
            continue
        values = {weight.path.split("/")[-1]: weight for weight in source.weights}
        for weight in layer.weights:
            key = weight.path.split("/")[-1]
            if key not in values:
                raise ValueError(f"copy_language_model_weights: {layer.name}/{key} has no counterpart in the language model")
            value = keras.ops.convert_to_numpy(values[key])
            if key == "embeddings":
                rows = min(value.shape[0], weight.shape[0])
                value = np.concatenate([value[:rows], keras.ops.convert_to_numpy(weight)[rows:]])
            if tuple(value.shape) != tuple(weight.shape):
                raise ValueError(
                    f"copy_language_model_weights: {layer.name}/{key} has shape {tuple(weight.shape)} in the model "
                    f"but {tuple(value.shape)} in the language model"
                )
            weight.assign(value)
        copied.append(layer.name)
    return copied
