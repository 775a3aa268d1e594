"""Export of a `TextClassifier` (or a `ClassifierEnsemble`) as a TensorFlow SavedModel served from raw strings.

The SavedModel needs only TensorFlow to run (no `lstm_keras`, no Keras code):

    >>> import tensorflow as tf                                     # doctest: +SKIP
    >>> serve = tf.saved_model.load("run/saved_model").signatures["serving_default"]  # doctest: +SKIP
    >>> serve(texts=tf.constant(["a great film", b"\\xff bytes"]))["label"]         # doctest: +SKIP

A classifier with `tokenizer="unicode_script"` runs TensorFlow Text ops: its serving process
must `import tensorflow_text` before `tf.saved_model.load` (still no `lstm_keras`).

Its signature (`serving_default`, also `serve`) takes `texts`, a `tf.string [batch]` of raw
texts (any bytes: invalid UTF-8 is repaired, empty texts get a prediction, long ones are
truncated as the classifier documents), and returns:

| output | dtype, shape | what |
|---|---|---|
| `probabilities` | `float32 [batch, C]` | class probabilities (`[1 - p, p]` for a binary head) |
| `label_names` | `string [batch, C]` | the class names, in the columns' order (one row per text) |
| `label` | `string [batch]` | the most probable class |
| `probability` | `float32 [batch]` | its probability |

`export_portable` writes the classifier as a LiteRT (`.tflite`) or ONNX file on token ids
(`lstm_keras.conversion`), with its vocabulary and a plain-Python reference tokenizer beside it:
signature `classify`, `token_ids` (int32 `[batch, T]`, the ids of `ReferenceTokenizer`,
right-padded with 0; batch 1 in LiteRT) to `probabilities` (float32 `[batch, C]`, columns in
the order of `label_names`).
"""

import functools
import os

import keras
import tensorflow as tf

from lstm_keras.conversion import export_loaded
from lstm_keras.conversion import random_token_ids
from lstm_keras.conversion import write_export

from lstm_keras.models.classification.text_classifier import PREDICT_BATCH_SIZE
from lstm_keras.saving import MODEL_FILE
from lstm_keras.saving import check_marker
from lstm_keras.saving import check_model_directory
from lstm_keras.saving import load_keras_model
from lstm_keras.saving import write_saved_model

SIGNATURE_NAME = "serving_default"
COMMAND = "classify train"  # writes such model folders


def export_saved_model(classifier, path):
    """Writes `classifier` as a SavedModel at `path` (atomically: a failed export leaves nothing).

    Args:
        classifier: a `TextClassifier` with its vocabulary set, or a `ClassifierEnsemble` of them.
        path: the SavedModel folder (replaced if it exists).

    Returns:
        `path`.
    """
    label_names = tf.constant(classifier.label_names)  # (C,)
    binary = classifier.head == "binary"

    width = 1 if binary else len(classifier.label_names)

    def serve(texts):
        # An empty batch gets an empty answer (the vectoriser cannot read zero texts).
        probabilities = tf.cond(
            tf.size(texts) > 0, lambda: classifier(texts, training=False), lambda: tf.zeros([0, width])
        )  # (batch, 1) or (batch, C)
        if binary:
            probabilities = tf.concat([1.0 - probabilities, probabilities], axis=-1)  # (batch, 2)
        best = tf.argmax(probabilities, axis=-1)  # (batch,)
        return {
            "probabilities": probabilities,
            "label_names": tf.tile(label_names[tf.newaxis], [tf.shape(texts)[0], 1]),  # (batch, C)
            "label": tf.gather(label_names, best),  # (batch,)
            "probability": tf.reduce_max(probabilities, axis=-1),  # (batch,)
        }

    write_saved_model(path, [classifier], {"serve": (serve, [tf.TensorSpec([None], tf.string, name="texts")])})
    return path


