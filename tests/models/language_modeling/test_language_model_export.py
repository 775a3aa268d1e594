"""Language-model export: the SavedModel's `generate`, `score`, `tokenize` and `stream` signatures served without
`lstm_keras`, and streaming inference chunk by chunk against the whole text."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from task_checks import ExportCheck
from task_checks import check_task
from lstm_keras.datasets.tiny_corpus import generate_tiny_corpus
from lstm_keras.models.language_model import MAX_GENERATED_TOKENS
from lstm_keras.models.language_modeling import LanguageModel
from lstm_keras.models.language_modeling.export import LanguageModelModule
from lstm_keras.models.language_modeling.export import export_saved_model
from lstm_keras.models.language_modeling.export import load_language_model
from lstm_keras.models.language_modeling.export import save_language_model
from lstm_keras.text import Tokenizer

SENTENCES = ["the dogs run .", "the dogs runs .", "", "zzz qqq", "the \udcff cat", "café"]
PROMPTS = ["the dog", "", "zzz qqq", "every " * 400]


@pytest.fixture(scope="module", params=["full", "adaptive"])
def exported(tmp_path_factory, request):
    folder = tmp_path_factory.mktemp("lm")
    keras.utils.set_random_seed(0)
    tokenizer = Tokenizer.from_texts(generate_tiny_corpus(200))  # 109 tokens
    softmax = {"softmax": "adaptive", "cutoffs": [20, 60]} if request.param == "adaptive" else {}
    model = LanguageModel(tokenizer.vocab_size, embedding_dim=8, units=8, num_layers=1, tie_weights=True,
                          batch_size=4, **softmax)
    module = LanguageModelModule(model, tokenizer, sampler="top_p", max_prompt_length=16, max_new_tokens=40)
    export_saved_model(module, str(folder / "saved_model"))
    save_language_model(str(folder), module)
    return {"folder": folder, "module": module}


def run_served(folder, script):
    """Runs `script` in a fresh Python that imports only tensorflow and tensorflow_text; returns its JSON."""
    code = textwrap.dedent(
        f"""
        import json, sys
        import tensorflow as tf
        import tensorflow_text  # noqa: F401 (registers the Text ops)
        loaded = tf.saved_model.load({str(folder / "saved_model")!r})
        generate, score = loaded.signatures["generate"], loaded.signatures["score"]
        result = {{}}
        """
    ) + textwrap.dedent(script) + textwrap.dedent(
        """
        result["modules"] = sorted(m for m in sys.modules if m.split(".")[0] == "lstm_keras")
        print(json.dumps(result))
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240, env=env,
                          cwd=str(folder))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_signatures_served_without_lstm_keras(exported):
    module = exported["module"]
    script = f"""
    texts = {[s.encode("utf-8", "surrogateescape").decode("latin-1") for s in SENTENCES]!r}
    sentences = tf.constant([t.encode("latin-1") for t in texts])
    out = score(sentences=sentences)
    result["log_probabilities"] = out["log_probabilities"].numpy().tolist()
    result["num_tokens"] = out["num_tokens"].numpy().tolist()
    out = generate(prompts=tf.constant({PROMPTS!r}), num_tokens=tf.constant(12), temperature=tf.constant(0.8))
    result["texts"] = [t.decode("utf-8") for t in out["texts"].numpy()]
    result["errors"] = []
    for n, t in ((0, 1.0), (41, 1.0), (5, 0.0), (5, -2.0), (5, float("inf"))):
        try:
            generate(prompts=tf.constant(["the"]), num_tokens=tf.constant(n), temperature=tf.constant(t))
            result["errors"].append(None)
        except tf.errors.InvalidArgumentError as error:
            result["errors"].append(error.message)
    """
    served = run_served(exported["folder"], script)
    assert served["modules"] == []  # lstm_keras was never imported
    # The same numbers as in process.
    expected = module.score_texts([s.encode("utf-8", "surrogateescape") for s in SENTENCES])
    np.testing.assert_allclose(served["log_probabilities"], [lp for lp, _ in expected], rtol=1e-5)
    assert served["num_tokens"] == [n for _, n in expected]
    assert served["num_tokens"][:4] == [5, 5, 1, 3]  # [END] is scored; an empty sentence is [END] alone
    assert all(lp < 0 for lp in served["log_probabilities"])
    # Every prompt gets a continuation: empty, unknown words only, longer than max_prompt_length.
    assert len(served["texts"]) == 4 and all(isinstance(t, str) for t in served["texts"])
    assert all(len(t.split()) <= 12 for t in served["texts"])
    errors = served["errors"]
    assert "num_tokens" in errors[0] and "num_tokens" in errors[1]
    assert all(e is not None and "temperature" in e for e in errors[2:])


def read_in_chunks(model, token_ids, bounds, flat=False):
    """Log-probabilities of `token_ids` read by `model.stream` chunk by chunk (`bounds`: the chunks' ends)."""
    state, parts, start = (np.zeros((len(token_ids), model.flat_state_size()), "float32") if flat else None), [], 0
    for end in bounds:
        log_probs, state = model.stream(token_ids[:, start:end], state)
        state = model.flatten_state(state) if flat else state
        parts.append(keras.ops.convert_to_numpy(log_probs))
        start = end
    return np.concatenate(parts, axis=1)


