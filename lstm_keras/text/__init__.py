"""Text: TensorFlow Text normalisation, word and WordPiece tokenizers, tf.data pipelines, the classifier's text callables."""

from lstm_keras.text.normalization import CASED_TEXT, FOLDED_TEXT, normalize
from lstm_keras.text.pipeline import make_translation_dataset
from lstm_keras.text.text_standardizer import TextStandardizer
from lstm_keras.text.tokenizer import END_ID, PAD_ID, RESERVED_TOKENS, START_ID, UNK_ID, Tokenizer
from lstm_keras.text.unicode_script_splitter import UnicodeScriptSplitter
from lstm_keras.text.word_piece_tokenizer import WordPieceTokenizer
