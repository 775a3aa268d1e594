"""Backend-agnostic Keras layers (only `keras` and `keras.ops`): gated LSTMs and attention."""

from lstm_keras.layers.attention_pooling import AttentionPooling
from lstm_keras.layers.bahdanau_attention import BahdanauAttention
from lstm_keras.layers.gated_lstm import GatedLSTM
from lstm_keras.layers.gated_lstm_cell import GatedLSTMCell
from lstm_keras.layers.gating import VARIANTS
from lstm_keras.layers.gating import Variant
from lstm_keras.layers.luong_attention import LuongAttention
from lstm_keras.layers.masked_global_max_pooling1d import MaskedGlobalMaxPooling1D
