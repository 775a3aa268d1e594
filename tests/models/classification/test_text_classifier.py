"""`TextClassifier`, its standardizer, the NumPy metrics and the training / cross-validation workflow."""

import csv
import doctest
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from layer_checks import numpy_bigram_bag
from task_checks import ExportCheck
from task_checks import check_task
from lstm_keras.models.classification import metrics as classification_metrics
from lstm_keras.models.classification import text_classifier
from lstm_keras.models.classification import training as classification_training
from lstm_keras.models.classification import tuning
from lstm_keras.models.classification.classifier_ensemble import ClassifierEnsemble
from lstm_keras.models.classification.export import export_saved_model
from lstm_keras.models.classification.metrics import classification_report
from lstm_keras.models.classification.metrics import confusion_matrix
from lstm_keras.models.classification.text_classifier import TextClassifier
from lstm_keras.models.classification.training import cross_validate
from lstm_keras.models.classification.training import evaluate_classifier
from lstm_keras.models.classification.training import fit_classifier
from lstm_keras.models.classification.training import make_text_dataset
from lstm_keras.models.classification.training import split_validation
from lstm_keras.models.classification.training import train_classifier
from lstm_keras.text import text_standardizer
from lstm_keras.text.text_standardizer import TextStandardizer

LABELS = ["negative", "positive"]
# Everything a user may send: empty, whitespace only, invalid UTF-8, very long, unseen words.
BAD_INPUTS = ["", "   \t\n ", b"\xff\xfe\x80 not utf-8 \xc3", "good " * 5000, "zyxxy qwop unseen words", "¿Qué? 😀"]


def tiny_data(n=48, seed=0):
    """A separable toy task: the word "good" or "bad" somewhere among filler words."""
    rng = np.random.default_rng(seed)
    filler = ["the", "film", "plot", "was", "really", "a", "cast", "very"]
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = list(rng.choice(filler, size=rng.integers(2, 6)))
        words.insert(int(rng.integers(0, len(words) + 1)), "good" if label else "bad")
        texts.append(" ".join(words))
        labels.append(label)
    return texts, np.array(labels, dtype="int32")


def small_classifier(label_names=LABELS, **kwargs):
    options = dict(vocabulary_size=40, embedding_dim=8, units=6, dropout=0.0)
    options.update(kwargs)
    return TextClassifier(label_names, **options)


# ---- Model: construction, config, bad input -------------------------------------------------


def test_config_round_trip():
    classifier = small_classifier(
        ["a", "b", "c"], head="multi_label", max_length=7, truncation="pre", lowercase=False, strip_punctuation=False,
        stop_words=["the"], tokenizer="unicode_script", embedding_trainable=False, gating="peephole", num_layers=2, bidirectional=True,
        lstm_options={"dropout": 0.1}, pooling="attention", attention_units=5, word_dropout=0.25, bigram_buckets=17,
    )
    config = classifier.get_config()
    clone = TextClassifier.from_config(config)
    assert clone.get_config() == config
    assert clone.output_shape == classifier.output_shape == (None, 3)
    assert [layer.name for layer in clone.layers] == [layer.name for layer in classifier.layers]
    assert keras.saving.get_registered_object("lstm_keras>TextClassifier") is TextClassifier


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"head": "ordinal"}, "head.*Received: head='ordinal'"),
        ({"pooling": "sum"}, "pooling.*Received: pooling='sum'"),
        ({"gating": "gru"}, "gating.*Received: gating='gru'"),
        ({"num_layers": 0}, "num_layers.*Received: num_layers=0"),
        ({"dropout": 1.5}, "dropout.*Received: dropout=1.5"),
        ({"word_dropout": -0.1}, "word_dropout.*Received: word_dropout=-0.1"),
        ({"truncation": "middle"}, "truncation.*Received: truncation='middle'"),
        ({"tokenizer": "bert"}, "tokenizer.*Received: tokenizer='bert'"),
    ],
)
def test_invalid_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        small_classifier(**kwargs)


