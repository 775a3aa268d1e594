"""Saving and loading models: `.keras` files in safe mode, model folders, SavedModels.

Every loader of the project goes through `load_keras_model`; every model folder (a `.keras`
model, the vocabularies of its tokenizers and a JSON file of settings) through
`save_model_folder` / `load_model_folder`; every SavedModel through `write_saved_model`.
"""

import contextlib
import importlib
import json
import os
import tempfile
import time
import zipfile

import keras

from lstm_keras.io import atomic_path
from lstm_keras.io import write_text

MODEL_FILE = "model.keras"
# Written last into every folder a `train` command completes: which command, which version, which files.
MARKER_FILE = ".lstm_keras.json"
# Modules that defined registered classes before the task folders (model files name them).
_MOVED_MODULES = {
    "lstm_keras.models.translator": "lstm_keras.models.translation.translator",
    "lstm_keras.models.seq2seq_encoder": "lstm_keras.models.translation.seq2seq_encoder",
    "lstm_keras.models.attention_decoder": "lstm_keras.models.translation.attention_decoder",
    "lstm_keras.models.text_classifier": "lstm_keras.models.classification.text_classifier",
    "lstm_keras.models.classifier_ensemble": "lstm_keras.models.classification.classifier_ensemble",
    "lstm_keras.models.text_standardizer": "lstm_keras.text.text_standardizer",
    "lstm_keras.models.text_splitter": "lstm_keras.text.unicode_script_splitter",
    "lstm_keras.models.token_embedding": "lstm_keras.layers.token_embedding",
    "lstm_keras.models.story_reader": "lstm_keras.models.question_answering.story_reader",
    "lstm_keras.models.reset_states": "lstm_keras.training",
}


@contextlib.contextmanager
def without_fused_kernels():
    """Inside, TensorFlow's fused cuDNN RNN kernels are declined, as on a machine without a GPU.

    Graphs traced inside hold the portable recurrent loop instead of `CudnnRNNV3`, which has no
    CPU kernel: a SavedModel of a model trained on a GPU then also serves on a CPU (the weights
    are the same for both implementations). A no-op on the other backends.
    """
    if keras.backend.backend() != "tensorflow":
        yield
        return
    rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
    is_gpu_available = rnn._is_gpu_available
    rnn._is_gpu_available = lambda: False
    try:
        yield
    finally:
        rnn._is_gpu_available = is_gpu_available


def retraced(function):
    """A fresh `tf.function` of `function`'s Python function and input signature, traced now.

    Called `without_fused_kernels`, its graph holds no cuDNN op whatever device traced `function`
    before (e.g. during training on a GPU).
    """
    import tensorflow as tf

    function = tf.function(function.python_function, input_signature=function.input_signature)
    function.get_concrete_function()
    return function


def write_saved_model(path, tracked, endpoints):
    """Writes a TensorFlow SavedModel atomically with `keras.export.ExportArchive`.

    Every endpoint is traced afresh `without_fused_kernels`: a `tf.function` traced during
    training on a GPU would otherwise bring its cuDNN kernel into the SavedModel, which then fails
    on a CPU server (keras-team/keras#18504).

    Args:
        path: the SavedModel folder (replaced in one rename once complete).
        tracked: the objects whose variables and resources the graphs use (Keras models,
            tokenizers).
        endpoints: a dict name -> function (a `tf.function`, or a Python function given as
            `(function, input_signature)`), each served as a signature of that name.
    """
    archive = keras.export.ExportArchive()
    for item in tracked:
        archive.track(item)
    with without_fused_kernels():
        for name, endpoint in endpoints.items():
            if isinstance(endpoint, tuple):
                function, signature = endpoint
                archive.add_endpoint(name, function, input_signature=signature)
                continue
            if keras.backend.backend() == "tensorflow" and endpoint.input_signature is not None:
                endpoint = retraced(endpoint)
            archive.add_endpoint(name, endpoint)
        with atomic_path(path) as tmp:
            archive.write_out(tmp, verbose=False)


