"""LiteRT (TFLite) and ONNX files from TensorFlow functions: what the tasks' `export` commands share.

A task gives the numeric part of its model as `tf.function`s over token ids (the text
preprocessing, string ops that neither format runs, ships beside the file: see
`lstm_keras.text.reference_tokenizer`). `write_portable` traces them without the fused cuDNN
kernels (`saving.without_fused_kernels`), converts them, runs the written file with its own
runtime on the inputs the task gives and returns the largest absolute difference to TensorFlow.

- **LiteRT**: the variables are frozen into constants and the functions converted with
  `TFLITE_BUILTINS` only (no Flex ops: the file runs in the plain `ai_edge_litert` interpreter,
  on a phone as on a server). Converted with the variables as resources, a file whose recurrent
  loop reads them failed in the interpreter (`read_variable.cc: variable != nullptr`). Several
  functions become several signatures of one file, each keyed by its name. The batch dimension
  is 1 (a `WHILE` loop's tensor list needs a static element shape); lengths may vary
  (`Interpreter.resize_tensor_input`, or a signature runner, which resizes itself). With
  `fused_lstm`, the standard LSTM layers become TFLite's fused LSTM kernel (stateful between
  calls: `FUSED_LSTM_NOTE`).
- **ONNX**: one function per file, converted by `tf2onnx` (opset `ONNX_OPSET`); any batch size,
  any length. Run with `onnxruntime`. The standard LSTM layers whose final states are not used
  become ONNX's `LSTM` op (their loop traced in the form tf2onnx's LSTM rewriter recognises).

Both need the optional packages of `pip install "lstm_keras[export]"` (`requirements-export.txt`):
`ai-edge-litert` to check a LiteRT file, `tf2onnx` and `onnxruntime` for ONNX.
"""

import contextlib
import importlib
import json
import os
import tempfile

import numpy as np

from lstm_keras.io import atomic_path
from lstm_keras.io import write_text

FORMATS = ("saved_model", "tflite", "onnx")
SUFFIXES = {"tflite": ".tflite", "onnx": ".onnx"}
# The packages each format needs, as `{module: what pip installs}`.
PACKAGES = {
    "tflite": {"ai_edge_litert": "ai-edge-litert"},
    "onnx": {"tf2onnx": "tf2onnx", "onnxruntime": "onnxruntime"},
}
ONNX_OPSET = 17
# How to call a LiteRT file whose LSTM layers are TFLite's fused kernel: it keeps its state in the interpreter.
FUSED_LSTM_NOTE = (
    "the LSTM layers are TFLite's UNIDIRECTIONAL_SEQUENCE_LSTM, which keeps its final state in the interpreter and "
    "starts the next call from it: call the interpreter's reset_all_variables() (Android: resetVariableTensors()) "
    "after every sequence"
)
# The largest absolute difference to TensorFlow that an export accepts on its check inputs.
TOLERANCE = 1e-4


class MissingPackageError(ImportError, ValueError):
    """An optional package that an export format needs is not installed (the message says what to install)."""


def check_format(format):
    """Returns `format` if it is one of `FORMATS`, else raises ValueError naming them."""
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}: expected one of {', '.join(FORMATS)}")
    return format


def require(format):
    """Imports the packages `format` needs; raises `MissingPackageError` naming those missing."""
    missing = []
    for module, package in PACKAGES.get(check_format(format), {}).items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise MissingPackageError(
            f"--format {format} needs {' and '.join(missing)}: pip install {' '.join(missing)} "
            f"(or pip install \"lstm_keras[export]\")"
        )


def check_free(paths, overwrite):
    """Raises FileExistsError naming the first of `paths` that exists, unless `overwrite`."""
    for path in paths:
        if os.path.exists(path) and not overwrite:
            raise FileExistsError(f"{path} exists: choose another --out, or give --overwrite to replace it")


