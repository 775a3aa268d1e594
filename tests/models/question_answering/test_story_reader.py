"""`StoryReader`: its sentence encoder (check_layer), shapes, masking, attention, saving and learning."""

import doctest
import os

import keras
import numpy as np
import pytest
from keras import ops

from layer_checks import check_layer
from task_checks import ExportCheck
from task_checks import check_task
from lstm_keras.datasets.stories import build_vocabulary
from lstm_keras.datasets.stories import generate_stories
from lstm_keras.datasets.stories import vectorize_stories
from lstm_keras.models.question_answering import StoryReader
from lstm_keras.models.question_answering import story_reader

# Two stories of 3 sentences of up to 4 words: the second has one real sentence.
STORY = np.array(
    [
        [[3, 4, 5, 6], [7, 4, 8, 0], [9, 10, 0, 0]],
        [[5, 6, 7, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    ],
    "int32",
)
QUESTION = np.array([[11, 3, 0], [11, 5, 12]], "int32")
REAL = STORY.any(-1)  # (batch, S)


def small_reader(**kwargs):
    options = dict(vocabulary_size=14, embedding_dim=6, units=5, max_sentences=4, dropout=0.0)
    options.update(kwargs)
    return StoryReader(**options)


def test_sentence_encoder_layer_checks(tmp_path):
    encoded = check_layer(
        lambda: story_reader._SentenceEncoder(14, 6, 5, gating="cifg"), [STORY], tmp_dir=tmp_path,
    )
    assert encoded.shape == (2, 3, 5)


def test_sentence_encoder_reads_each_sentence_alone():
    encoder = story_reader._SentenceEncoder(14, 6, 5)
    encoded = ops.convert_to_numpy(encoder(STORY))  # (2, 3, 5)
    for row, column in [(0, 0), (0, 1), (1, 0)]:
        words = STORY[row, column][STORY[row, column] != 0]
        alone = ops.convert_to_numpy(encoder(words[None, None, :]))[0, 0]  # the sentence without padding
        np.testing.assert_allclose(encoded[row, column], alone, atol=1e-5)


@pytest.mark.parametrize("attention", ["luong-general", "luong-dot", "luong-concat", "bahdanau"])
def test_shapes_and_attention_sums_to_one_over_real_sentences(attention):
    reader = small_reader(attention=attention, hops=3, gating="peephole")
    assert tuple(reader((STORY, QUESTION)).shape) == (2, 14)
    weights = reader.attention_weights(STORY, QUESTION)
    assert weights.shape == (2, 3, 3)  # (batch, hops, S)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    mask = np.broadcast_to(REAL[:, None, :], weights.shape)
    np.testing.assert_array_equal(weights[~mask], 0.0)  # no attention on padding sentences
    assert (weights[mask] > 0).all()


def test_padding_does_not_change_the_answer():
    reader = small_reader()
    logits = ops.convert_to_numpy(reader((STORY, QUESTION)))
    more_sentences = np.concatenate([STORY, np.zeros((2, 2, 4), "int32")], axis=1)
    more_words = np.concatenate([STORY, np.zeros((2, 3, 3), "int32")], axis=2)
    longer_question = np.concatenate([QUESTION, np.zeros((2, 2), "int32")], axis=1)
    for story, question in [(more_sentences, QUESTION), (more_words, QUESTION), (STORY, longer_question)]:
        np.testing.assert_allclose(ops.convert_to_numpy(reader((story, question))), logits, atol=1e-5)


def test_positions_count_the_real_sentences_after_each_one():
    mask = np.array([[True, True, True, False], [True, False, False, False]])
    np.testing.assert_array_equal(ops.convert_to_numpy(story_reader._positions_from_end(mask)), [[2, 1, 0, 0], [0, 0, 0, 0]])


def test_config_and_saving_round_trip(tmp_path):
    reader = small_reader(attention="bahdanau", hops=1, gating={"peepholes": True}, attention_units=3)
    reader.compile()
    reader.train_on_batch((STORY, QUESTION), np.array([3, 7]))  # builds the optimizer, saved with the model
    config = reader.get_config()
    clone = StoryReader.from_config(config)
    assert clone.get_config() == config
    path = os.path.join(tmp_path, "reader.keras")
    reader.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded, StoryReader) and reloaded.get_config() == config
    assert reloaded.optimizer.learning_rate == reader.optimizer.learning_rate
    np.testing.assert_allclose(
        ops.convert_to_numpy(reloaded((STORY, QUESTION))), ops.convert_to_numpy(reader((STORY, QUESTION))), atol=1e-6
    )
    np.testing.assert_allclose(reloaded.attention_weights(STORY, QUESTION), reader.attention_weights(STORY, QUESTION),
                               atol=1e-6)


def test_invalid_arguments_name_the_argument():
    for kwargs, name in [({"attention": "cosine"}, "attention"), ({"hops": 0}, "hops"),
                         ({"max_sentences": 0}, "max_sentences"), ({"gating": "nothing"}, "gating")]:
        with pytest.raises(ValueError, match=f"`{name}`"):
            small_reader(**kwargs)


def test_initial_loss_is_about_log_vocabulary_size():
    keras.utils.set_random_seed(0)
    reader = small_reader(vocabulary_size=40)
    reader.compile()
    loss = reader.evaluate((STORY, QUESTION), np.array([3, 7]), verbose=0, return_dict=True)["loss"]
    assert abs(loss - np.log(40)) < 0.2


def test_learns_single_supporting_fact_above_chance():
    keras.utils.set_random_seed(0)
    train = generate_stories(2000, "single_supporting_fact", seed=0, max_sentences=6)
    test = generate_stories(300, "single_supporting_fact", seed=1, max_sentences=6)
    vocabulary = build_vocabulary(train)
    train_arrays = vectorize_stories(train, vocabulary, max_sentences=6, max_words=5, max_question_words=3)
    test_arrays = vectorize_stories(test, vocabulary, max_sentences=6, max_words=5, max_question_words=3)
    reader = StoryReader(len(vocabulary), embedding_dim=16, units=32, hops=1, max_sentences=6)
    reader.compile()
    reader.fit(train_arrays.inputs, train_arrays.answer_ids, batch_size=32, epochs=8, verbose=0)
    predictions = reader.predict(test_arrays.inputs, verbose=0).argmax(-1)
    accuracy = (predictions == test_arrays.answer_ids).mean()
    # Chance: always the most frequent room of the test answers (about 1 / 6).
    chance = np.bincount(test_arrays.answer_ids).max() / len(test_arrays)
    assert accuracy > chance + 0.3, (accuracy, chance)


def test_docstring_examples():
    assert doctest.testmod(story_reader, extraglobs={"ops": ops}).failed == 0


LOAD_IMPORTS = """
import numpy as np
from keras import ops
from lstm_keras.saving import load_keras_model
"""
LOAD_AND_ANSWER = """
reader = load_keras_model(path)
story, question = np.array(inputs["story"], "int32"), np.array(inputs["question"], "int32")
outputs = {"logits": ops.convert_to_numpy(reader((story, question))).tolist(),
           "attention": reader.attention_weights(story, question).tolist()}
"""


def test_task_checks(tmp_path):
    def predict(reader):
        return {"logits": ops.convert_to_numpy(reader((STORY, QUESTION))),
                "attention": reader.attention_weights(STORY, QUESTION)}

    def save(reader, directory):
        path = os.path.join(directory, "reader.keras")
        reader.save(path)
        return path

    check_task(
        lambda: small_reader(hops=2),
        ((STORY, QUESTION), np.array([3, 7])),
        tmp_path,
        predict=predict,
        compile_kwargs={"run_eagerly": True},  # one step: tracing the train function would take longer
        export=ExportCheck(save, LOAD_AND_ANSWER, {"story": STORY.tolist(), "question": QUESTION.tolist()}, predict,
                           imports=LOAD_IMPORTS),
    )
