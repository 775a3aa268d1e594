"""The generated tasks that separate the cells (`lstm_keras.datasets.synthetic`): a model, its recipe, its scores.

`build_synthetic_model` reads tokens (or features) with any cell of `lstm_keras.layers.cells`
and predicts after every step; `train_synthetic_task` (`lstm-keras synthetic train`) trains it on
fresh sequences every epoch and scores it by length bucket (`evaluate_by_length`): for the formal
languages, on lengths beyond those it trained on.
"""

from lstm_keras.models.synthetic.metrics import evaluate_by_length
from lstm_keras.models.synthetic.metrics import scored_results
from lstm_keras.models.synthetic.model import build_synthetic_model
from lstm_keras.models.synthetic.training import DEFAULTS
from lstm_keras.models.synthetic.training import TaskBatches
from lstm_keras.models.synthetic.training import compile_synthetic_model
from lstm_keras.models.synthetic.training import make_config
from lstm_keras.models.synthetic.training import train_synthetic_task
