"""`lstm_keras.conversion`: LiteRT and ONNX files of functions traced as on a GPU, their checks and refusals."""

import importlib
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from lstm_keras import conversion
from lstm_keras.layers import GatedLSTM

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the converters read TensorFlow graphs")


def sequence_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((None, 3)), GatedLSTM(4, return_sequences=True), keras.layers.Dense(2)])
    return model


# ONNX traced as on a GPU: the same retracing, another converter; --large keeps the default suite short.
@pytest.mark.parametrize("format", ["tflite", pytest.param("onnx", marks=pytest.mark.large)])
def test_files_traced_as_on_a_gpu_have_no_cudnn_op_and_match_keras(tmp_path, monkeypatch, format):
    model = sequence_model()
    batch = 1 if format == "tflite" else None
    function = tf.function(lambda inputs: {"outputs": model(inputs)},
                           input_signature=[tf.TensorSpec([batch, None, 3], tf.float32, name="inputs")])
    # As on a GPU machine: the fused cuDNN kernel would be taken wherever a graph is traced.
    monkeypatch.setattr(importlib.import_module("keras.src.backend.tensorflow.rnn"), "_is_gpu_available", lambda: True)
    assert "CudnnRNNV3" in {op.type for op in function.get_concrete_function().graph.get_operations()}
    x = np.random.default_rng(0).normal(size=(batch or 2, 6, 3)).astype("float32")
    path = str(tmp_path / f"model.{format}")
    difference = conversion.write_portable(path, format, {"serve": function}, {"serve": [(x,), (x[:, :1],)]})
    monkeypatch.undo()
    assert difference <= 1e-5
    assert b"Cudnn" not in open(path, "rb").read()
    for inputs in (x, x[:, :2]):  # lengths the checks did not use
        outputs = conversion.run_portable(path, format, "serve", {"inputs": inputs}, ["outputs"])["outputs"]
        np.testing.assert_allclose(outputs, keras.ops.convert_to_numpy(model(inputs)), atol=1e-5)


def test_a_file_that_differs_from_keras_is_not_written(tmp_path, monkeypatch):
    model = sequence_model()
    function = tf.function(lambda inputs: {"outputs": model(inputs)},
                           input_signature=[tf.TensorSpec([1, None, 3], tf.float32, name="inputs")])
    run = conversion.run_portable

    def off_by_a_little(*args):
        return {key: value + 1e-3 for key, value in run(*args).items()}

    monkeypatch.setattr(conversion, "run_portable", off_by_a_little)
    x = np.ones((1, 4, 3), "float32")
    with pytest.raises(ValueError, match=r"differs from the Keras model by 0\.001 .*nothing was written"):
        conversion.write_portable(str(tmp_path / "model.tflite"), "tflite", {"serve": function}, {"serve": [(x,)]})
    assert os.listdir(tmp_path) == []


def test_a_refused_conversion_names_the_converter_and_its_reason(tmp_path):
    function = tf.function(lambda texts: {"lengths": tf.strings.length(texts)},
                           input_signature=[tf.TensorSpec([1], tf.string, name="texts")])
    with pytest.raises(ValueError, match="the tflite converter refused the model: .*"):
        conversion.write_portable(str(tmp_path / "model.tflite"), "tflite", {"serve": function}, {"serve": []})
    assert os.listdir(tmp_path) == []


def test_formats_suffixes_and_missing_packages(monkeypatch):
    with pytest.raises(ValueError, match="unknown export format 'coreml': expected one of saved_model, tflite, onnx"):
        conversion.check_format("coreml")
    assert conversion.portable_path("out/model", "onnx") == "out/model.onnx"
    with pytest.raises(ValueError, match=r"does not end in \.tflite"):
        conversion.portable_path("out/model.onnx", "tflite")
    monkeypatch.setitem(importlib.sys.modules, "ai_edge_litert", None)
    message = "--format tflite needs ai-edge-litert: pip install ai-edge-litert"
    with pytest.raises(conversion.MissingPackageError, match=message):
        conversion.require("tflite")
    monkeypatch.setitem(importlib.sys.modules, "onnxruntime", None)
    monkeypatch.setitem(importlib.sys.modules, "tf2onnx", None)
    with pytest.raises(ImportError, match="needs tf2onnx and onnxruntime: pip install tf2onnx onnxruntime"):
        conversion.require("onnx")
    conversion.require("saved_model")  # needs nothing optional


