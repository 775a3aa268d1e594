"""`ResetStates`: zeroes the carried states of stateful recurrent layers between epochs."""

import keras


@keras.saving.register_keras_serializable(package="lstm_keras")
class ResetStates(keras.callbacks.Callback):
    """Resets every stateful recurrent layer of the model at the start of each epoch and evaluation.

    Truncated BPTT over a token stream carries the LSTM states from one batch to the next
    (`stateful=True`); a new pass over the stream (an epoch, a validation or test run, a
    prediction) must start from zero states, or it would continue from wherever the previous
    pass stopped. `fit` calls `on_test_begin` before its validation too.

    Example:
    >>> from lstm_keras.layers import GatedLSTM
    >>> inputs = keras.Input(batch_shape=(2, None, 3))
    >>> model = keras.Model(inputs, GatedLSTM(4, stateful=True)(inputs))
    >>> _ = model(keras.ops.ones((2, 5, 3)))
    >>> callback = ResetStates()
    >>> callback.set_model(model)
    >>> callback.on_epoch_begin(0)
    >>> float(keras.ops.sum(keras.ops.abs(model.layers[-1].states[0])))
    0.0
    """

    def on_epoch_begin(self, epoch, logs=None):
        self.reset()

    def on_test_begin(self, logs=None):
        self.reset()

    def on_predict_begin(self, logs=None):
        self.reset()

    def reset(self):
        """Zeroes the states of every stateful layer of the model (nested models included)."""
        for layer in self.model._flatten_layers(include_self=False):
            if getattr(layer, "stateful", False) is True and hasattr(layer, "reset_state"):
                layer.reset_state()

    def get_config(self):
        return {}
