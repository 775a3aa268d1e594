"""`Seq2SeqEncoder`: embeddings and stacked bidirectional recurrent layers (gated LSTMs by default) over a source."""

import keras
from keras import ops

from lstm_keras.layers.cells import check_cell
from lstm_keras.layers.cells import recurrent_layer


@keras.saving.register_keras_serializable(package="lstm_keras")
class Seq2SeqEncoder(keras.layers.Layer):
    """Reads a source sentence: embeddings, then stacked bidirectional recurrent layers (`cell`).

    Padding (id 0) is masked: the embedding has `mask_zero=True` and the mask reaches every
    LSTM layer, so the backward direction starts at each sentence's last real token and the
    final states ignore the padding. Dropout is applied to the embeddings and between layers.

    Args:
        vocabulary_size: the number of source token ids.
        embedding_dim: the size of the token embeddings.
        units: the units of each LSTM direction (the outputs have `2 * units` features).
        num_layers: the number of stacked bidirectional layers.
        gating: the gating of every LSTM: None (standard LSTM, fused kernel), a preset name of
            `lstm_keras.layers.VARIANTS` (e.g. `"cifg"`) or a dict of `GatedLSTM` options.
        cell: the recurrent cell, a name of `lstm_keras.layers.cells.CELLS` (`gating` is for
            `"lstm"` only).
        dropout: the dropout rate on the embeddings and between layers.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        source_ids: `(batch, Ts)` int token ids, right-padded with 0.
        training: whether dropout is active.

    Returns:
        A tuple `(outputs, states)`: `outputs` `(batch, Ts, 2 * units)` (zeros at padding) and
        the final states of the last layer `[h_forward, c_forward, h_backward, c_backward]`, each
        `(batch, units)`, for `cell="lstm"`; for the other cells, whose states are not an LSTM's,
        the final outputs of the two directions `[h_forward, h_backward]`.

    Example:
    >>> encoder = Seq2SeqEncoder(vocabulary_size=50, embedding_dim=8, units=16, num_layers=2)
    >>> outputs, states = encoder(keras.ops.array([[5, 6, 7, 0], [8, 9, 0, 0]]))
    >>> tuple(outputs.shape), [tuple(s.shape) for s in states]
    ((2, 4, 32), [(2, 16), (2, 16), (2, 16), (2, 16)])
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim=128,
        units=128,
        num_layers=1,
        gating=None,
        cell="lstm",
        dropout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_layers < 1:
            raise ValueError(f"Invalid value for argument `num_layers`: expected >= 1. Received: {num_layers!r}")
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.gating = gating
        self.cell = cell
        self.dropout = dropout
        check_cell(cell, gating)

        self.embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True, name="embedding")
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")
        self.lstm_layers = [
            keras.layers.Bidirectional(
                recurrent_layer(cell, units, gating, index=i, return_sequences=True, return_state=True,
                                name=f"lstm_{i}"),
                merge_mode="concat",
                name=f"bidirectional_{i}",
            )
            for i in range(num_layers)
        ]
        self.supports_masking = True

    def build(self, source_ids_shape):
        self.embedding.build(source_ids_shape)
        features = self.embedding_dim
        for layer in self.lstm_layers:
            layer.build((None, None, features))
            features = 2 * self.units

    def call(self, source_ids, training=False):
        mask = ops.not_equal(source_ids, 0)  # (batch, Ts)
        x = self.dropout_layer(self.embedding(source_ids), training=training)  # (batch, Ts, embedding_dim)
        for index, layer in enumerate(self.lstm_layers):
            outputs = layer(x, mask=mask, training=training)
            x = outputs[0]  # (batch, Ts, 2 * units)
            if index < self.num_layers - 1:
                x = self.dropout_layer(x, training=training)
        if self.cell == "lstm":
            # The states are the forward ones followed by the backward ones; h and c come first.
            states = outputs[1:]
            half = len(states) // 2
            final_states = [states[0], states[1], states[half], states[half + 1]]  # 4 x (batch, units)
        else:
            # The forward direction ends at each row's last real token, the backward one at the first.
            last = ops.maximum(ops.sum(ops.cast(mask, "int32"), axis=1) - 1, 0)  # (batch,)
            forward = ops.take_along_axis(x[:, :, :self.units], last[:, None, None], axis=1)[:, 0]  # (batch, units)
            final_states = [forward, x[:, 0, self.units:]]  # 2 x (batch, units)
        x = x * ops.expand_dims(ops.cast(mask, x.dtype), -1)  # (batch, Ts, 2 * units), zero at padding
        return x, final_states

    def compute_mask(self, source_ids, mask=None):
        return None

    def compute_output_spec(self, source_ids, training=False):
        batch, time = source_ids.shape[0], source_ids.shape[1]
        outputs = keras.KerasTensor((batch, time, 2 * self.units), dtype=self.compute_dtype)
        count = 4 if self.cell == "lstm" else 2
        states = [keras.KerasTensor((batch, self.units), dtype=self.compute_dtype) for _ in range(count)]
        return outputs, states

    def get_config(self):
        config = {
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "num_layers": self.num_layers,
            "gating": self.gating,
            "cell": self.cell,
            "dropout": self.dropout,
        }
        return {**super().get_config(), **config}
