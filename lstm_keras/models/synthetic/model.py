"""The model of the generated tasks: tokens (or features) in, a prediction after every step out."""

import keras

from lstm_keras.layers.cells import check_cell
from lstm_keras.layers.cells import recurrent_layer


def build_synthetic_model(task, cell="lstm", gating=None, layers=1, units=64):
    """A causal sequence model for a `lstm_keras.datasets.synthetic.Task`: one prediction after every input.

    Token ids go through an embedding of `units`, float features straight into the first layer;
    then `layers` recurrent layers of `cell` (`lstm_keras.layers.cells.recurrent_layer`; the
    xLSTM blocks end with a LayerNorm, as in Beck et al. 2024) and a dense head: the class logits
    `(batch, T, num_classes)`, or one number `(batch, T, 1)` for a regression. Being causal, the
    outputs at a sequence's scored positions never see the padding after it.

    Args:
        task: a `Task` of `lstm_keras.datasets.synthetic.TASKS`.
        cell: a cell name of `lstm_keras.layers.cells.CELLS`.
        gating: the gating preset of the `lstm` cell (None: vanilla).
        layers: the recurrent layers.
        units: the width of the embedding and of every recurrent layer.

    Returns:
        An uncompiled functional `keras.Model`.

    Example:
    >>> from lstm_keras.datasets.synthetic import TASKS
    >>> model = build_synthetic_model(TASKS["parity"], cell="mingru", units=8)
    >>> model.output_shape
    (None, None, 2)
    """
    xlstm = check_cell(cell, gating) is not None
    if task.input_features is None:
        inputs = keras.Input((None,), dtype="int32", name="tokens")
        x = keras.layers.Embedding(task.vocabulary_size, units, name="embedding")(inputs)  # (batch, T, units)
    else:
        inputs = keras.Input((None, task.input_features), name="features")
        x = inputs  # (batch, T, features)
    for index in range(layers):
        x = recurrent_layer(cell, units, gating, index=index, return_sequences=True, name=f"recurrent_{index + 1}")(x)
    if xlstm:
        x = keras.layers.LayerNormalization(name="post_blocks_norm")(x)
    outputs = keras.layers.Dense(task.num_classes or 1, name="head")(x)  # (batch, T, classes or 1)
    return keras.Model(inputs, outputs, name=f"{task.name.replace('-', '_')}_model")
