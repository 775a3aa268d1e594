"""Text-to-text translation: the SavedModel signature (served without lstm_keras) and the model folder."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_text")
if keras.backend.backend() != "tensorflow":
    pytest.skip("SavedModel export needs the TensorFlow backend", allow_module_level=True)

from lstm_keras import decoding  # noqa: E402
from lstm_keras.models.translation import Translator  # noqa: E402
from lstm_keras.models.translation import export as translation_export  # noqa: E402
from lstm_keras.models.translation.export import TranslationModule  # noqa: E402
from lstm_keras.text import Tokenizer  # noqa: E402

PAIRS = [
    ("hola mundo", "hello world"),
    ("adios amigo", "goodbye friend"),
    ("buenos dias", "good morning"),
    ("el gato negro", "the black cat"),
    ("la casa grande", "the big house"),
]
MAX_SOURCE_LENGTH = 6
# Good and bad inputs: empty, whitespace only, unknown words and scripts, longer than the
# maximum length (truncated), bytes that are not UTF-8.
TEXTS = [
    "hola mundo",
    "",
    "   \t ",
    "日本語 текст ☃ 🙂 ¿qué?",
    "el gato " * 100,
    "adios amigo",
    b"\xff\xfe hola \xc3",
]

# Runs in a fresh interpreter that imports only TensorFlow and TensorFlow Text.
SERVE = """
import base64, json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401 (registers the Text ops)
assert not any(name.startswith("lstm_keras") for name in sys.modules)
texts = [base64.b64decode(t) for t in json.loads(sys.argv[2])]
loaded = tf.saved_model.load(sys.argv[1])
signature = loaded.signatures["translate"]
outputs = signature(texts=tf.constant(texts, tf.string))
empty = loaded.translate(tf.constant([], tf.string))["translations"]
print(json.dumps({
    "translations": [base64.b64encode(t).decode() for t in outputs["translations"].numpy()],
    "inputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in signature.structured_input_signature[1].items()},
    "outputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in signature.structured_outputs.items()},
    "empty": list(empty.shape),
}))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    keras.utils.set_random_seed(1)
    source = Tokenizer.from_texts([s for s, _ in PAIRS])
    target = Tokenizer.from_texts([t for _, t in PAIRS])
    model = Translator(source.vocab_size, target.vocab_size, embedding_dim=4, units=4, dropout=0.0,
                       max_length_offset=3)
    module = TranslationModule(model, source, target, sampler={"class_name": "BeamSampler", "config": {"num_beams": 2}},
                               max_source_length=MAX_SOURCE_LENGTH)
    directory = str(tmp_path_factory.mktemp("translator"))
    translation_export.save_translation_model(directory, module)
    translation_export.export_saved_model(module, os.path.join(directory, "saved_model"))
    return module, directory


def _encode(texts):
    import base64

    return [base64.b64encode(t if isinstance(t, bytes) else t.encode()).decode() for t in texts]


