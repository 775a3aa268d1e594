"""`lstm-keras <task> export`: SavedModel, LiteRT and ONNX files of trained models, and their refusals.

The LiteRT and ONNX files are run in a fresh Python process that imports only their runtime
(`ai_edge_litert` or `onnxruntime`), NumPy and the reference tokenizer written beside them, never
TensorFlow, on raw texts; their outputs must equal the Keras model's on the same texts.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from cli_runner import run_cli
from lstm_keras.saving import load_keras_model

TINY = ["--epochs", "1", "--units", "4", "--embedding-dim", "8", "--vocab-size", "40", "--batch-size", "8"]
TEXTS = ["the film was good", "The PLOT was bad!", "unseen words only", "", b"good \xff bytes", "good " * 300]

# The start of every script below: the exported file's path, its format and a text (or a JSON
# list of hex-encoded texts); the reference tokenizer and the settings written beside the file.
LOAD_EXPORT = r"""
import importlib.util, json, sys
import numpy as np
path, format, text = sys.argv[1], sys.argv[2], sys.argv[3]
root = path.rsplit(".", 1)[0]
spec = importlib.util.spec_from_file_location("tokenizer", root + "_tokenizer.py")
tokenizer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tokenizer)
settings = json.load(open(root + "_export.json"))
"""

# Raw texts to class probabilities with the runtime alone: the tokenizer shipped beside the file
# gives the ids, the file the probabilities.
CLASSIFY_WITHOUT_TENSORFLOW = LOAD_EXPORT + r"""
texts = [bytes.fromhex(t) for t in json.loads(text)]
reference = tokenizer.ReferenceTokenizer.from_file(root + "_export.json")
rows = []
if format == "tflite":
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=path)
    classify = interpreter.get_signature_runner("classify")
    for text in texts:
        ids = np.array([reference.token_ids(text)], dtype=np.int32)
        rows.append(classify(token_ids=ids)["probabilities"][0].tolist())
        if "fused_lstm" in settings:  # the fused kernel would start the next call from this one's state
            interpreter.reset_all_variables()
else:
    import onnxruntime
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    ids = [reference.token_ids(text) for text in texts]
    batch = np.zeros((len(ids), max(map(len, ids))), dtype=np.int32)
    for row, values in zip(batch, ids):
        row[:len(values)] = values
    rows = session.run(["probabilities"], {"token_ids": batch})[0].tolist()
