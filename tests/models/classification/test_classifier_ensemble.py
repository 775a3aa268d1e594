"""`ClassifierEnsemble`: the mean of its members' probabilities, its checks and its config."""

import doctest

import keras
import numpy as np
import pytest

from lstm_keras.models.classification import classifier_ensemble
from lstm_keras.models.classification.classifier_ensemble import ClassifierEnsemble
from lstm_keras.models.classification.text_classifier import TextClassifier

TEXTS = ["a good film", "a bad plot", "", "zyxxy unseen", b"\xff\xfe broken", "good " * 400]


def member(label_names=("neg", "pos"), seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    classifier = TextClassifier(list(label_names), vocabulary_size=30, embedding_dim=6, units=4, max_length=50, **kwargs)
    classifier.adapt(["a good film", "a bad plot", "good good film", "bad"])
    return classifier


@pytest.mark.parametrize("label_names, kwargs", [
    (("neg", "pos"), {}),
    (("a", "b", "c"), {}),
    (("a", "b", "c"), {"head": "multi_label"}),
], ids=["binary", "multi_class", "multi_label"])
def test_probabilities_are_the_mean_of_the_members(label_names, kwargs):
    # Members differ in their weights and in their settings (pooling, bidirectional).
    members = [member(label_names, 0, **kwargs), member(label_names, 1, pooling="max", **kwargs),
               member(label_names, 2, bidirectional=True, **kwargs)]
    ensemble = ClassifierEnsemble(members)
    expected = np.mean([m.predict_proba(TEXTS) for m in members], axis=0)  # (6, C), NumPy mean
    np.testing.assert_allclose(ensemble.predict_proba(TEXTS), expected, atol=1e-6)
    assert ensemble.label_names == list(label_names) and ensemble.num_classes == len(label_names)
    assert ensemble.head == members[0].head
    assert not np.allclose(members[0].predict_proba(TEXTS), members[1].predict_proba(TEXTS))


def test_binary_probabilities_sum_to_one():
    ensemble = ClassifierEnsemble([member(seed=0), member(seed=1)])
    np.testing.assert_allclose(ensemble.predict_proba(TEXTS).sum(axis=-1), 1.0, atol=1e-6)


@pytest.mark.parametrize("members, message", [
    (lambda: [member()], "at least two classifiers. Received: 1"),
    (lambda: [], "at least two classifiers. Received: 0"),
    (lambda: [member(), member(("neg", "positive"))], r"label names and head of the first.*'positive'"),
    (lambda: [member(("a", "b", "c")), member(("a", "b", "c"), head="multi_label")], "'multi_label'"),
], ids=["one", "none", "labels", "head"])
def test_bad_members_raise_a_clear_error(members, message):
    with pytest.raises(ValueError, match=message):
        ClassifierEnsemble(members())


def test_config_round_trip_and_registration():
    ensemble = ClassifierEnsemble([member(seed=0), member(seed=1, pooling="mean")], name="pair")
    config = ensemble.get_config()
    clone = ClassifierEnsemble.from_config(config)
    assert clone.get_config() == config and clone.name == "pair"
    assert [m.pooling for m in clone.members] == ["last", "mean"]
    assert keras.saving.get_registered_object("lstm_keras>ClassifierEnsemble") is ClassifierEnsemble


def test_docstring_examples():
    assert doctest.testmod(classifier_ensemble, raise_on_error=False).failed == 0