def export_portable(classifier, path, format, overwrite=False, fused_lstm=False):
    """Writes `classifier` as a LiteRT or ONNX file on token ids, its tokenizer beside it (`write_export`).

    Args:
        classifier: a `TextClassifier` with its vocabulary set, or a `ClassifierEnsemble` of
            members that share one vocabulary and one standardisation.
        path: the `.tflite` or `.onnx` file.
        format: `"tflite"` or `"onnx"`.
        overwrite: whether existing files may be replaced.
        fused_lstm: LiteRT: the standard LSTM layers as TFLite's fused kernel, which keeps its
            state between calls (`lstm_keras.conversion.write_portable`).

    Returns:
        The export's summary (`write_export`).

    Raises:
        ValueError: the classifier splits text with TensorFlow Text (`tokenizer="unicode_script"`,
            which the reference tokenizer does not reproduce), or an ensemble's members read
            text differently.
    """
    members = getattr(classifier, "members", [classifier])
    first = members[0]
    if first.tokenizer != "whitespace":
        raise ValueError(
            f"a classifier with tokenizer={first.tokenizer!r} exports as a SavedModel only (--format saved_model): "
            "--format tflite and onnx ship a plain-Python tokenizer, which reproduces the whitespace tokenizer alone"
        )
    for member in members[1:]:
        if member.vocabulary != first.vocabulary or member.standardizer.get_config() != first.standardizer.get_config():
            raise ValueError(
                "the members of this ensemble have vocabularies of their own: --format tflite and onnx take the "
                "token ids of one vocabulary; export it with --format saved_model (raw strings in)"
            )
    numeric = [keras.Model(m.get_layer("token_embedding").input, m.outputs[0]) for m in members]  # ids -> probabilities
    binary = classifier.head == "binary"

    def classify(token_ids):
        probabilities = tf.reduce_mean(tf.stack([model(token_ids, training=False) for model in numeric]), axis=0)
        if binary:
            probabilities = tf.concat([1.0 - probabilities, probabilities], axis=-1)  # (batch, 2)
        return {"probabilities": probabilities}  # (batch, C)

    batch = 1 if format == "tflite" else None
    function = tf.function(classify, input_signature=[tf.TensorSpec([batch, None], tf.int32, name="token_ids")])
    lengths = (1, max(1, first.max_length // 2), first.max_length)
    checks = [(ids,) for ids in random_token_ids(first.vocabulary_size, lengths, batch or 3)]
    tokenizer = ({"kind": "classifier", **first.standardizer.get_config()}, first.vocabulary)
    return write_export(path, format, {"classify": function}, {"classify": checks}, {"tokenizer": tokenizer},
                        {"task": "classify", "label_names": classifier.label_names}, overwrite,
                        fused_lstm=[v for model in numeric for v in model.variables] if fused_lstm else None)


def export_model_folder(directory, out, format, overwrite=False, fused_lstm=False):
    """Exports the classifier of a `classify train` folder as a SavedModel (`out` a folder) or a LiteRT / ONNX file.

    `fused_lstm` (LiteRT only): see `export_portable`.

    Returns:
        The summary: `{"format", "files"}` for a SavedModel, `export_portable`'s for the others.

    Raises:
        FileNotFoundError, ValueError: the folder is missing, incomplete, damaged or another
            command's (the message names it), or the format cannot express the model.
        FileExistsError: `out` exists and not `overwrite`.
    """
    def load():
        check_marker(directory, COMMAND)
        check_model_directory(directory, [MODEL_FILE], COMMAND)
        return load_keras_model(os.path.join(directory, MODEL_FILE))

    if fused_lstm and format != "tflite":
        raise ValueError(f"--fused-lstm is for --format tflite (TFLite's fused LSTM kernel), not {format}")
    return export_loaded(load, format, out, overwrite, export_saved_model,
                         functools.partial(export_portable, fused_lstm=fused_lstm))


def predict_saved_model(directory, texts, batch_size=PREDICT_BATCH_SIZE):
    """Classifies raw texts with the SavedModel of a `classify train` folder, as a server would.

    Args:
        directory: the `--out` folder of `classify train` (its `saved_model/` is loaded).
        texts: the texts (str or bytes).
        batch_size: texts per call of the serving signature.

    Returns:
        A list of `(label, probability)`, one per text.

    Raises:
        FileNotFoundError: the folder or its SavedModel is missing (the message names it).
    """
    import tensorflow_text  # noqa: F401  (registers the ops of a tokenizer="unicode_script" classifier)

    saved_model = os.path.join(directory, "saved_model")
    check_model_directory(directory, [os.path.join("saved_model", "saved_model.pb")], COMMAND)
    check_marker(directory, COMMAND)
    try:
        serve = tf.saved_model.load(saved_model).signatures[SIGNATURE_NAME]
        if "label" not in serve.structured_outputs:
            raise KeyError("label")
    except Exception as error:  # TensorFlow raises many kinds for a damaged or foreign SavedModel
        raise ValueError(
            f"{saved_model} is damaged or not a classifier's SavedModel ({type(error).__name__}: "
            f"{str(error)[:200]}): train it again with `lstm-keras {COMMAND}`"
        ) from error
    texts = list(texts)
    predictions = []
    for start in range(0, len(texts), batch_size):
        outputs = serve(texts=tf.constant(texts[start:start + batch_size], dtype=tf.string))
        predictions += [(label.decode("utf-8", "replace"), float(probability))
                        for label, probability in zip(outputs["label"].numpy(), outputs["probability"].numpy())]
    return predictions
