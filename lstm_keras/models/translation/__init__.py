"""Translation: an attention LSTM encoder-decoder, its `translate train` recipe, export and metrics.

`Translator` (with `Seq2SeqEncoder` and `AttentionDecoder`) is Keras layers and ops only and
imports on any backend; the recipe (`training`), the raw-string module and SavedModel export
(`export`) and sacreBLEU scoring (`metrics`) need TensorFlow and TensorFlow Text.
"""

import importlib.util

from lstm_keras.models.translation.attention_decoder import AttentionDecoder
from lstm_keras.models.translation.seq2seq_encoder import Seq2SeqEncoder
from lstm_keras.models.translation.translator import Translator

if importlib.util.find_spec("tensorflow") is not None:
    from lstm_keras.models.translation.export import TranslationModule
    from lstm_keras.models.translation.export import export_saved_model
    from lstm_keras.models.translation.export import load_translation_model
    from lstm_keras.models.translation.export import save_translation_model
    from lstm_keras.models.translation.metrics import score_translations
    from lstm_keras.models.translation.training import DEFAULTS
    from lstm_keras.models.translation.training import make_config
    from lstm_keras.models.translation.training import train_translator