print(json.dumps({"tensorflow_imported": "tensorflow" in sys.modules, "probabilities": rows}))
"""


def write_tsv(path, rows):
    path.write_text("".join(f"{label}\t{text}\n" for label, text in rows), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def classifier_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classify")
    rng = np.random.default_rng(0)
    rows = [(label, f"the {rng.choice(['film', 'plot'])} was {'good' if label == 'pos' else 'bad'}")
            for label in ["pos", "neg", "mid"] * 12]
    out = str(folder / "run")
    code, _, stderr = run_cli(["classify", "train", "--dataset", write_tsv(folder / "train.tsv", rows), "--test", "0.2",
                               "--bidirectional", "--pooling", "max", "--bigram-buckets", "64", "--max-length", "12", "--seed", "0", *TINY,
                               "--out", out])
    assert code == 0, stderr
    return out


def run_without_tensorflow(script, *arguments):
    done = subprocess.run([sys.executable, "-c", script, *arguments], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("format", ["tflite", "onnx"])
def test_classifier_file_serves_raw_text_without_tensorflow(classifier_folder, tmp_path, format):
    code, stdout, stderr = run_cli(["classify", "export", "--model", classifier_folder, "--format", format,
                                    "--out", str(tmp_path / "model")])
    assert code == 0, stderr
    summary = json.loads(stdout)
    path = str(tmp_path / f"model.{format}")
    assert sorted(summary["files"]) == sorted([path, *(str(tmp_path / f"model_{n}") for n in
                                                       ("vocabulary.txt", "tokenizer.py", "export.json"))])
    assert summary["signatures"]["classify"]["file"] == f"model.{format}"
    assert summary["max_abs_difference"] <= 1e-4
    batch = 1 if format == "tflite" else "?"
    assert summary["signatures"]["classify"]["inputs"] == {"token_ids": f"int32 [{batch}, ?]"}
    assert summary["label_names"] == ["mid", "neg", "pos"]
    if format == "onnx":  # the bidirectional LSTM as ONNX's own LSTM op (tf2onnx's rewriter)
        import onnx

        kinds = {node.op_type for node in onnx.load(path).graph.node}
        assert "LSTM" in kinds and "Loop" not in kinds
    served = run_without_tensorflow(CLASSIFY_WITHOUT_TENSORFLOW, path, format,
                                    json.dumps([t.hex() if isinstance(t, bytes) else t.encode().hex() for t in TEXTS]))
    assert served["tensorflow_imported"] is False
    classifier = load_keras_model(os.path.join(classifier_folder, "model.keras"))
    expected = classifier.predict_proba(TEXTS)  # (n, C), from raw text through TensorFlow's string ops
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-4)
    assert np.ptp(expected, axis=0).max() > 1e-3  # the texts are not all classified alike


def test_a_fused_lstm_file_serves_every_text_from_a_reset_interpreter(classifier_folder, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    path = str(tmp_path / "model.tflite")
    code, stdout, stderr = run_cli(["classify", "export", "--model", classifier_folder, "--format", "tflite",
                                    "--fused-lstm", "--out", path])
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert "reset_all_variables()" in summary["fused_lstm"] and summary["max_abs_difference"] <= 1e-4
    kinds = [op["op_name"] for op in Interpreter(model_path=path)._get_ops_details()]
    assert kinds.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 2 and "WHILE" not in kinds  # a direction each
    texts = TEXTS + TEXTS[::-1]  # each text after another than before
    served = run_without_tensorflow(CLASSIFY_WITHOUT_TENSORFLOW, path, "tflite",
                                    json.dumps([t.hex() if isinstance(t, bytes) else t.encode().hex() for t in texts]))
    classifier = load_keras_model(os.path.join(classifier_folder, "model.keras"))
    np.testing.assert_allclose(served["probabilities"], classifier.predict_proba(texts), atol=1e-4)
    # Without the reset, the second call starts from the first's state: what the note warns of.
    interpreter = Interpreter(model_path=path)
    classify = interpreter.get_signature_runner("classify")
    ids = np.array([[5, 6, 7]], "int32")
    first, again = (classify(token_ids=ids)["probabilities"] for _ in range(2))
    assert np.abs(first - again).max() > 1e-6
    code, stdout, stderr = run_cli(["classify", "export", "--model", classifier_folder, "--format", "onnx",
                                    "--fused-lstm", "--out", str(tmp_path / "model.onnx")])
    assert code == 2 and "--fused-lstm is for --format tflite" in stderr


def test_classifier_saved_model_export(classifier_folder, tmp_path):
    out = str(tmp_path / "served")
    code, stdout, stderr = run_cli(["classify", "export", "--model", classifier_folder, "--format", "saved_model",
                                    "--out", out])
    assert code == 0, stderr
    assert json.loads(stdout) == {"format": "saved_model", "files": [out]}
    serve = tf.saved_model.load(out).signatures["serving_default"]
    classifier = load_keras_model(os.path.join(classifier_folder, "model.keras"))
    texts = [t if isinstance(t, bytes) else t.encode() for t in TEXTS]
    np.testing.assert_allclose(serve(texts=tf.constant(texts))["probabilities"].numpy(),
                               classifier.predict_proba(TEXTS), atol=1e-6)


def test_existing_files_are_refused_unless_overwrite(classifier_folder, tmp_path):
    command = ["classify", "export", "--model", classifier_folder, "--format", "tflite", "--out", str(tmp_path / "m")]
    assert run_cli(command)[0] == 0
    os.remove(tmp_path / "m.tflite")  # one companion left is enough to refuse
    code, _, stderr = run_cli(command)
    assert code == 2 and f"{tmp_path / 'm_export.json'} exists" in stderr and "--overwrite" in stderr
    assert not os.path.exists(tmp_path / "m.tflite")  # refused before anything was written
    code, _, stderr = run_cli([*command, "--overwrite"])
    assert code == 0, stderr
    assert os.path.getsize(tmp_path / "m.tflite") > 0


@pytest.mark.parametrize("arguments, message", [
    (["--format", "coreml"], "invalid choice: 'coreml'"),
    (["--format", "onnx", "--out", "model.tflite"], "does not end in .onnx"),
])
def test_bad_formats_and_suffixes(classifier_folder, tmp_path, arguments, message):
    argv = ["classify", "export", "--model", classifier_folder, "--out", str(tmp_path / "model"), *arguments]
    argv = [str(tmp_path / a) if a.startswith("model.") else a for a in argv]
    code, _, stderr = run_cli(argv)
    assert code == 2 and message in stderr, stderr


def test_a_missing_package_is_named(classifier_folder, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # as if it were not installed
    code, _, stderr = run_cli(["classify", "export", "--model", classifier_folder, "--format", "onnx",
                               "--out", str(tmp_path / "m")])
    assert code == 2
    assert "--format onnx needs tf2onnx: pip install tf2onnx" in stderr and "lstm_keras[export]" in stderr
    assert os.listdir(tmp_path) == []


def test_a_folder_of_another_task_is_refused(classifier_folder, tmp_path):
    code, _, stderr = run_cli(["lm", "export", "--model", classifier_folder, "--format", "tflite",
                               "--out", str(tmp_path / "m")])
    assert code == 2 and "not of `lstm-keras lm train`" in stderr, stderr


# A text read token by token (LiteRT) or as one chunk (ONNX) after `[END]`, the state carried.
STREAM_WITHOUT_TENSORFLOW = LOAD_EXPORT + r"""
ids = [settings["context_start_id"]] + tokenizer.ReferenceTokenizer.from_file(root + "_export.json").token_ids(text)
state = np.zeros((1, settings["state_size"]), np.float32)
if format == "tflite":
    from ai_edge_litert.interpreter import Interpreter
    stream = Interpreter(model_path=path).get_signature_runner("stream")
    rows = []
    for token in ids:
        outputs = stream(token_ids=np.array([[token]], np.int32), state=state)
        rows.append(outputs["log_probabilities"][0, 0].tolist())
        state = outputs["next_state"]