def export_loaded(load, format, out, overwrite, write_saved_model, write_portable_file):
    """What every task's `export_model_folder` does: check the format, load, write, summarise.

    Args:
        load: a function returning what the task exports (called once the format is known good).
        format: one of `FORMATS`.
        out: the SavedModel folder, or the LiteRT / ONNX file.
        overwrite: whether existing files may be replaced.
        write_saved_model: `write_saved_model(loaded, out)`, the task's SavedModel export.
        write_portable_file: `write_portable_file(loaded, out, format, overwrite)`, the task's
            LiteRT / ONNX export, returning its summary.

    Returns:
        The summary: `{"format", "files"}` for a SavedModel, the task's for the others.
    """
    check_format(format)
    loaded = load()
    if format != "saved_model":
        return write_portable_file(loaded, out, format, overwrite)
    check_free([out], overwrite)
    write_saved_model(loaded, out)
    return {"format": format, "files": [out]}


def portable_path(path, format):
    """`path` with the format's suffix (`model` -> `model.tflite`); a path with another suffix is refused."""
    suffix = SUFFIXES[format]
    root, extension = os.path.splitext(path)
    if extension and extension != suffix:
        raise ValueError(f"--out {path!r} does not end in {suffix}, the suffix of --format {format}")
    return root + suffix


def companion_paths(path, tokenizers=("tokenizer",)):
    """The files written beside an exported model: `{"settings", "code", <tokenizer key>: vocabulary path}`.

    The vocabulary of the entry `"tokenizer"` is `<name>_vocabulary.txt`, that of another entry
    `"<side>_tokenizer"` `<name>_<side>_vocabulary.txt`.
    """
    root = os.path.splitext(path)[0]
    paths = {"settings": root + "_export.json", "code": root + "_tokenizer.py"}
    for key in tokenizers:
        side = key[: -len("tokenizer")]
        paths[key] = f"{root}_{side}vocabulary.txt"
    return paths


def model_paths(path, format, names):
    """The model files of an export: one LiteRT file for all functions, or one ONNX file per function.

    `{name: path}`; several ONNX functions go to `<root>_<name>.onnx`.
    """
    path = portable_path(path, format)
    if format == "tflite" or len(names) == 1:
        return {name: path for name in names}
    root = os.path.splitext(path)[0]
    return {name: f"{root}_{name}.onnx" for name in names}


def write_export(path, format, functions, check_inputs, tokenizers, details, overwrite=False, fused_lstm=None):
    """Writes a LiteRT or ONNX export and, beside it, what turns text into its inputs; returns the summary.

    Beside `<name>.tflite` (or `.onnx`; several ONNX functions: `<name>_<function>.onnx`) go the
    vocabularies (`<name>_vocabulary.txt`, one token a line), `<name>_tokenizer.py`
    (`lstm_keras.text.reference_tokenizer`, standard library only) and `<name>_export.json`: the
    format, every function's file, inputs and outputs, the tokenizers' settings, the task's
    `details` and the largest difference to Keras measured on `check_inputs` (`write_portable`).

    Args:
        path: the model file; its suffix may be left out (`model` -> `model.tflite`).
        format: `"tflite"` or `"onnx"`.
        functions, check_inputs: as in `write_portable`.
        tokenizers: `{"tokenizer": (settings, vocabulary)}` (or `"source_tokenizer"`,
            `"target_tokenizer"`): each reference tokenizer's settings (`ReferenceTokenizer`)
            and tokens in id order.
        details: a JSON-serialisable dict of what a caller needs besides (label names, ids).
        overwrite: whether existing files may be replaced (else FileExistsError, before any work).
        fused_lstm: as in `write_portable` (LiteRT); the summary then says `fused_lstm` and how
            to call the file (`FUSED_LSTM_NOTE`).

    Returns:
        The summary written to the JSON file, with `files`: every path written.
    """
    from lstm_keras.text import reference_tokenizer

    files = model_paths(path, format, list(functions))
    companions = companion_paths(path, list(tokenizers))
    check_free([*dict.fromkeys(files.values()), *companions.values()], overwrite)
    require(format)
    functions = _traced(functions, format, fused_lstm)  # once, for the files and their description
    difference = 0.0
    for file in dict.fromkeys(files.values()):
        chosen = {name: function for name, function in functions.items() if files[name] == file}
        difference = max(difference, _convert_and_check(file, format, chosen, check_inputs))
    for key, (_, vocabulary) in tokenizers.items():
        write_text(companions[key], "".join(f"{token}\n" for token in vocabulary))
    with open(reference_tokenizer.__file__, encoding="utf-8") as f:
        write_text(companions["code"], f.read())
    signatures = describe(functions)
    for name in signatures:
        signatures[name]["file"] = os.path.basename(files[name])
    summary = {
        "format": format, "signatures": signatures,
        **{key: {**settings, "vocabulary": os.path.basename(companions[key])}
           for key, (settings, _) in tokenizers.items()},
        **details, "max_abs_difference": difference,
    }
    if format == "tflite" and fused_lstm:
        summary["fused_lstm"] = FUSED_LSTM_NOTE
    write_text(companions["settings"], json.dumps(summary, indent=1, ensure_ascii=False))
    return {**summary, "files": [*dict.fromkeys(files.values()), *companions.values()]}