@pytest.mark.parametrize("cell", ["lstm", "xlstm[1:1]"])
def test_stream_chunk_by_chunk_equals_the_whole_text(cell):
    keras.utils.set_random_seed(1)
    model = LanguageModel(50, embedding_dim=8, units=8, num_layers=2, cell=cell)
    token_ids = np.random.default_rng(0).integers(3, 50, size=(2, 11)).astype("int32")
    whole = keras.ops.convert_to_numpy(model.stream(token_ids)[0])  # (2, 11, 50)
    assert whole.shape == (2, 11, 50)
    np.testing.assert_allclose(np.exp(whole).sum(-1), 1.0, atol=1e-5)
    for flat in (False, True):
        np.testing.assert_allclose(read_in_chunks(model, token_ids, [3, 4, 11], flat), whole, atol=1e-5)
    # A row whose chunk ends early (right-padded with 0) keeps its state: its next chunk goes on from there.
    padded = token_ids[:, :4].copy()
    padded[1, 2:] = 0
    _, state = model.stream(padded)
    rest = np.stack([token_ids[0, 4:8], token_ids[1, 2:6]])
    log_probs = keras.ops.convert_to_numpy(model.stream(rest, state)[0])
    np.testing.assert_allclose(log_probs[0], whole[0, 4:8], atol=1e-5)
    np.testing.assert_allclose(log_probs[1], whole[1, 2:6], atol=1e-5)


def test_stream_and_tokenize_served_without_lstm_keras(exported):
    model, module = exported["module"].model, exported["module"]
    token_ids = module.token_ids(tf.constant(["the dogs run . the cat sat .", "the cat"])).numpy()  # (2, 8)
    script = f"""
    stream, tokenize = loaded.signatures["stream"], loaded.signatures["tokenize"]
    ids = tokenize(texts=tf.constant(["the dogs run . the cat sat .", "the cat"]))["token_ids"]
    result["token_ids"] = ids.numpy().tolist()
    state, parts = tf.zeros((2, {model.flat_state_size()})), []
    for start, end in ((0, 3), (3, 8)):
        out = stream(token_ids=ids[:, start:end], state=state)
        state = out["state"]
        parts.append(out["log_probabilities"].numpy().tolist())
    result["parts"] = parts
    """
    served = run_served(exported["folder"], script)
    assert served["modules"] == []
    assert served["token_ids"] == token_ids.tolist()
    whole = keras.ops.convert_to_numpy(model.stream(token_ids)[0])  # (2, 8, V)
    served_log_probs = np.concatenate([np.array(p) for p in served["parts"]], axis=1)  # (2, 8, V)
    real = token_ids != 0  # the padded steps of "the cat" carry no prediction
    assert real.sum() == 10
    np.testing.assert_allclose(served_log_probs[real], whole[real], atol=1e-5)


def test_in_process_module_and_model_folder(exported):
    module = exported["module"]
    loaded = load_language_model(str(exported["folder"]))
    assert loaded.sampler.__class__.__name__ == "TopPSampler" and loaded.max_new_tokens == 40
    np.testing.assert_allclose(
        [lp for lp, _ in loaded.score_texts(SENTENCES[:4])], [lp for lp, _ in module.score_texts(SENTENCES[:4])],
        rtol=1e-6,
    )
    greedy = load_language_model(str(exported["folder"]), sampler="greedy")
    first, second = greedy.generate_texts(PROMPTS, 10), greedy.generate_texts(PROMPTS, 10)
    assert first == second and len(first) == 4
    for bad in ({"num_tokens": 0}, {"num_tokens": 41}, {"temperature": 0.0}, {"temperature": -1.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            greedy.generate_texts(["the"], **{"num_tokens": 5, **bad})
    os.remove(exported["folder"] / "vocabulary.txt")
    with pytest.raises(FileNotFoundError, match="vocabulary.txt"):
        load_language_model(str(exported["folder"]))
    with pytest.raises(ValueError, match="max_new_tokens"):
        LanguageModelModule(module.model, module.tokenizer, max_new_tokens=MAX_GENERATED_TOKENS + 1)
    assert tf.saved_model.contains_saved_model(str(exported["folder"] / "saved_model"))


LOAD_IMPORTS = """
from lstm_keras.models.language_modeling.export import load_language_model
"""
LOAD_AND_SCORE = """
outputs = [list(pair) for pair in load_language_model(path).score_texts(inputs)]
"""


def test_task_checks(tmp_path):
    tokenizer = Tokenizer.from_texts(["the dog runs .", "the cat sat .", "a dog sat"])
    ids = np.array([[2, 4, 5, 6, 7], [2, 4, 8, 9, 7]], "int32")  # [END] then a sentence
    next_ids = np.concatenate([ids[:, 1:], np.full((2, 1), 2, "int32")], axis=1)
    sentences = SENTENCES[:4] + ["the cat runs"]

    def save(model, directory):
        save_language_model(directory, LanguageModelModule(model, tokenizer, sampler="greedy"))
        return directory

    check_task(
        lambda: LanguageModel(tokenizer.vocab_size, embedding_dim=4, units=4, num_layers=1, embedding_dropout=0.0,
                              dropout=0.0, output_dropout=0.0),
        (ids, next_ids),
        tmp_path,
        predict=lambda model: {
            "logits": keras.ops.convert_to_numpy(model(ids)),
            "log_probabilities": keras.ops.convert_to_numpy(model.score(ids[:, 1:])[0]),
        },
        compile_kwargs={"learning_rate": 1.0, "run_eagerly": True},
        export=ExportCheck(
            save, LOAD_AND_SCORE, sentences,
            expected=lambda model: LanguageModelModule(model, tokenizer).score_texts(sentences),
            imports=LOAD_IMPORTS,
        ),
    )
