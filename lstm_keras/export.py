"""What every exported model shares: writing a SavedModel, and checking a model folder."""

import os

from lstm_keras.io import atomic_path


def write_saved_model(path, tracked, endpoints):
    """Writes a TensorFlow SavedModel atomically with `keras.export.ExportArchive`.

    Args:
        path: the SavedModel folder (replaced in one rename once complete).
        tracked: the objects whose variables and resources the graphs use (Keras models,
            tokenizers).
        endpoints: a dict name -> function (a `tf.function`, or a Python function given as
            `(function, input_signature)`), each served as a signature of that name.
    """
    import keras

    archive = keras.export.ExportArchive()
    for item in tracked:
        archive.track(item)
    for name, endpoint in endpoints.items():
        if isinstance(endpoint, tuple):
            function, signature = endpoint
            archive.add_endpoint(name, function, input_signature=signature)
        else:
            archive.add_endpoint(name, endpoint)
    with atomic_path(path) as tmp:
        archive.write_out(tmp, verbose=False)


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
