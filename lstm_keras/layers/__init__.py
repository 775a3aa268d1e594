"""Backend-agnostic Keras layers (only `keras` and `keras.ops`): gated LSTMs and sLSTM, mLSTM, minLSTM and minGRU,
xLSTM blocks, attention, pooling, token embeddings, a hashed bigram bag, an adaptive softmax."""

from lstm_keras.layers.adaptive_softmax import AdaptiveSoftmax
from lstm_keras.layers.adaptive_softmax import check_cutoffs
from lstm_keras.layers.adaptive_softmax import default_cutoffs
from lstm_keras.layers.attention import ATTENTIONS
from lstm_keras.layers.attention import get_attention
from lstm_keras.layers.attention_pooling import AttentionPooling
from lstm_keras.layers.bahdanau_attention import BahdanauAttention
from lstm_keras.layers.bigram_bag import BigramBag
from lstm_keras.layers.gated_lstm import GatedLSTM
from lstm_keras.layers.gated_lstm_cell import GatedLSTMCell
from lstm_keras.layers.gating import VARIANTS
from lstm_keras.layers.gating import Variant
from lstm_keras.layers.gating import gating_options
from lstm_keras.layers.luong_attention import LuongAttention
from lstm_keras.layers.masked_global_max_pooling1d import MaskedGlobalMaxPooling1D
from lstm_keras.layers.min_gru import MinGRU
from lstm_keras.layers.min_lstm import MinLSTM
from lstm_keras.layers.mlstm import MLSTM
from lstm_keras.layers.token_embedding import TokenEmbedding
from lstm_keras.layers.xlstm import MLSTMBlock
from lstm_keras.layers.xlstm import SLSTMBlock
from lstm_keras.layers.xlstm import xlstm_block
from lstm_keras.layers.xlstm import xlstm_stack
