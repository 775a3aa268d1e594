"""Deprecated: truncated BPTT moved to `lstm_keras.models.truncated_bptt` (also exported by
`lstm_keras.models.language_modeling`) and classifier pretraining to
`lstm_keras.models.classification.pretraining` (this module goes in the next release)."""

from lstm_keras._deprecation import warn_moved
from lstm_keras.models.classification.pretraining import *  # noqa: F401,F403
from lstm_keras.models.truncated_bptt import *  # noqa: F401,F403

warn_moved(__name__, "lstm_keras.models.truncated_bptt and lstm_keras.models.classification.pretraining")