def test_bigram_bag_joins_the_pooled_features():
    texts = ["a good film , not bad", "bad", "", "film film good"]
    classifier = small_classifier(units=4, pooling="max", bigram_buckets=31)
    classifier.adapt(texts)
    features = keras.Model(classifier.input, classifier.get_layer("with_bigrams").output)(tf.constant(texts))
    ids = classifier.vectorizer(tf.constant(texts)).numpy()
    table = keras.ops.convert_to_numpy(classifier.get_layer("bigram_bag").embeddings)
    np.testing.assert_allclose(np.asarray(features)[:, 4:], numpy_bigram_bag(ids, table), rtol=1e-5, atol=1e-6)
    assert classifier.predict_proba(texts).shape == (4, 2)


def test_word_dropout_drops_whole_tokens_in_training_only():
    keras.utils.set_random_seed(0)  # the rate check below fails for about one draw in 2,000
    classifier = small_classifier(embedding_dim=64, word_dropout=0.4, max_length=300)
    classifier.adapt(["good bad film"])
    ids = classifier.vectorizer(tf.constant(["good bad film " * 100]))  # (1, 300)
    embedded = classifier.token_embedding(ids)  # (1, 300, 64)
    kept_scale = 1.0 / (1.0 - 0.4)
    dropped = keras.ops.convert_to_numpy(classifier.word_dropout_layer(embedded, training=True))[0]  # (300, 64)
    original = keras.ops.convert_to_numpy(embedded)[0]
    zero_rows = np.all(dropped == 0.0, axis=-1)  # (300,)
    # Every token is either dropped whole or kept whole (scaled), never in part.
    np.testing.assert_allclose(dropped[~zero_rows], original[~zero_rows] * kept_scale, rtol=1e-6)
    assert 0.3 < zero_rows.mean() < 0.5  # 300 draws at rate 0.4: 0.4 +- 0.03 (one standard deviation)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(classifier.word_dropout_layer(embedded)), original[None])


def test_binary_head_needs_two_labels():
    with pytest.raises(ValueError, match="'binary' needs exactly two"):
        small_classifier(["a", "b", "c"], head="binary")
    with pytest.raises(ValueError, match="at least two distinct"):
        small_classifier(["only"])


@pytest.mark.parametrize(
    "pooling, bidirectional, num_layers",
    [("last", True, 1), ("max", False, 2), ("mean", True, 1), ("attention", False, 1)],
)
def test_every_pooling_classifies_bad_input(pooling, bidirectional, num_layers):
    classifier = small_classifier(
        ["a", "b", "c"], pooling=pooling, bidirectional=bidirectional, num_layers=num_layers, gating="cifg", max_length=20
    )
    classifier.adapt(tiny_data()[0] + BAD_INPUTS)  # bad input in the training data too
    probabilities = classifier.predict_proba(BAD_INPUTS)
    assert probabilities.shape == (len(BAD_INPUTS), 3)
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)


def test_binary_predict_proba_is_complement():
    classifier = small_classifier()
    classifier.adapt(tiny_data()[0])
    texts = ["good film", "bad"]
    p = classifier.predict(make_text_dataset(texts), verbose=0)  # (2, 1)
    np.testing.assert_allclose(classifier.predict_proba(texts), np.concatenate([1 - p, p], axis=-1), atol=1e-6)


def test_unseen_words_and_empty_texts_become_unk():
    classifier = small_classifier()
    classifier.adapt(["good film", "bad film"])
    ids = classifier.vectorizer(tf.constant(["good zyxxy", "", "  ", "..."])).numpy()
    vocabulary = classifier.vocabulary
    assert vocabulary[:2] == ["", "[UNK]"]
    np.testing.assert_array_equal(ids, [[vocabulary.index("good"), 1], [1, 0], [1, 0], [1, 0]])


@pytest.mark.parametrize("truncation, kept", [("post", "a b c"), ("pre", "d e f")])
def test_long_texts_are_truncated_as_documented(truncation, kept):
    classifier = small_classifier(max_length=3, truncation=truncation)
    classifier.adapt(["a b c d e f x y"])
    assert classifier.vectorizer(tf.constant(["a b c d e f"])).shape == (1, 3)
    full, short = classifier.predict_proba(["a b c d e f", kept])
    np.testing.assert_allclose(full, short, atol=1e-6)


