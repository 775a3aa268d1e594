"""Language-model pretraining of a `TextClassifier`: the stream it reads, the weights it copies."""

import keras
import numpy as np
import pytest

from lstm_keras.models.classification import TextClassifier
from lstm_keras.models.classification.pretraining import classifier_token_stream
from lstm_keras.models.classification.pretraining import copy_language_model_weights
from lstm_keras.models.classification.pretraining import pretrain_classifier_from_lm
from lstm_keras.models.language_model import LanguageModel


def test_pretraining_copies_the_language_model_into_a_classifier():
    texts = [f"the film was {w} and {v}" for w in ("good", "bad", "dull") for v in ("slow", "fun", "long")] * 4
    keras.utils.set_random_seed(0)
    classifier = TextClassifier(["neg", "pos"], vocabulary_size=30, embedding_dim=6, units=5, max_length=8)
    classifier.adapt(texts)
    stream = classifier_token_stream(classifier, texts[:2])
    end = len(classifier.vocabulary)
    assert stream.tolist() == classifier.vectorizer(texts[:1]).numpy()[0].tolist() + [end] + \
        classifier.vectorizer(texts[1:2]).numpy()[0].tolist() + [end]
    # Copying by layer name: the LSTM weights and the embedding rows of the classifier's ids.
    language_model = LanguageModel(end + 1, embedding_dim=6, units=5, num_layers=1, gating="vanilla",
                                   start_token_id=None, end_token_id=end)
    embeddings_before = np.asarray(classifier.token_embedding.embeddings).copy()
    assert copy_language_model_weights(language_model, classifier) == ["token_embedding", "lstm_1"]
    for mine, theirs in zip(classifier.get_layer("lstm_1").weights, language_model.get_layer("lstm_1").weights):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    embeddings = np.asarray(classifier.token_embedding.embeddings)
    np.testing.assert_array_equal(embeddings[:end + 1], np.asarray(language_model.token_embedding.embeddings))
    np.testing.assert_array_equal(embeddings[end + 1:], embeddings_before[end + 1:])
    result = pretrain_classifier_from_lm(classifier, texts, epochs=1, batch_size=2, bptt=5)
    assert result["copied_layers"] == ["token_embedding", "lstm_1"] and result["lm_train_perplexity"] > 1
    assert classifier.predict_proba(["the film was good"]).shape == (1, 2)
    bidirectional = TextClassifier(["neg", "pos"], vocabulary_size=30, embedding_dim=6, units=5, bidirectional=True)
    bidirectional.adapt(texts)
    with pytest.raises(ValueError, match="bidirectional"):
        pretrain_classifier_from_lm(bidirectional, texts, epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        pretrain_classifier_from_lm(classifier, texts, epochs=0)


def test_sequence_autoencoder_reads_each_text_then_writes_it_again():
    from lstm_keras.models.classification.pretraining import _autoencoder_dataset
    from lstm_keras.models.classification.pretraining import classifier_token_rows

    texts = ["good film", "a slow and dull film", "fun", "", "long and good and fun"] * 3
    keras.utils.set_random_seed(0)
    classifier = TextClassifier(["neg", "pos"], vocabulary_size=30, embedding_dim=6, units=5, max_length=8)
    classifier.adapt(texts)
    end = len(classifier.vocabulary)
    rows = classifier_token_rows(classifier, texts)
    seen = []
    for inputs, targets in _autoencoder_dataset(rows, end, batch_size=4):
        assert inputs.shape == targets.shape
        for row_in, row_out in zip(inputs.numpy(), targets.numpy()):
            size = (int((row_in != 0).sum()) - 1) // 2  # [x, END, x] then padding
            x = row_in[:size]
            assert row_in[:2 * size + 1].tolist() == x.tolist() + [end] + x.tolist()
            assert row_out[:2 * size + 1].tolist() == [0] * size + x.tolist() + [end]
            assert not row_in[2 * size + 1:].any() and not row_out[2 * size + 1:].any()
            seen.append(x.tolist())
    # Every text once (the empty one is [UNK], as the classifier reads it).
    assert sorted(seen) == sorted(row.tolist() for row in rows) and [1] in seen
    result = pretrain_classifier_from_lm(classifier, texts, epochs=2, batch_size=4, objective="autoencoder",
                                         valid_texts=texts[:5])
    assert result["lm_objective"] == "autoencoder" and result["copied_layers"] == ["token_embedding", "lstm_1"]
    assert result["lm_tokens"] == sum(len(row) + 1 for row in rows) and result["lm_epochs"] == 2
    assert result["lm_valid_perplexity"] > 1
    with pytest.raises(ValueError, match="objective must be one of"):
        pretrain_classifier_from_lm(classifier, texts, epochs=1, objective="masked")
