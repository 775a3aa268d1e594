"""The `Example:` sections of the modules that no other test file runs as doctests."""

import doctest
import importlib

import pytest

MODULES = [
    "lstm_keras.training",
    "lstm_keras.decoding",
    "lstm_keras.decoding.compiled",
    "lstm_keras.text.registry",
    "lstm_keras.models.classification.data",
    "lstm_keras.models.translation.training",
    "lstm_keras.models.language_modeling.training",
    "lstm_keras.models.truncated_bptt",
    "lstm_keras.models.synthetic.model",
    "lstm_keras.models.synthetic.metrics",
    "lstm_keras.models.synthetic.training",
    "lstm_keras.commands.synthetic",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    results = doctest.testmod(importlib.import_module(name), raise_on_error=False)
    assert results.attempted > 0 and results.failed == 0
