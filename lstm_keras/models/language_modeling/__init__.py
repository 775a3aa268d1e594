"""Language modelling: `LanguageModel`, its `lm train` recipe (truncated BPTT), the neural cache and the export.

`LanguageModel` and the truncated-BPTT training (`fit_language_model`, `evaluate_perplexity`,
`PerplexityEvaluator`) live below the tasks, in `lstm_keras.models.language_model` and
`lstm_keras.models.truncated_bptt`, because classification pretraining uses them too; this
package is their public home. They are Keras layers and ops only and import on any backend;
`NeuralCache` (Grave et al. 2017) mixes a model's predictions with
a cache of its recent hidden states at evaluation. The recipe, its evaluation and the export need
TensorFlow.
"""

import importlib.util

from lstm_keras.models.language_model import LanguageModel
from lstm_keras.models.language_modeling.cache import NeuralCache
from lstm_keras.models.truncated_bptt import PerplexityEvaluator
from lstm_keras.models.truncated_bptt import evaluate_perplexity
from lstm_keras.models.truncated_bptt import evaluation_batch_size
from lstm_keras.models.truncated_bptt import fit_language_model

if importlib.util.find_spec("tensorflow") is not None:
    from lstm_keras.models.language_modeling.export import LanguageModelModule
    from lstm_keras.models.language_modeling.export import export_saved_model
    from lstm_keras.models.language_modeling.export import load_language_model
    from lstm_keras.models.language_modeling.export import save_language_model
    from lstm_keras.models.language_modeling.training import DEFAULTS
    from lstm_keras.models.language_modeling.training import evaluate_language_model
    from lstm_keras.models.language_modeling.training import make_config
    from lstm_keras.models.language_modeling.training import train_language_model
