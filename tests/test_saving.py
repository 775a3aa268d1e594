"""Safe model loading and model files of the layout before the task folders (`lstm_keras.saving`)."""

import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

from lstm_keras.saving import load_keras_model


def small_model(with_lambda=False):
    inputs = keras.Input((3,))
    x = keras.layers.Dense(2)(inputs)
    if with_lambda:
        x = keras.layers.Lambda(lambda t: t * 2.0)(x)
    return keras.Model(inputs, x)


def test_load_keras_model_round_trips(tmp_path):
    model = small_model()
    model.save(tmp_path / "m.keras")
    x = np.ones((1, 3), "float32")
    np.testing.assert_allclose(np.asarray(load_keras_model(tmp_path / "m.keras")(x)), np.asarray(model(x)))


def test_a_lambda_layer_is_refused(tmp_path):
    small_model(with_lambda=True).save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match=r"refused to load .*lambda.keras.*Lambda"):
        load_keras_model(tmp_path / "lambda.keras")


def test_missing_truncated_and_corrupted_files_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.keras"):
        load_keras_model(tmp_path / "nothere.keras")
    small_model().save(tmp_path / "m.keras")
    data = (tmp_path / "m.keras").read_bytes()
    (tmp_path / "truncated.keras").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.keras").write_bytes(b"not a model at all" * 10)
    for name in ("truncated.keras", "garbage.keras"):
        before = (tmp_path / name).read_bytes()
        with pytest.raises(ValueError, match=name):
            load_keras_model(tmp_path / name)
        assert (tmp_path / name).read_bytes() == before, "loading must never touch the file"


def test_a_file_naming_moved_modules_loads_in_a_fresh_process(tmp_path):
    """A `.keras` file written before the task folders names the old modules; it still loads, with nothing imported first."""
    from lstm_keras.models.translation import Translator

    translator = Translator(9, 8, embedding_dim=4, units=3, max_length=5)
    source = np.array([[4, 5, 2, 0]])
    expected, _ = translator.generate_ids(source, "greedy")
    path = tmp_path / "new.keras"
    translator.save(path)
    old = tmp_path / "old.keras"
    with zipfile.ZipFile(path) as new_file, zipfile.ZipFile(old, "w") as old_file:
        for item in new_file.infolist():
            data = new_file.read(item.filename)
            if item.filename == "config.json":
                text = data.decode("utf-8")
                assert "lstm_keras.models.translation.translator" in text
                text = text.replace("lstm_keras.models.translation.translator", "lstm_keras.models.translator")
                text = text.replace("lstm_keras.models.translation.seq2seq_encoder", "lstm_keras.models.seq2seq_encoder")
                text = text.replace("lstm_keras.models.translation.attention_decoder",
                                    "lstm_keras.models.attention_decoder")
                data = text.encode("utf-8")
            old_file.writestr(item, data)
    script = (
        "import json, sys, numpy as np\n"
        "from lstm_keras.saving import load_keras_model\n"
        "model = load_keras_model(sys.argv[1])\n"
        "tokens, _ = model.generate_ids(np.array([[4, 5, 2, 0]]), 'greedy')\n"
        "print(json.dumps([type(model).__name__, tokens.tolist()]))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend()}
    result = subprocess.run([sys.executable, "-c", script, str(old)], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    name, tokens = json.loads(result.stdout.strip().splitlines()[-1])
    assert name == "Translator" and tokens == expected.tolist()


def test_a_file_naming_an_unknown_class_names_it(tmp_path):
    inputs = keras.Input((3,))
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(tmp_path / "m.keras")
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(tmp_path / "m.keras") as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"][1].update(module="lstm_keras.no_such_module", class_name="Gone",
                                                     registered_name="lstm_keras>Gone")
                data = json.dumps(config).encode("utf-8")
            target.writestr(item, data)
    with pytest.raises((ValueError, TypeError), match="Gone"):
        load_keras_model(broken)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="SavedModels are written on TensorFlow")
def test_a_saved_model_traced_as_on_a_gpu_has_no_cudnn_op_and_serves_on_a_cpu(tmp_path, monkeypatch):
    import importlib

    import tensorflow as tf

    from lstm_keras.layers import GatedLSTM
    from lstm_keras.saving import write_saved_model

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((None, 3)), GatedLSTM(4), keras.layers.Dense(1)])
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x))
    serve = tf.function(lambda inputs: model(inputs), input_signature=[tf.TensorSpec([None, None, 3], tf.float32)])
    # As on a GPU machine: the fused cuDNN kernel is taken when the graph is traced (during training, say).
    monkeypatch.setattr(importlib.import_module("keras.src.backend.tensorflow.rnn"), "_is_gpu_available", lambda: True)
    traced = serve.get_concrete_function()
    assert "CudnnRNNV3" in {op.type for op in traced.graph.get_operations()}
    write_saved_model(str(tmp_path / "saved_model"), [model], {"serve": serve})
    monkeypatch.undo()
    assert b"CudnnRNN" not in (tmp_path / "saved_model" / "saved_model.pb").read_bytes()
    served = tf.saved_model.load(str(tmp_path / "saved_model")).signatures["serve"]
    np.testing.assert_allclose(next(iter(served(inputs=tf.constant(x)).values())).numpy(), expected, atol=1e-6)
