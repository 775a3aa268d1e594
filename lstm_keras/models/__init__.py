"""Task models, one folder per task, built from `lstm_keras.layers`.

- `lstm_keras.models.translation`: `Translator`, the `translate train` recipe, export, metrics;
- `lstm_keras.models.classification`: `TextClassifier`, `ClassifierEnsemble`, their recipe,
  tuning, language-model pretraining, export, metrics;
- `lstm_keras.models.language_modeling`: `LanguageModel`, the `lm train` recipe, export;
- `lstm_keras.models.question_answering`: `StoryReader`.

What several tasks share lives beside the folders, below them: `language_model.py` (the model
classification pretraining reuses), `truncated_bptt.py` (its training) and
`masked_sequence_losses.py`. No task folder imports another.

The names this package exported before the task folders (`from lstm_keras.models import
Translator`) still resolve, with a `DeprecationWarning`, until the next release.
"""

from lstm_keras._deprecation import moved_attribute

_MOVED = {
    "AttentionDecoder": "lstm_keras.models.translation",
    "Seq2SeqEncoder": "lstm_keras.models.translation",
    "Translator": "lstm_keras.models.translation",
    "LanguageModel": "lstm_keras.models.language_modeling",
    "MaskedAccuracy": "lstm_keras.models.masked_sequence_losses",
    "MaskedSparseCategoricalCrossentropy": "lstm_keras.models.masked_sequence_losses",
    "Perplexity": "lstm_keras.models.masked_sequence_losses",
    "ResetStates": "lstm_keras.training",
    "StoryReader": "lstm_keras.models.question_answering",
    "TokenEmbedding": "lstm_keras.layers",
    "ClassifierEnsemble": "lstm_keras.models.classification",
    "TextClassifier": "lstm_keras.models.classification",
    "export_saved_model": "lstm_keras.models.classification",
    "TextStandardizer": "lstm_keras.text",
}


def __getattr__(name):
    return moved_attribute(__name__, _MOVED, name)
