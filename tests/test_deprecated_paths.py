"""The import paths the README and notebooks documented before the task folders: they still work, with a DeprecationWarning."""

import importlib
import sys

import pytest

import lstm_keras.io
import lstm_keras.models
from lstm_keras.models.classification import TextClassifier
from lstm_keras.models.language_modeling import LanguageModel
from lstm_keras.models.question_answering import StoryReader
from lstm_keras.models.translation import Translator
from lstm_keras.saving import load_keras_model

OLD_NAMES = {"Translator": Translator, "LanguageModel": LanguageModel, "StoryReader": StoryReader,
             "TextClassifier": TextClassifier}
OLD_MODULES = {
    "lstm_keras.models.classification_training": ("fit_classifier", "lstm_keras.models.classification.training"),
    "lstm_keras.models.language_model_export": ("LanguageModelModule", "lstm_keras.models.language_modeling.export"),
    "lstm_keras.models.language_model_training": ("fit_language_model", "lstm_keras.models.truncated_bptt"),
    "lstm_keras.models.translation_export": ("TranslationModule", "lstm_keras.models.translation.export"),
    "lstm_keras.models.translation_metrics": ("score_translations", "lstm_keras.models.translation.metrics"),
}


@pytest.mark.parametrize("name", sorted(OLD_NAMES))
def test_old_package_names_warn_and_resolve(name):
    with pytest.warns(DeprecationWarning, match=f"lstm_keras.models.{name}"):
        value = getattr(lstm_keras.models, name)
    assert value is OLD_NAMES[name]


def test_unknown_package_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="NoSuchModel"):
        lstm_keras.models.NoSuchModel  # noqa: B018


@pytest.mark.parametrize("old", sorted(OLD_MODULES))
def test_old_modules_warn_and_reexport(old):
    name, new = OLD_MODULES[old]
    sys.modules.pop(old, None)  # the warning comes when the module is imported
    with pytest.warns(DeprecationWarning, match=old):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_pretraining_keeps_its_old_path():
    from lstm_keras.models.classification.pretraining import pretrain_classifier_from_lm

    sys.modules.pop("lstm_keras.models.language_model_training", None)
    with pytest.warns(DeprecationWarning):
        module = importlib.import_module("lstm_keras.models.language_model_training")
    assert module.pretrain_classifier_from_lm is pretrain_classifier_from_lm


def test_io_load_keras_model_moved_to_saving():
    with pytest.warns(DeprecationWarning, match="lstm_keras.saving.load_keras_model"):
        assert lstm_keras.io.load_keras_model is load_keras_model
    with pytest.raises(AttributeError):
        lstm_keras.io.no_such_function  # noqa: B018
