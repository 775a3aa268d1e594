"""Deprecated: moved to `lstm_keras.models.translation.export` (this module goes in the next release)."""

from lstm_keras._deprecation import warn_moved
from lstm_keras.models.translation.export import *  # noqa: F401,F403

warn_moved(__name__, "lstm_keras.models.translation.export")