@pytest.mark.parametrize("format", ["tflite", "onnx"])
@pytest.mark.parametrize("cell", ["slstm", "mlstm", "minlstm", "xlstm[1:1]"])
def test_the_modern_cells_convert_for_any_length(tmp_path, cell, format):
    from lstm_keras.layers.cells import recurrent_layer

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(20, 8, mask_zero=True),
                              recurrent_layer(cell, 8, None, return_sequences=True)])
    batch = 1 if format == "tflite" else None
    function = tf.function(lambda ids: {"outputs": model(ids)},
                           input_signature=[tf.TensorSpec([batch, None], tf.int32, name="token_ids")])
    checks = conversion.random_token_ids(20, (1, 9), batch or 2)  # full rows, then rows half padding
    difference = conversion.write_portable(str(tmp_path / f"m.{format}"), format, {"serve": function},
                                           {"serve": [(ids,) for ids in checks]})
    assert difference <= 1e-5


def tflite_ops(path):
    from ai_edge_litert.interpreter import Interpreter

    return {op["op_name"] for op in Interpreter(model_path=path)._get_ops_details()}


def portable_ops(path, format):
    if format == "onnx":
        import onnx

        return {node.op_type for node in onnx.load(path).graph.node}
    return tflite_ops(path)


@pytest.mark.parametrize("return_sequences, zero_output", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("format", ["tflite", "onnx"])
def test_the_standard_lstm_becomes_the_fused_lstm_op_with_masks_and_directions(
        tmp_path, format, bidirectional, return_sequences, zero_output):
    """Right-padded rows, forwards and backwards: the fused file against the Keras model's own loop."""
    keras.utils.set_random_seed(0)
    layer = GatedLSTM(8, return_sequences=return_sequences, zero_output_for_mask=zero_output)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer)
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(20, 6, mask_zero=True),
                              layer, keras.layers.Dense(3)])
    batch = 1 if format == "tflite" else None
    function = tf.function(lambda ids: {"outputs": model(ids)},
                           input_signature=[tf.TensorSpec([batch, None], tf.int32, name="token_ids")])
    ids = conversion.random_token_ids(20, (1, 5, 9), batch or 2)  # 9 steps: 1, 5 and 9 real tokens
    if format == "onnx":  # rows of different lengths in one batch
        ids.append(np.array([[3, 4, 5, 0, 0], [6, 0, 0, 0, 0]], "int32"))
    path = str(tmp_path / f"m.{format}")
    conversion.write_portable(path, format, {"serve": function}, {"serve": [(row,) for row in ids]},
                              fused_lstm=model.variables)
    fused, loops = {"tflite": ("UNIDIRECTIONAL_SEQUENCE_LSTM", "WHILE"), "onnx": ("LSTM", "Loop")}[format]
    assert fused in portable_ops(path, format) and loops not in portable_ops(path, format)
    for row in ids:  # the file against Keras' loop (not the traced composite the checks compared with)
        outputs = conversion.run_portable(path, format, "serve", {"token_ids": row}, ["outputs"])["outputs"]
        np.testing.assert_allclose(outputs, keras.ops.convert_to_numpy(model(row)), atol=1e-5)


def test_cells_the_fused_kernel_cannot_run_stay_loops_and_states_that_are_used_keep_the_loop(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 3), batch_size=1)
    peephole = GatedLSTM(4, variant="peephole", return_sequences=True)(inputs)
    _, h, c = GatedLSTM(4, return_state=True)(peephole)  # the final cell state is an output
    model = keras.Model(inputs, [h, c])
    function = tf.function(lambda x: dict(zip(("h", "c"), model(x))),
                           input_signature=[tf.TensorSpec([1, None, 3], tf.float32, name="inputs")])
    x = np.random.default_rng(1).normal(size=(1, 5, 3)).astype("float32")
    path = str(tmp_path / "m.tflite")
    assert conversion.write_portable(path, "tflite", {"serve": function}, {"serve": [(x,)]},
                                     fused_lstm=model.variables) <= 1e-5
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in tflite_ops(path) and "WHILE" in tflite_ops(path)