def test_unicode_script_tokenizer_splits_punctuation_and_truncates_by_token():
    words = small_classifier(strip_punctuation=False)
    script = small_classifier(strip_punctuation=False, tokenizer="unicode_script", max_length=4, truncation="pre")
    corpus = ["a great film!", "a bad, bad plot", "great fun"]
    words.adapt(corpus)
    script.adapt(corpus)
    assert "film!" in words.vocabulary and "bad," in words.vocabulary
    assert {"film", "!", "bad", ","} <= set(script.vocabulary) and "film!" not in script.vocabulary
    ids = script.vectorizer(tf.constant(["great!", "", "x a great film!"])).numpy()  # (3, 4)
    index = script.vocabulary.index
    np.testing.assert_array_equal(ids, [
        [index("great"), index("!"), 0, 0],
        [1, 0, 0, 0],  # an empty text: one unknown token
        [index("a"), index("great"), index("film"), index("!")],  # the last 4 of 5 tokens ("x" dropped)
    ])
    probabilities = script.predict_proba(BAD_INPUTS)
    assert probabilities.shape == (len(BAD_INPUTS), 2) and np.all(np.isfinite(probabilities))


# ---- Standardizer -----------------------------------------------------------------------------


def test_standardizer_steps():
    standardize = TextStandardizer(stop_words=["the", "a"])
    texts = ["The FILM, ÉTÉ’s “best”!", "the a", b"ok \xff\xfe fine", "don't-stop"]
    assert [t.decode() for t in standardize(tf.constant(texts)).numpy()] == [
        "film étés best", "[UNK]", "ok fine", "dont stop",
    ]
    keep = TextStandardizer(lowercase=False, strip_punctuation=False)
    assert keep(tf.constant("The  End!")).numpy().decode() == "The End!"


def test_standardizer_config_and_tf_data():
    standardize = TextStandardizer(stop_words=["b", "a"], max_length=2, truncation="pre")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(standardize))
    assert clone.get_config() == standardize.get_config() == {
        "lowercase": True, "strip_punctuation": True, "stop_words": ["a", "b"], "max_length": 2, "truncation": "pre",
    }
    texts = ["x A y b z", "", "b"]
    direct = standardize(tf.constant(texts)).numpy().tolist()
    dataset = tf.data.Dataset.from_tensor_slices(texts)
    assert [t for batch in dataset.batch(2).map(standardize) for t in batch.numpy()] == direct
    assert [t.numpy() for t in dataset.map(standardize)] == direct == [b"y z", b"[UNK]", b"[UNK]"]


# ---- Attention weights and pretrained embeddings ------------------------------------------------


def test_attention_weights_for_display():
    classifier = small_classifier(pooling="attention")
    classifier.adapt(["good film", "bad film"])
    (tokens, weights), (empty_tokens, empty_weights) = classifier.attention_weights(["Good unseen FILM", ""])
    assert tokens == ["good", "[UNK]", "film"] and empty_tokens == ["[UNK]"]
    np.testing.assert_allclose([weights.sum(), empty_weights.sum()], 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="pooling='attention'"):
        small_classifier(pooling="max").attention_weights(["x"])


