"""The SavedModels of every task, for every cell: served in a fresh Python that imports TensorFlow only.

The language model's `score` and `generate`, the classifier's `serving_default` and the translator's
`translate` (its decoder stepping the recurrent form of the cell, inside a beam search) give the
numbers they give in process, and `lstm_keras` is never imported where they are served.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from lstm_keras.models.classification import TextClassifier
from lstm_keras.models.classification import export_saved_model as export_classifier
from lstm_keras.models.language_modeling import LanguageModel
from lstm_keras.models.language_modeling import LanguageModelModule
from lstm_keras.models.language_modeling import export_saved_model as export_language_model
from lstm_keras.models.translation import TranslationModule
from lstm_keras.models.translation import Translator
from lstm_keras.models.translation import export_saved_model as export_translator
from lstm_keras.text import Tokenizer

SENTENCES = ["the dog runs", "a cat sat on the mat", "", "zzz"]
PAIRS = [("hola mundo", "hello world"), ("el gato negro", "the black cat"), ("la casa", "the house")]
REVIEWS = ["a good film", "a bad plot", "good good", "bad"]

SERVE = r"""
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401 (registers the Text ops)
folder = sys.argv[1]
sentences = json.loads(sys.argv[2])
lm = tf.saved_model.load(folder + "/lm")
scored = lm.signatures["score"](sentences=tf.constant(sentences))
generated = lm.signatures["generate"](prompts=tf.constant(sentences), num_tokens=tf.constant(6),
                                      temperature=tf.constant(1.0))
classifier = tf.saved_model.load(folder + "/classifier").signatures["serving_default"]
translator = tf.saved_model.load(folder + "/translator").signatures["translate"]
print(json.dumps({
    "log_probabilities": scored["log_probabilities"].numpy().tolist(),
    "generated": [t.decode() for t in generated["texts"].numpy()],
    "probabilities": classifier(texts=tf.constant(sentences))["probabilities"].numpy().tolist(),
    "translations": [t.decode() for t in translator(texts=tf.constant(sentences))["translations"].numpy()],
    "lstm_keras_imported": any(name.startswith("lstm_keras") for name in sys.modules),
}))
"""


@pytest.mark.parametrize(
    "cell",
    # With --large (about a minute each): the default suite's lm and classify CLI runs export a cell's SavedModels.
    [pytest.param(cell, marks=pytest.mark.large) for cell in ("xlstm[1:1]", "mlstm", "slstm", "minlstm", "mingru")],
)
def test_every_task_exports_and_serves_without_lstm_keras(cell, tmp_path):
    keras.utils.set_random_seed(0)
    tokenizer = Tokenizer.from_texts(SENTENCES + REVIEWS)
    lm = LanguageModelModule(
        LanguageModel(tokenizer.vocab_size, embedding_dim=8, units=8, num_layers=2, cell=cell, batch_size=2),
        tokenizer, sampler="greedy", max_prompt_length=8, max_new_tokens=8,
    )
    export_language_model(lm, str(tmp_path / "lm"))
    classifier = TextClassifier(["negative", "positive"], vocabulary_size=30, embedding_dim=8, units=4,
                                bidirectional=True, pooling="max", cell=cell)
    classifier.adapt(REVIEWS)
    export_classifier(classifier, str(tmp_path / "classifier"))
    source, target = (Tokenizer.from_texts([pair[i] for pair in PAIRS]) for i in (0, 1))
    translator = TranslationModule(
        Translator(source.vocab_size, target.vocab_size, embedding_dim=4, units=4, cell=cell, dropout=0.0,
                   max_length_offset=3),
        source, target, sampler={"class_name": "BeamSampler", "config": {"num_beams": 2}},
    )
    export_translator(translator, str(tmp_path / "translator"))

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", SERVE, str(tmp_path), json.dumps(SENTENCES)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])
    assert not served["lstm_keras_imported"]
    np.testing.assert_allclose(served["log_probabilities"], [lp for lp, _ in lm.score_texts(SENTENCES)], rtol=1e-4)
    assert served["generated"] == list(lm.generate_texts(SENTENCES, num_tokens=6))  # greedy: deterministic
    np.testing.assert_allclose(served["probabilities"], classifier.predict_proba(SENTENCES), atol=1e-5)
    assert served["translations"] == list(translator(SENTENCES))