def test_saved_model_serves_without_lstm_keras(exported):
    module, directory = exported
    expected = module.translate(tf.constant(TEXTS, tf.string))["translations"].numpy().tolist()
    assert len(expected) == len(TEXTS)
    assert any(expected)  # a random model still writes something: the comparison means something
    result = subprocess.run(
        [sys.executable, "-c", SERVE, os.path.join(directory, "saved_model"), json.dumps(_encode(TEXTS))],
        capture_output=True, text=True, timeout=240,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["translations"] == _encode(expected)
    assert served["inputs"] == {"texts": ["string", [None]]}
    assert served["outputs"] == {"translations": ["string", [None]]}
    assert served["empty"] == [0]


def test_call_translates_in_batches_as_the_signature_does(exported):
    module, _ = exported
    texts = tf.constant(TEXTS, tf.string)
    expected = [t.decode("utf-8") for t in module.translate(texts)["translations"].numpy()]
    assert module(TEXTS, batch_size=2) == expected == module(TEXTS)
    assert module([]) == []
    # `translate` decodes without recording attention; `generate` (for plots) gives the same ids.
    generated = module.target_tokenizer.detokenize(module.generate(texts)["target_ids"]).numpy()
    assert [t.decode("utf-8") for t in generated] == expected


def test_the_coverage_penalty_is_served_and_saved(exported, tmp_path):
    module, _ = exported
    sampler = decoding.get("beam", num_beams=3, coverage_penalty=0.5)
    covering = TranslationModule(module.translator, module.source_tokenizer, module.target_tokenizer,
                                 sampler=sampler, max_source_length=MAX_SOURCE_LENGTH)
    texts = tf.constant(TEXTS, tf.string)
    # `translate` asks for no attention, but the penalty needs it: both entry points decode alike.
    expected = [t.decode("utf-8") for t in covering.translate(texts)["translations"].numpy()]
    generated = covering.target_tokenizer.detokenize(covering.generate(texts)["target_ids"]).numpy()
    assert [t.decode("utf-8") for t in generated] == expected
    path = str(tmp_path / "covering")
    translation_export.export_saved_model(covering, path)
    served = tf.saved_model.load(path).signatures["translate"](texts=texts)["translations"].numpy()
    assert [t.decode("utf-8") for t in served] == expected
    translation_export.save_translation_model(str(tmp_path / "folder"), covering)
    reloaded = translation_export.load_translation_model(str(tmp_path / "folder"))
    assert reloaded.sampler.get_config() == sampler.get_config()


def test_keras_model_folder_round_trip(exported):
    module, directory = exported
    assert sorted(os.listdir(directory)) == sorted(list(translation_export.MODEL_FILES) + ["saved_model"])
    reloaded = translation_export.load_translation_model(directory)
    assert reloaded.get_config() == module.get_config()
    assert reloaded.source_tokenizer.vocabulary == module.source_tokenizer.vocabulary
    assert reloaded.target_tokenizer.vocabulary == module.target_tokenizer.vocabulary
    for original, loaded in zip(module.translator.weights, reloaded.translator.weights):
        np.testing.assert_array_equal(np.asarray(original), np.asarray(loaded))
    # Same weights, vocabularies and settings: the same graph (`translate run` checks the translations).


def test_long_inputs_are_truncated_and_bad_inputs_encoded(exported):
    module, _ = exported
    long_text = "el gato " * 100
    ids = module.source_ids(tf.constant([long_text, "el gato el gato", "", "\xff"])).numpy()
    assert ids.shape == (4, MAX_SOURCE_LENGTH)
    np.testing.assert_array_equal(ids[0], ids[1])  # the first MAX_SOURCE_LENGTH - 2 tokens only
    assert ids[0, 0] == 1 and ids[0, -1] == 2  # [START] ... [END] kept
    assert ids[2].tolist()[:2] == [1, 2] and ids[3].tolist()[:3] == [1, 3, 2]  # empty; unknown -> [UNK]
    empty = module.translate(tf.constant([], tf.string))["translations"]
    assert tuple(empty.shape) == (0,)


def test_texts_without_known_words_translate_to_nothing_and_the_guard_is_served(exported, tmp_path):
    module, _ = exported
    # A model that says "hello" to everything: its logits favour that word far above [END].
    translator = Translator.from_config(module.translator.get_config())
    translator.build_from_config(module.translator.get_build_config())
    bias = translator.decoder.output_projection.bias
    hello = module.target_tokenizer.vocabulary.index("hello")
    bias.assign(np.where(np.arange(bias.shape[0]) == hello, 50.0, -50.0))
    talker = TranslationModule(translator, module.source_tokenizer, module.target_tokenizer, sampler="greedy",
                               max_source_length=MAX_SOURCE_LENGTH)
    texts = ["", "   \t ", "hola mundo", "日本語", "hola 日本語"]
    raw_ids, _ = translator.decode(talker.source_ids(tf.constant(texts)), talker.sampler)
    assert np.all(np.asarray(raw_ids)[:, 0] == hello)  # the model alone makes up "hello ..." for ""

    target_ids = talker.generate(tf.constant(texts))["target_ids"].numpy()
    only_end = [2] + [0] * (target_ids.shape[1] - 1)
    assert target_ids[0].tolist() == target_ids[1].tolist() == target_ids[3].tolist() == only_end  # [END]
    translations = talker(texts)
    assert translations[0] == translations[1] == translations[3] == ""  # no known word: nothing to translate
    assert translations[2].startswith("hello hello") and translations[4].startswith("hello hello")
    # The repetition guard, in the module and in its SavedModel: "hello" once, then the next best words.
    guarded = TranslationModule(translator, module.source_tokenizer, module.target_tokenizer,
                                sampler=decoding.get("greedy", no_repeat_ngram_size=1),
                                max_source_length=MAX_SOURCE_LENGTH)
    path = str(tmp_path / "guarded")
    translation_export.export_saved_model(guarded, path)
    for translate in (guarded, lambda texts: [t.decode() for t in tf.saved_model.load(path).signatures["translate"](
            texts=tf.constant(texts))["translations"].numpy()]):
        words = translate(["hola mundo"])[0].split()
        assert words[0] == "hello" and len(words) == len(set(words)) > 1, words
    (_, target, weights), = talker.attention_tokens([""])
    assert target == ["[END]"] and weights.shape == (1, 2)


def test_attention_tokens_for_plots(exported):
    module, _ = exported
    (source, target, weights), = module.attention_tokens(["hola mundo"])
    assert source == ["[START]", "hola", "mundo", "[END]"]
    assert weights.shape == (len(target), len(source))
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)


def test_incomplete_model_folder_names_the_missing_file(exported, tmp_path):
    _, directory = exported
    for name in translation_export.MODEL_FILES:
        os.makedirs(tmp_path / name.split(".")[0])
        partial = tmp_path / name.split(".")[0]
        for other in translation_export.MODEL_FILES:
            if other != name:
                with open(os.path.join(directory, other), "rb") as f, open(partial / other, "wb") as g:
                    g.write(f.read())
        with pytest.raises(FileNotFoundError, match=name):
            translation_export.load_translation_model(str(partial))
    with pytest.raises(FileNotFoundError, match="not found"):
        translation_export.load_translation_model(str(tmp_path / "nowhere"))


def test_invalid_max_source_length(exported):
    module, _ = exported
    with pytest.raises(ValueError, match="max_source_length"):
        TranslationModule(module.translator, module.source_tokenizer, module.target_tokenizer, max_source_length=2)
