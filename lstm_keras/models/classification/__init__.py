"""Text classification: `TextClassifier` and `ClassifierEnsemble`, their recipe, tuning, pretraining, export and metrics.

Everything here needs TensorFlow: the classifier's vectoriser and its raw-string SavedModel are
TensorFlow ops.
"""

from lstm_keras.models.classification.classifier_ensemble import ClassifierEnsemble
from lstm_keras.models.classification.data import make_text_dataset
from lstm_keras.models.classification.export import export_saved_model
from lstm_keras.models.classification.metrics import classification_report
from lstm_keras.models.classification.metrics import confusion_matrix
from lstm_keras.models.classification.pretraining import pretrain_classifier_from_lm
from lstm_keras.models.classification.text_classifier import TextClassifier
from lstm_keras.models.classification.training import DEFAULTS
from lstm_keras.models.classification.training import cross_validate
from lstm_keras.models.classification.training import evaluate_classifier
from lstm_keras.models.classification.training import fit_classifier
from lstm_keras.models.classification.training import split_validation
from lstm_keras.models.classification.training import train_classifier