@pytest.mark.parametrize("header", [False, True], ids=["glove", "word2vec"])
def test_load_embeddings(tmp_path, header):
    classifier = small_classifier(embedding_dim=3)
    classifier.adapt(["good good good film film bad"])  # vocabulary: good, film, bad
    lines = ["good 1 2 3", "Bad 4 5 6", "other 7 8 9"]
    path = tmp_path / "vectors.txt"
    path.write_text("\n".join((["3 3"] if header else []) + lines) + "\n", encoding="utf-8")
    before = np.array(classifier.token_embedding.embeddings)
    coverage = classifier.load_embeddings(str(path))
    # "good" is found as it is; "bad" is not ("Bad" is a different word); "film" is missing: 1 of 3.
    assert coverage == {"found": 1, "vocabulary": 3, "oov_rate": pytest.approx(2 / 3)}
    matrix = np.array(classifier.token_embedding.embeddings)
    vocabulary = classifier.vocabulary
    np.testing.assert_array_equal(matrix[0], 0.0)
    np.testing.assert_array_equal(matrix[vocabulary.index("good")], [1, 2, 3])
    np.testing.assert_array_equal(matrix[vocabulary.index("film")], before[vocabulary.index("film")])
    path.write_text("good 1 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1: a vector of size 2.*embedding_dim is 3"):
        classifier.load_embeddings(str(path))
    path.write_text("", encoding="utf-8")  # an empty file would train with every word out of vocabulary
    with pytest.raises(ValueError, match="vectors.txt has a vector for none of the 3 words"):
        classifier.load_embeddings(str(path))


def test_too_few_examples_to_split_name_the_minimum():
    with pytest.raises(ValueError, match="4 examples are too few to split off 10%: give at least 10 examples"):
        split_validation([0, 0, 1, 1], 0.1)


# ---- Metrics, against hand-computed values ------------------------------------------------------


