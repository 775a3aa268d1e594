"""lstm_keras: gated LSTM layers, attention, translation, classification and language models in Keras 3."""

__version__ = "0.1.0"