else:
    import onnxruntime
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    rows = session.run(["log_probabilities"], {"token_ids": np.array([ids], np.int32), "state": state})[0][0].tolist()
print(json.dumps({"tensorflow_imported": "tensorflow" in sys.modules, "ids": ids, "log_probabilities": rows}))
"""


# The other cells are converted for any length in tests/test_conversion.py; a whole mLSTM language model, --large.
@pytest.fixture(scope="module", params=["lstm", pytest.param("mlstm", marks=pytest.mark.large)])
def lm_folder(request, tmp_path_factory):
    from lstm_keras.datasets.tiny_corpus import generate_tiny_corpus

    folder = tmp_path_factory.mktemp("lm")
    corpus = folder / "corpus.txt"
    corpus.write_text("".join(s + "\n" for s in generate_tiny_corpus(60, seed=3)), encoding="utf-8")
    out = str(folder / "run")
    code, _, stderr = run_cli(["lm", "train", "--dataset", str(corpus), "--cell", request.param,
                               "--softmax", "adaptive",
                               "--cutoffs", "20,60", "--units", "8", "--layers", "2", "--epochs", "1", "--bptt", "6",
                               "--batch-size", "4", "--seed", "1", "--out", out])
    assert code == 0, stderr[-3000:]
    return out


@pytest.mark.parametrize("format", ["tflite", "onnx"])
def test_language_model_step_streams_without_tensorflow(lm_folder, tmp_path, format):
    from lstm_keras.models.language_modeling import load_language_model

    code, stdout, stderr = run_cli(["lm", "export", "--model", lm_folder, "--format", format,
                                    "--out", str(tmp_path / f"lm.{format}")])
    assert code == 0, stderr[-3000:]
    summary = json.loads(stdout)
    assert summary["max_abs_difference"] <= 1e-4
    text = "The cat sat on the mat, said Zork."
    served = run_without_tensorflow(STREAM_WITHOUT_TENSORFLOW, str(tmp_path / f"lm.{format}"), format, text)
    assert served["tensorflow_imported"] is False
    module = load_language_model(lm_folder)
    ids = module.token_ids(tf.constant([text])).numpy()[0]  # the TensorFlow tokenizer's ids
    assert served["ids"] == [module.model.end_token_id, *ids.tolist()]
    expected, _ = module.model.stream(np.array([served["ids"]], "int32"))  # (1, T, V), the whole text at once
    np.testing.assert_allclose(served["log_probabilities"], expected[0], atol=1e-4)


# Greedy translation of one sentence: `encode`, then `decode_step` until `[END]` or the limit.
TRANSLATE_WITHOUT_TENSORFLOW = LOAD_EXPORT + r"""
source = tokenizer.ReferenceTokenizer.from_file(root + "_export.json", "source_tokenizer")
target = tokenizer.ReferenceTokenizer.from_file(root + "_export.json", "target_tokenizer")
ids = source.token_ids(text)[: settings["max_source_length"] - 2]
source_ids = np.array([[settings["start_id"], *ids, settings["end_id"]]], np.int32)
if format == "tflite":
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=path)
    encode, step = interpreter.get_signature_runner("encode"), interpreter.get_signature_runner("decode_step")