def seconds_to_export(export_saved_model, module):
    """Exports `module` into a scratch folder (`export_saved_model(module, path)`) and returns the seconds it took.

    A recipe with a time budget calls it before training: it checks the export before any
    training is spent, times the export that will follow training, and traces the graphs that
    export will reuse.
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        export_saved_model(module, os.path.join(scratch, "saved_model"))
    return time.monotonic() - started


def check_model_directory(directory, files, command):
    """Raises FileNotFoundError naming the folder, or its first missing file.

    Args:
        directory: the model folder.
        files: the file names it must hold.
        command: the command that writes such folders, named in the message.
    """
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"model folder not found: {directory}")
    for name in files:
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"model folder {directory!r} is incomplete: {path} not found "
                f"(expected the --out folder of `lstm-keras {command}`)"
            )


def save_model_folder(directory, model, vocabularies, settings_file, settings):
    """Writes a model folder: `model.keras`, the tokenizers' vocabularies and a JSON settings file (each atomically).

    Args:
        directory: the folder (created if missing).
        model: the Keras model, saved as `model.keras`.
        vocabularies: a dict file name -> tokenizer, each saved with `save_vocabulary`.
        settings_file: the name of the settings file.
        settings: a JSON-serialisable dict.
    """
    os.makedirs(directory, exist_ok=True)
    with atomic_path(os.path.join(directory, MODEL_FILE)) as tmp:
        model.save(tmp)
    for name, tokenizer in vocabularies.items():
        tokenizer.save_vocabulary(os.path.join(directory, name))
    write_text(os.path.join(directory, settings_file), json.dumps(settings, indent=1))


def write_marker(directory, command, files):
    """Marks `directory` as the output of `lstm-keras <command>` of this version, listing the files it wrote."""
    from lstm_keras import __version__

    marker = {"command": command, "version": __version__, "files": sorted(files)}
    write_text(os.path.join(directory, MARKER_FILE), json.dumps(marker, indent=1))


def read_marker(directory):
    """The marker of a folder (`write_marker`), or None for a folder without one.

    Raises:
        ValueError: the marker is damaged (the message names it).
    """
    path = os.path.join(directory, MARKER_FILE)
    if not os.path.isfile(path):
        return None
    marker = read_json(path)
    if not isinstance(marker, dict) or not isinstance(marker.get("files"), list):
        raise ValueError(f"{path} is damaged: it is not an lstm-keras marker (delete it only if the folder is yours)")
    return marker


def check_marker(directory, command):
    """Raises ValueError unless the folder was written by `command` (when it says) and by this version or older."""
    from lstm_keras import __version__

    marker = read_marker(directory)
    if marker is None:
        return
    written_by = marker.get("command")
    if written_by != command:
        raise ValueError(
            f"{directory} holds the output of `lstm-keras {written_by}`, not of `lstm-keras {command}`: "
            f"give the --model folder of `lstm-keras {command}`"
        )
    if _version_tuple(marker.get("version", "0")) > _version_tuple(__version__):
        raise ValueError(
            f"{directory} was written by lstm_keras {marker.get('version')}, newer than this {__version__}: "
            "upgrade lstm_keras to load it"
        )


def read_json(path):
    """A JSON file, with errors that name it.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: it is not readable UTF-8 JSON (truncated, corrupted).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is damaged: not valid JSON ({error}); write the folder again") from error


def read_model_settings(directory, files, settings_file, command):
    """The settings of a model folder of `command`, once its marker and every file are checked."""
    check_marker(directory, command)  # first: another command's folder lacks the files, and the marker says why
    check_model_directory(directory, files, command)
    return read_json(os.path.join(directory, settings_file))


def load_model_folder(directory, files, settings_file, command):
    """Loads a folder written by `save_model_folder`: returns `(model, settings)`.

    Args:
        directory: the folder.
        files: the file names it must hold (`model.keras` and the settings file among them).
        settings_file: the name of the settings file.
        command: the command that writes such folders, named in the errors.

    Raises:
        FileNotFoundError: the folder or one of its files is missing (the message names it).
        ValueError: `model.keras` is damaged or refused (`load_keras_model`).
    """
    settings = read_model_settings(directory, files, settings_file, command)
    return load_keras_model(os.path.join(directory, MODEL_FILE)), settings


def load_keras_model(path, compile=False):
    """Loads a `.keras` model in Keras' safe mode, with errors that name the file.

    Safe mode refuses to run arbitrary Python code stored in a model file (a `Lambda` layer's
    function). Loading never writes: a bad file is left as it is. The `lstm_keras` classes the
    file names are registered first by importing the modules that define them (the `module` of
    each object in the file's config, within the `lstm_keras` package only), so any model of the
    project loads without importing its task first.

    Args:
        path: the `.keras` file.
        compile: whether to restore the training configuration too.

    Returns:
        The model.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file holds code that safe mode refuses (a `Lambda` layer), or it is
            truncated, corrupted or not a Keras model file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        _import_defining_modules(path)
        return keras.models.load_model(path, compile=compile, safe_mode=True)
    except ValueError as error:
        if "Lambda" in str(error) or "safe_mode" in str(error):
            raise ValueError(
                f"refused to load {path}: it contains a Lambda layer, i.e. arbitrary Python code, which "
                f"lstm_keras never loads (Keras safe mode). Rebuild the model without Lambda layers."
            ) from error
        raise ValueError(f"{path} is not a loadable Keras model: {error}") from error
    except TypeError as error:  # a class Keras cannot find
        raise ValueError(f"{path} is not a loadable Keras model: {error}") from error
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as error:
        raise ValueError(
            f"{path} is truncated or corrupted ({type(error).__name__}: {error}): train the model again or restore "
            "the file"
        ) from error


def _import_defining_modules(path):
    """Imports the `lstm_keras` modules that the objects of a `.keras` file's config name."""
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    modules = set()
    pending = [config]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            module = item.get("module")
            if isinstance(module, str) and str(item.get("registered_name", "")).startswith("lstm_keras>"):
                modules.add(_MOVED_MODULES.get(module, module))
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    for module in sorted(modules):
        if module.split(".")[0] == "lstm_keras":
            try:
                importlib.import_module(module)
            except ImportError:
                pass  # Keras then names the class it cannot find


def _version_tuple(version):
    """`"1.2.10"` -> `(1, 2, 10)`; what is not a number counts as 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in str(version).split("."))