def describe(functions):
    """`{name: {"inputs": {...}, "outputs": {...}}}`, each tensor as `"dtype [dims]"` (`?`: any size)."""
    def spec(tensor):
        return f"{tensor.dtype.name} [{', '.join('?' if d is None else str(d) for d in tensor.shape)}]"

    signatures = {}
    for name, function in functions.items():
        concrete = function.get_concrete_function()
        signatures[name] = {"inputs": {s.name: spec(s) for s in function.input_signature},
                            "outputs": {key: spec(t) for key, t in sorted(concrete.structured_outputs.items())}}
    return signatures


def random_token_ids(vocabulary_size, lengths, batch, seed=0):
    """Check inputs: for each length, random ids `(batch, T)` in [1, vocabulary_size), then the same half padding (0).

    The padded copy keeps each row's first `T // 2 + 1` ids.
    """
    rng = np.random.default_rng(seed)
    inputs = []
    for length in sorted(set(lengths)):
        ids = rng.integers(1, vocabulary_size, size=(batch, length)).astype("int32")  # (batch, T)
        padded = ids.copy()
        padded[:, length // 2 + 1:] = 0
        inputs += [ids, padded]
    return inputs


def write_portable(path, format, functions, check_inputs, fused_lstm=None):
    """Converts `functions` to a LiteRT or ONNX file at `path` (atomically) and checks it.

    Args:
        path: the file (`.tflite` or `.onnx`).
        format: `"tflite"` or `"onnx"`.
        functions: `{name: tf.function with an input_signature}`, returning a dict of tensors.
            LiteRT: one signature per function; ONNX: exactly one function.
        check_inputs: `{name: [inputs, ...]}`, for each function a list of input tuples (NumPy
            arrays in the order of its input signature) on which the file must reproduce it.
        fused_lstm: None, or the Keras variables the functions read (a model's `variables`):
            LiteRT then traces them with those values as constants, and each standard LSTM
            layer whose final states are not used becomes TFLite's fused kernel
            (`lstm_keras.layers.tflite_lstm`) instead of a loop. The fused kernel keeps its
            state between calls: see `FUSED_LSTM_NOTE`.

    Returns:
        The largest absolute difference between the file's outputs and TensorFlow's.

    Raises:
        MissingPackageError: the format's packages are not installed.
        ValueError: the converter refused a function (the message is the converter's last
            line), or the file differs from TensorFlow by more than `TOLERANCE`.
    """
    require(format)
    return _convert_and_check(path, format, _traced(functions, format, fused_lstm), check_inputs)


def _traced(functions, format, fused_lstm=None):
    """The functions traced afresh without the fused cuDNN kernels: the converted graphs and the reference outputs alike.

    For LiteRT with `fused_lstm` (the variables), every read of those variables is a constant
    (`keras.StatelessScope`: no variable is left to freeze, which would inline the composite
    away) and the standard LSTM layers trace TFLite's fused-LSTM composite
    (`tflite_lstm.composite_tracing`). For ONNX they always do: tf2onnx rewrites its loop into
    ONNX's `LSTM` op, which keeps no state between calls.
    """
    import keras

    from lstm_keras.layers.tflite_lstm import composite_tracing
    from lstm_keras.saving import retraced
    from lstm_keras.saving import without_fused_kernels

    with contextlib.ExitStack() as stack:
        stack.enter_context(without_fused_kernels())
        if format == "tflite" and fused_lstm:
            unique = list({id(v): v for v in fused_lstm}.values())
            constants = [keras.ops.convert_to_tensor(keras.ops.convert_to_numpy(v)) for v in unique]
            stack.enter_context(keras.StatelessScope(state_mapping=list(zip(unique, constants))))
        if format == "onnx" or fused_lstm:
            stack.enter_context(composite_tracing(format))
        return {name: retraced(function) for name, function in functions.items()}


def _convert_and_check(path, format, functions, check_inputs):
    """`write_portable` for functions already `_traced`."""
    with atomic_path(path) as tmp:
        try:
            if format == "tflite":
                _write_tflite(tmp, functions)
            else:
                _write_onnx(tmp, functions)
        except Exception as error:  # the converters raise many kinds; the message is what matters
            raise ValueError(f"the {format} converter refused the model: {last_line(error)}") from error
        difference = 0.0
        for name, function in functions.items():
            names = [spec.name for spec in function.input_signature]
            for inputs in check_inputs[name]:
                expected = {key: value.numpy() for key, value in function(*inputs).items()}
                actual = run_portable(tmp, format, name, dict(zip(names, inputs)), list(expected))
                difference = max(difference, *(_largest_difference(actual[key], expected[key]) for key in expected))
        if not difference <= TOLERANCE:
            raise ValueError(
                f"the {format} file differs from the Keras model by {difference:.3g} (more than {TOLERANCE:g}): "
                "nothing was written"
            )
    return difference


def _largest_difference(actual, expected):
    """The largest absolute difference of two arrays (booleans and ints compared as numbers)."""
    return float(np.abs(np.asarray(actual, "float64") - np.asarray(expected, "float64")).max(initial=0.0))


def run_portable(path, format, name, inputs, output_names):
    """Runs function `name` of a LiteRT or ONNX file on `inputs` (`{input name: array}`); returns `{output: array}`."""
    if format == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        outputs = Interpreter(model_path=path).get_signature_runner(name)(**inputs)
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        outputs = dict(zip(output_names, session.run(output_names, inputs)))
    return {key: outputs[key] for key in output_names}


def _write_tflite(path, functions):
    """Freezes each (traced) function's variables and converts them, with builtin ops only, as the file's signatures."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = {}
    for name, function in functions.items():
        concrete = function.get_concrete_function()
        if not concrete.variables:  # traced with constant weights (`_traced`): converted as it is
            frozen[name] = concrete
            continue
        frozen[name] = _named_outputs(convert_variables_to_constants_v2(concrete), sorted(concrete.structured_outputs))
    # Through a SavedModel of the frozen functions: the converter keys its signatures by name.
    with tempfile.TemporaryDirectory() as scratch:
        # Without the gradients: `tf.nn.silu`'s custom gradient captures its `beta` (xLSTM blocks).
        tf.saved_model.save(tf.Module(), scratch, signatures=frozen,
                            options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
        converter = tf.lite.TFLiteConverter.from_saved_model(scratch, signature_keys=list(frozen))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        content = converter.convert()
    with open(path, "wb") as f:
        f.write(content)


def _named_outputs(frozen, names):
    """A function calling `frozen` (its outputs a flat list, in sorted key order) that names its outputs `names`."""
    import tensorflow as tf

    specs = [tf.TensorSpec(t.shape, t.dtype, name=t.name.split(":")[0]) for t in frozen.inputs]  # named as traced
    return tf.function(lambda *inputs: dict(zip(names, frozen(*inputs))), input_signature=specs).get_concrete_function()


def _write_onnx(path, functions):
    """Converts the one (traced) function with `tf2onnx`."""
    import tf2onnx

    if len(functions) != 1:
        raise ValueError(f"an ONNX file holds one function; received {len(functions)}")
    (function,) = functions.values()
    tf2onnx.convert.from_function(function, input_signature=function.input_signature, opset=ONNX_OPSET,
                                  output_path=path)


def last_line(error):
    """The last non-empty line of an exception's message (its type's name if it has none)."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
