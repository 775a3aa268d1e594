"""Task models: translation, classification, language modelling and question answering, built from `lstm_keras.layers`.

The translator, language model and story reader are built from Keras layers and ops only, so
this package imports without TensorFlow (on a GPU machine with JAX alone, the language model
trains there: `benchmarks/gpu_language_model.py`); the text classifier, whose vectoriser and
raw-string export are TensorFlow ops, is imported only where TensorFlow is installed.
"""

import importlib.util

from lstm_keras.models.attention_decoder import AttentionDecoder
from lstm_keras.models.language_model import LanguageModel
from lstm_keras.models.masked_sequence_losses import MaskedAccuracy
from lstm_keras.models.masked_sequence_losses import MaskedSparseCategoricalCrossentropy
from lstm_keras.models.masked_sequence_losses import Perplexity
from lstm_keras.models.reset_states import ResetStates
from lstm_keras.models.seq2seq_encoder import Seq2SeqEncoder
from lstm_keras.models.story_reader import StoryReader
from lstm_keras.models.token_embedding import TokenEmbedding
from lstm_keras.models.translator import Translator

if importlib.util.find_spec("tensorflow") is not None:
    from lstm_keras.models.classification_export import export_saved_model
    from lstm_keras.models.classifier_ensemble import ClassifierEnsemble
    from lstm_keras.models.text_classifier import TextClassifier
    from lstm_keras.models.text_standardizer import TextStandardizer
