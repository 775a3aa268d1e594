"""Export of a `TextClassifier` or `ClassifierEnsemble`: the SavedModel served by TensorFlow alone, and the `.keras` round-trip.

Both are checked in a fresh Python process: the SavedModel in one that imports only
`tensorflow` (never `lstm_keras`), the `.keras` file in one that imports `lstm_keras` to load it.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from lstm_keras.models.classification.classifier_ensemble import ClassifierEnsemble
from lstm_keras.models.classification.export import export_saved_model
from lstm_keras.models.classification.text_classifier import TextClassifier

# Raw texts a server may receive, as bytes: ordinary, unseen words, empty, whitespace only,
# invalid UTF-8, very long.
TEXTS = [b"a good film", b"bad plot", b"zyxxy unseen words", b"", b"  \t ", b"\xff\xfe\x80 broken \xc3", b"good " * 3000]

SERVE_WITH_TENSORFLOW_ONLY = r"""
import json, sys
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
texts = [bytes.fromhex(t) for t in json.loads(sys.argv[2])]
outputs = serve(texts=tf.constant(texts, dtype=tf.string))
print(json.dumps({
    "lstm_keras_imported": any(name.startswith("lstm_keras") for name in sys.modules),
    "inputs": {name: (spec.dtype.name, spec.shape.as_list()) for name, spec in serve.structured_input_signature[1].items()},
    "probabilities": outputs["probabilities"].numpy().tolist(),
    "label_names": [[n.decode() for n in row] for row in outputs["label_names"].numpy()],
    "label": [n.decode() for n in outputs["label"].numpy()],
    "probability": outputs["probability"].numpy().tolist(),
}))
"""

LOAD_KERAS_FILE = r"""
import json, sys
import keras
import lstm_keras.models.classification  # registers the classes
classifier = keras.saving.load_model(sys.argv[1])
texts = [bytes.fromhex(t) for t in json.loads(sys.argv[2])]
print(json.dumps({
    "config": classifier.get_config(),
    "vocabulary": classifier.vocabulary,
    "probabilities": classifier.predict_proba(texts).tolist(),
    "optimizer": type(classifier.optimizer).__name__,
}))
"""


def run_python(code, *args):
    """Runs `code` in a fresh interpreter; returns the JSON lines it printed, parsed."""
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def classifier():
    keras.utils.set_random_seed(1)
    model = TextClassifier(
        ["negative", "positive"], vocabulary_size=30, embedding_dim=8, units=5, bidirectional=True, pooling="max",
        max_length=50,
    )
    model.adapt(["a good film", "a bad plot", "good good", "bad"])
    model.compile()
    model.train_on_batch(np.array(["a good film", "a bad plot"]), np.array([1, 0]))
    return model


def test_saved_model_serves_raw_strings_with_tensorflow_only(classifier, tmp_path):
    path = export_saved_model(classifier, str(tmp_path / "saved_model"))
    served, = run_python(SERVE_WITH_TENSORFLOW_ONLY, path, json.dumps([t.hex() for t in TEXTS]))
    assert not served["lstm_keras_imported"]
    assert served["inputs"] == {"texts": ["string", [None]]}
    expected = classifier.predict_proba(TEXTS)  # (7, 2)
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)
    assert served["label_names"] == [["negative", "positive"]] * len(TEXTS)
    assert served["label"] == [classifier.label_names[i] for i in expected.argmax(-1)]
    np.testing.assert_allclose(served["probability"], expected.max(-1), atol=1e-5)


def test_saved_model_answers_an_empty_batch(classifier, tmp_path):
    import tensorflow as tf

    path = export_saved_model(classifier, str(tmp_path / "saved_model"))
    outputs = tf.saved_model.load(path).signatures["serving_default"](texts=tf.constant([], tf.string))
    shapes = {name: tuple(value.shape) for name, value in outputs.items()}
    assert shapes == {"probabilities": (0, 2), "label_names": (0, 2), "label": (0,), "probability": (0,)}


def test_failed_export_leaves_previous_export_and_no_temporaries(classifier, tmp_path, monkeypatch):
    path = export_saved_model(classifier, str(tmp_path / "saved_model"))
    before = sorted(os.listdir(path))

    def write_half_then_fail(self, filepath, **kwargs):
        os.makedirs(filepath)
        open(os.path.join(filepath, "saved_model.pb"), "wb").write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(classifier, path)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(classifier, str(tmp_path / "other"))
    assert sorted(os.listdir(tmp_path)) == ["saved_model"]
    assert sorted(os.listdir(path)) == before and os.path.getsize(os.path.join(path, "saved_model.pb")) > 100


def test_keras_file_round_trips_in_a_fresh_process(classifier, tmp_path):
    path = str(tmp_path / "model.keras")
    classifier.save(path)
    loaded, = run_python(LOAD_KERAS_FILE, path, json.dumps([t.hex() for t in TEXTS]))
    assert loaded["config"] == classifier.get_config()
    assert loaded["vocabulary"] == classifier.vocabulary
    assert loaded["optimizer"] == "Adam"
    np.testing.assert_allclose(loaded["probabilities"], classifier.predict_proba(TEXTS), atol=1e-5)


LOAD_ENSEMBLE_FILE = r"""
import json, sys
import keras
import lstm_keras.models.classification  # registers the classes
ensemble = keras.saving.load_model(sys.argv[1])
texts = [bytes.fromhex(t) for t in json.loads(sys.argv[2])]
print(json.dumps({
    "class": type(ensemble).__name__,
    "config": ensemble.get_config(),
    "vocabularies": [member.vocabulary for member in ensemble.members],
    "probabilities": ensemble.predict_proba(texts).tolist(),
}))
"""


@pytest.fixture(scope="module")
def ensemble(classifier):
    keras.utils.set_random_seed(2)
    other = TextClassifier(["negative", "positive"], vocabulary_size=20, embedding_dim=4, units=3, pooling="attention")
    other.adapt(["a good film", "bad bad plot"])  # a vocabulary of its own
    return ClassifierEnsemble([classifier, other])


def test_ensemble_serves_the_mean_with_tensorflow_only_and_round_trips(ensemble, tmp_path):
    path = export_saved_model(ensemble, str(tmp_path / "saved_model"))
    keras_path = str(tmp_path / "ensemble.keras")
    ensemble.save(keras_path)
    # One fresh process: it serves the SavedModel with TensorFlow alone, then loads the `.keras` file.
    serve_then_load = SERVE_WITH_TENSORFLOW_ONLY + LOAD_ENSEMBLE_FILE.replace("sys.argv[1]", "sys.argv[3]")
    served, loaded = run_python(serve_then_load, path, json.dumps([t.hex() for t in TEXTS]), keras_path)
    assert not served["lstm_keras_imported"]
    expected = np.mean([member.predict_proba(TEXTS) for member in ensemble.members], axis=0)  # (7, 2)
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)
    assert served["label"] == [ensemble.label_names[i] for i in expected.argmax(-1)]
    assert loaded["class"] == "ClassifierEnsemble" and loaded["config"] == ensemble.get_config()
    assert loaded["vocabularies"] == [member.vocabulary for member in ensemble.members]
    np.testing.assert_allclose(loaded["probabilities"], expected, atol=1e-5)


def test_unicode_script_classifier_serves_with_tensorflow_and_tensorflow_text_only(tmp_path):
    keras.utils.set_random_seed(3)
    classifier = TextClassifier(["negative", "positive"], vocabulary_size=30, embedding_dim=4, units=3, max_length=40,
                                strip_punctuation=False, tokenizer="unicode_script")
    classifier.adapt(["a good film!", "a bad plot.", "jazz爵士"])
    classifier.compile()
    path = export_saved_model(classifier, str(tmp_path / "saved_model"))
    model_path = str(tmp_path / "model.keras")
    classifier.save(model_path)
    # One fresh process: it serves the SavedModel with TensorFlow (Text) alone, then loads the `.keras` file.
    serve_then_load = ("import tensorflow_text\n" + SERVE_WITH_TENSORFLOW_ONLY
                       + LOAD_KERAS_FILE.replace("sys.argv[1]", "sys.argv[3]"))
    served, loaded = run_python(serve_then_load, path, json.dumps([t.hex() for t in TEXTS]), model_path)
    assert not served["lstm_keras_imported"]
    np.testing.assert_allclose(served["probabilities"], classifier.predict_proba(TEXTS), atol=1e-5)
    assert loaded["config"]["tokenizer"] == "unicode_script" and loaded["vocabulary"] == classifier.vocabulary
    np.testing.assert_allclose(loaded["probabilities"], classifier.predict_proba(TEXTS), atol=1e-5)