else:
    import onnxruntime
    def runner(name):
        session = onnxruntime.InferenceSession(f"{root}_{name}.onnx", providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return lambda **feeds: dict(zip(names, session.run(names, feeds)))
    encode, step = runner("encode"), runner("decode_step")
state = encode(source_ids=source_ids)
limit = int(state.pop("max_new_tokens")[0])
token, tokens = settings["start_id"], []
while len(tokens) < limit:
    outputs = step(token=np.array([token], np.int32), **state)
    token = int(np.argmax(outputs["logits"][0]))
    tokens.append(token)
    state.update({name: outputs["next_" + name] for name in settings["carried_state"]})
    if token == settings["end_id"]:
        break
print(json.dumps({"tensorflow_imported": "tensorflow" in sys.modules, "source_ids": source_ids[0].tolist(),
                  "target_ids": tokens, "text": target.detokenize(tokens)}))
"""


@pytest.fixture(scope="module")
def translator_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("translate")
    words = ["cero", "uno", "dos", "tres", "cuatro"]
    rows = "".join(f"{a} {b}\t{words.index(a)} {words.index(b)}\n" for a in words for b in words)
    (folder / "numbers.tsv").write_text(rows * 2, encoding="utf-8")
    out = str(folder / "run")
    code, _, stderr = run_cli(["translate", "train", "--dataset", str(folder / "numbers.tsv"), "--epochs", "1",
                               "--tokenizer", "word",
                               "--units", "8", "--embedding-dim", "8", "--batch-size", "8", "--seed", "0",
                               "--out", out])
    assert code == 0, stderr[-3000:]
    return out


@pytest.mark.parametrize("format", ["tflite", "onnx"])
def test_translator_steps_decode_greedily_without_tensorflow(translator_folder, tmp_path, format):
    from lstm_keras.models.translation.export import load_translation_model

    code, stdout, stderr = run_cli(["translate", "export", "--model", translator_folder, "--format", format,
                                    "--out", str(tmp_path / "translator")])
    assert code == 0, stderr[-3000:]
    summary = json.loads(stdout)
    assert summary["max_abs_difference"] <= 1e-4
    assert set(summary["signatures"]) == {"encode", "decode_step"}
    text = "Dos TRES cuatro, ¿cero?"
    served = run_without_tensorflow(TRANSLATE_WITHOUT_TENSORFLOW, str(tmp_path / f"translator.{format}"), format, text)
    assert served["tensorflow_imported"] is False
    module = load_translation_model(translator_folder)
    source_ids = module.source_ids(tf.constant([text])).numpy()  # (1, Ts), TensorFlow's tokenizers
    assert served["source_ids"] == source_ids[0].tolist()
    target_ids, _ = module.translator.decode(source_ids, "greedy", return_attention=False)  # (1, T)
    expected = [int(i) for i in np.asarray(target_ids)[0]]
    expected = expected[:expected.index(2) + 1] if 2 in expected else [i for i in expected if i]
    assert served["target_ids"] == expected
    assert len(expected) > 1