def test_confusion_matrix_and_report_by_hand():
    y_true = [0, 0, 0, 1, 1, 2, 2, 2]
    y_pred = [0, 0, 1, 1, 2, 2, 2, 0]
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, 3), [[2, 1, 0], [0, 1, 1], [1, 0, 2]])
    report = classification_report(y_true, y_pred, ["a", "b", "c"])
    # a: TP 2, predicted 3, support 3 -> P 2/3, R 2/3, F1 2/3
    # b: TP 1, predicted 2, support 2 -> P 1/2, R 1/2, F1 1/2
    # c: TP 2, predicted 3, support 3 -> P 2/3, R 2/3, F1 2/3
    assert report["accuracy"] == pytest.approx(5 / 8)
    assert report["per_class"]["b"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert report["per_class"]["a"]["f1"] == pytest.approx(2 / 3)
    assert report["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)
    assert report["macro_precision"] == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)


def test_report_zero_division_and_unbalanced():
    # Class "b" is never predicted: precision 0 by convention; class "c" has no examples.
    report = classification_report([0, 0, 1, 0], [0, 0, 0, 0], ["a", "b", "c"])
    assert report["per_class"]["a"] == {"precision": 0.75, "recall": 1.0, "f1": pytest.approx(6 / 7), "support": 3}
    assert report["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert report["macro_f1"] == pytest.approx(6 / 7 / 3)
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix([0, 3], [0, 1], 3)


def test_multi_label_report_by_hand():
    y_true = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    y_pred = np.array([[1, 0], [1, 0], [1, 1], [0, 0]])
    report = classification_report(y_true, y_pred, ["x", "y"])
    # x: TP 2, predicted 3, support 2 -> P 2/3, R 1, F1 0.8; y: TP 1, predicted 1, support 2 -> P 1, R 1/2, F1 2/3
    assert report["accuracy"] == 0.5  # rows 0 and 3 exactly right
    assert report["per_class"]["x"]["f1"] == pytest.approx(0.8)
    assert report["per_class"]["y"]["f1"] == pytest.approx(2 / 3)
    assert report["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)


# ---- Training workflow ------------------------------------------------------------------------


def test_split_validation_is_stratified():
    labels = np.array([0] * 30 + [1] * 10)
    train, valid = split_validation(labels, 0.2, seed=3)
    assert sorted(np.concatenate([train, valid]).tolist()) == list(range(40))
    assert np.bincount(labels[valid]).tolist() == [6, 2]


def test_fit_learns_writes_callback_files_and_report(tmp_path):
    keras.utils.set_random_seed(0)
    texts, labels = tiny_data(64)
    classifier = small_classifier(pooling="max")
    classifier.adapt(texts)
    history, seconds = fit_classifier(
        classifier, texts, labels, texts[:16], labels[:16], str(tmp_path), epochs=6, batch_size=16, learning_rate=0.03,
        verbose=0,
    )
    assert classifier.optimizer.clipnorm == 1.0  # gradient clipping on by default
    assert seconds > 0 and len(history.epoch) >= 1
    for name in ("checkpoints/best.weights.h5", "history.csv", "logs"):
        assert os.path.exists(tmp_path / name), name
    report = evaluate_classifier(classifier, texts, labels, out_dir=str(tmp_path), history=history)
    assert report["accuracy"] >= 0.9
    assert np.sum(report["confusion_matrix"]) == len(texts)
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 0
    assert (tmp_path / "training_curves.png").stat().st_size > 0


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)
        if epoch == self.at_epoch:
            raise KeyboardInterrupt("simulated interruption")


def test_interrupted_training_resumes(tmp_path, monkeypatch):
    texts, labels = tiny_data(16)
    classifier = small_classifier()
    classifier.adapt(texts)
    first = _Interrupt(at_epoch=2)
    original_fit = keras.Model.fit
    monkeypatch.setattr(
        keras.Model, "fit", lambda self, *a, callbacks=(), **k: original_fit(self, *a, callbacks=[*callbacks, first], **k)
    )
    with pytest.raises(KeyboardInterrupt):
        fit_classifier(classifier, texts, labels, texts, labels, str(tmp_path), epochs=4, patience=10, verbose=0)
    assert os.path.isdir(tmp_path / "backup")
    # The same command again: BackupAndRestore restores epoch 2's start and goes on from there.
    second = _Interrupt(at_epoch=None)
    monkeypatch.setattr(
        keras.Model, "fit", lambda self, *a, callbacks=(), **k: original_fit(self, *a, callbacks=[*callbacks, second], **k)
    )
    fit_classifier(small_classifier_like(classifier), texts, labels, texts, labels, str(tmp_path), epochs=4, patience=10, verbose=0)
    assert first.epochs == [0, 1, 2] and second.epochs == [2, 3]
    with open(tmp_path / "history.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1", "2", "3"]


def small_classifier_like(classifier):
    clone = TextClassifier.from_config(classifier.get_config())
    clone.set_vocabulary(classifier.vocabulary)
    return clone


def test_multi_label_head_trains_and_reports():
    texts, labels = tiny_data(16)
    multi_hot = np.stack([labels, 1 - labels, np.ones_like(labels)], axis=-1).astype("float32")  # (16, 3)
    classifier = small_classifier(["pos", "neg", "any"], head="multi_label", pooling="mean")
    classifier.adapt(texts)
    classifier.compile()
    logs = classifier.train_on_batch(tf.constant(texts), multi_hot, return_dict=True)
    assert np.isfinite(logs["loss"]) and "accuracy" in logs
    probabilities = classifier.predict_proba(texts)
    assert probabilities.shape == (16, 3)
    report = evaluate_classifier(classifier, texts, multi_hot)
    assert set(report["per_class"]) == {"pos", "neg", "any"} and "confusion_matrix" not in report


def test_cross_validate_two_folds(tmp_path):
    texts, labels = tiny_data(24)
    result = cross_validate(lambda: small_classifier(units=4), texts, labels, folds=2, out_dir=str(tmp_path), epochs=1, verbose=0)
    assert result["folds"] == 2 and len(result["fold_reports"]) == 2
    assert sum(r["examples"] for r in result["fold_reports"]) == len(texts)
    assert result["accuracy"] == pytest.approx(np.mean([r["accuracy"] for r in result["fold_reports"]]))
    assert os.path.isdir(tmp_path / "fold_1") and os.path.isdir(tmp_path / "fold_2")


def test_cross_validate_pretrains_every_fold_on_its_own_training_texts(tmp_path, monkeypatch):
    from lstm_keras.models.classification import pretraining

    from lstm_keras.datasets.classification import kfold_indices

    texts, labels = tiny_data(24)
    texts = [f"{text} w{i}" for i, text in enumerate(texts)]  # unique texts, to tell the folds apart
    calls = []
    real = pretraining.pretrain_classifier_from_lm

    def recording(classifier, fold_texts, epochs, **kwargs):
        calls.append((set(fold_texts), epochs))
        return real(classifier, fold_texts, epochs, batch_size=2, bptt=4, **kwargs)

    monkeypatch.setattr(pretraining, "pretrain_classifier_from_lm", recording)
    result = cross_validate(lambda: small_classifier(units=4), texts, labels, folds=2, out_dir=str(tmp_path),
                            pretrain_lm=1, epochs=1, verbose=0)
    assert [epochs for _, epochs in calls] == [1, 1] and result["folds"] == 2
    # Each fold's language model reads that fold's training texts (less validation), never its test texts.
    for (fold_texts, _), (train_index, test_index) in zip(calls, kfold_indices(len(texts), 2, seed=0, labels=labels)):
        assert fold_texts and fold_texts <= {texts[i] for i in train_index}
        assert not fold_texts & {texts[i] for i in test_index}


def test_ulmfit_fine_tuning_trains_the_head_alone_first_then_every_layer(tmp_path):
    texts, labels = tiny_data(32)
    classifier = small_classifier(units=4, pooling="attention")
    classifier.adapt(texts)
    before = {layer.name: [np.array(w) for w in layer.get_weights()] for layer in classifier.layers if layer.weights}
    fit_classifier(classifier, texts, labels, texts, labels, str(tmp_path / "one"), epochs=1, batch_size=8,
                   verbose=0, fine_tuning="ulmfit", patience=5)
    changed = sorted(name for name, weights in before.items()
                     if any(not np.array_equal(a, b) for a, b in zip(weights, classifier.get_layer(name).get_weights())))
    assert changed == ["attention_pooling", "predictions"]
    # The slanted schedule peaks at 0.01 by default, over 1 epoch of 4 steps (cut at step 1): after
    # 4 steps p = 1 - 3 / 9; after training every group learns again.
    p = 1 - 3 / 9
    assert float(classifier.optimizer.learning_rate) == pytest.approx(0.01 * (1 + p * 31) / 32, rel=1e-5)
    assert float(classifier.optimizer.group_factors()[-1]) == pytest.approx(2.6 ** -2)
    fit_classifier(classifier, texts, labels, texts, labels, str(tmp_path / "three"), epochs=3, batch_size=8,
                   verbose=0, fine_tuning="ulmfit", patience=5)
    assert all(not np.array_equal(a, b) for name, weights in before.items()
               for a, b in zip(weights, classifier.get_layer(name).get_weights()) if name == "token_embedding")
    with pytest.raises(ValueError, match="fine_tuning must be"):
        fit_classifier(classifier, texts, labels, texts, labels, str(tmp_path / "x"), fine_tuning="slow")


def test_train_classifier_one_member_is_a_classifier_in_out_dir(tmp_path):
    texts, labels = tiny_data(32)
    classifier, runs = train_classifier(lambda: small_classifier(units=4), texts, labels, str(tmp_path), seed=5,
                                        epochs=1, verbose=0)
    assert isinstance(classifier, TextClassifier) and len(runs) == 1
    assert runs[0]["seed"] == 5 and runs[0]["embeddings"] is None and runs[0]["pretraining"] is None
    assert runs[0]["seconds_per_epoch"] > 0 and len(runs[0]["history"].epoch) == 1
    assert os.path.exists(tmp_path / "checkpoints" / "best.weights.h5") and not os.path.exists(tmp_path / "member_1")


def test_train_classifier_members_are_the_runs_of_consecutive_seeds(tmp_path):
    texts, labels = tiny_data(32)
    texts = [f"{text} w{i}" for i, text in enumerate(texts)]  # unique words: a vocabulary shows its texts
    build = lambda: small_classifier(units=4, vocabulary_size=200)  # noqa: E731
    ensemble, runs = train_classifier(build, texts, labels, str(tmp_path / "ensemble"), members=2, seed=3,
                                      epochs=2, verbose=0)
    assert isinstance(ensemble, ClassifierEnsemble) and [run["seed"] for run in runs] == [3, 4]
    for number in (1, 2):
        assert os.path.exists(tmp_path / "ensemble" / f"member_{number}" / "history.csv")
    # Member 2 is exactly the one-member run of seed 4: same split, vocabulary and weights.
    alone, _ = train_classifier(build, texts, labels, str(tmp_path / "alone"), seed=4, epochs=2, verbose=0)
    assert ensemble.members[1].vocabulary == alone.vocabulary
    np.testing.assert_allclose(ensemble.members[1].predict_proba(texts), alone.predict_proba(texts), atol=1e-6)
    # Each member held out its own validation share: the texts each learned its vocabulary from differ.
    held_out = [{texts[i] for i in split_validation(labels, 0.1, seed=seed)[1]} for seed in (3, 4)]
    for member, held, other in zip(ensemble.members, held_out, held_out[::-1]):
        words = set(member.vocabulary)
        assert not any(text.split()[-1] in words for text in held)
        assert all(text.split()[-1] in words for text in other - held)
    np.testing.assert_allclose(
        ensemble.predict_proba(texts), np.mean([m.predict_proba(texts) for m in ensemble.members], axis=0), atol=1e-6
    )


def test_train_classifier_rejects_no_members(tmp_path):
    texts, labels = tiny_data(8)
    with pytest.raises(ValueError, match="members must be a positive int, received 0"):
        train_classifier(small_classifier, texts, labels, str(tmp_path), members=0)


@pytest.mark.large  # four trainings; cross_validate's folds and the ensemble's members are tested apart above
def test_cross_validate_with_an_ensemble_per_fold(tmp_path):
    texts, labels = tiny_data(24)
    result = cross_validate(lambda: small_classifier(units=4), texts, labels, folds=2, out_dir=str(tmp_path),
                            members=2, epochs=1, verbose=0)
    assert result["folds"] == 2 and sum(r["examples"] for r in result["fold_reports"]) == len(texts)
    assert sorted(os.listdir(tmp_path / "fold_2")) == ["member_1", "member_2"]


@pytest.mark.parametrize(
    "module", [text_classifier, text_standardizer, classification_metrics, classification_training, tuning],
    ids=lambda m: m.__name__.rsplit(".", 1)[-1],
)
def test_docstring_examples(module):
    import keras_tuner

    extraglobs = {"keras": keras, "tf": tf, "keras_tuner": keras_tuner}
    assert doctest.testmod(module, extraglobs=extraglobs).failed == 0


# Runs in a fresh interpreter that imports only TensorFlow.
SERVE_IMPORTS = """
import tensorflow as tf
"""
SERVE_PROBABILITIES = """
serve = tf.saved_model.load(path).signatures["serving_default"]
served = serve(texts=tf.constant([bytes.fromhex(t) for t in inputs], dtype=tf.string))
outputs = {"probabilities": served["probabilities"].numpy().tolist(),
           "label": [label.decode("utf-8") for label in served["label"].numpy()]}
assert not any(name.startswith("lstm_keras") for name in sys.modules)
"""


def test_task_checks(tmp_path):
    texts, labels = tiny_data(n=8)
    served_texts = [t.encode() for t in texts[:3]] + [t if isinstance(t, bytes) else t.encode() for t in BAD_INPUTS]

    def make_model():
        classifier = small_classifier(units=4, max_length=20, pooling="attention")
        classifier.adapt(texts)
        return classifier

    def expected(classifier):
        probabilities = classifier.predict_proba(served_texts)
        return {"probabilities": probabilities, "label": [classifier.label_names[i] for i in probabilities.argmax(-1)]}

    check_task(
        make_model,
        (tf.constant(texts), labels),
        tmp_path,
        predict=lambda classifier: classifier.predict_proba(texts + BAD_INPUTS),
        compile_kwargs={"run_eagerly": True},  # one step: tracing the train function would take longer
        export=ExportCheck(
            lambda classifier, directory: export_saved_model(classifier, os.path.join(directory, "saved_model")),
            SERVE_PROBABILITIES, [t.hex() for t in served_texts], expected,
            imports=SERVE_IMPORTS, backends=("tensorflow",),
        ),
    )
