"""`ClassifierEnsemble`: the averaged class probabilities of several `TextClassifier`s.

Classifiers trained alike from different seeds make different mistakes; averaging their
probabilities cancels part of them. On IMDB, three members of the benchmark's setting reach
0.8928 test accuracy together and 0.8844–0.8859 alone (see `BENCHMARKS.md`).
`train_classifier(..., members=k)` trains the members; the ensemble saves to `.keras` and
exports with `export_saved_model` like a single classifier.
"""

import keras

from lstm_keras.models.classification.text_classifier import ClassProbabilitiesMixin


@keras.saving.register_keras_serializable(package="lstm_keras")
class ClassifierEnsemble(ClassProbabilitiesMixin, keras.Model):
    """The mean of the output probabilities of trained classifiers with the same labels and head.

        texts (batch,)  ->  member_1 ... member_k   each (batch, 1) or (batch, C)
                        ->  mean over the members   (batch, 1) or (batch, C)

    Each member keeps its own vocabulary and settings, so members may differ in anything but
    their label names and head. The ensemble is for prediction, evaluation and export; its
    members are trained one by one (`train_classifier`), not through the ensemble.

    Args:
        members: a list of at least two `TextClassifier`s (adapted and usually trained), all
            with the same `label_names` and `head`.
        **kwargs: `keras.Model` keyword arguments (e.g. `name`).

    Call arguments:
        texts: a `tf.string` tensor `(batch,)` of raw texts.
        training: passed on to the members (dropout); False for prediction.

    Example:
    >>> from lstm_keras.models.classification.text_classifier import TextClassifier
    >>> members = [TextClassifier(["neg", "pos"], vocabulary_size=20, embedding_dim=4, units=2) for _ in range(2)]
    >>> for member in members:
    ...     member.adapt(["a good film", "a bad film"])
    >>> ensemble = ClassifierEnsemble(members)
    >>> ensemble.predict_proba(["a good film", ""]).shape
    (2, 2)
    """

    def __init__(self, members, **kwargs):
        super().__init__(**kwargs)
        members = list(members)
        if len(members) < 2:
            raise ValueError(
                f"Invalid value for argument `members` of ClassifierEnsemble: expected at least two "
                f"classifiers. Received: {len(members)}"
            )
        for member in members[1:]:
            if member.label_names != members[0].label_names or member.head != members[0].head:
                raise ValueError(
                    f"Invalid value for argument `members` of ClassifierEnsemble: every member needs the "
                    f"label names and head of the first ({members[0].label_names!r}, {members[0].head!r}). "
                    f"Received a member with {member.label_names!r}, {member.head!r}"
                )
        self.members = members
        self.label_names = members[0].label_names
        self.head = members[0].head
        # The members are built functional models and the ensemble has no weights of its own.
        self.built = True

    def call(self, texts, training=False):
        outputs = [member(texts, training=training) for member in self.members]  # k x (batch, 1 or C)
        return keras.ops.mean(keras.ops.stack(outputs, axis=0), axis=0)  # (batch, 1 or C)

    def get_config(self):
        # Not chained to super(): the members are the whole configuration.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "members": [keras.saving.serialize_keras_object(member) for member in self.members],
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        members = [keras.saving.deserialize_keras_object(member) for member in config.pop("members")]
        return cls(members, **config)
