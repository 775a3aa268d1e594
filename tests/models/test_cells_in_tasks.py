"""Every cell of `lstm_keras.layers.cells` in every task model: the training form (parallel, chunkwise,
fused or loop) and the step form agree inside the model, stateful TBPTT carries every state, training
lowers the loss, models round-trip, and bad combinations are clear errors."""

import keras
import numpy as np
import pytest
from keras import ops

from lstm_keras.layers.cells import CELLS
from lstm_keras.layers.cells import check_cell
from lstm_keras.models.classification import TextClassifier
from lstm_keras.models.language_modeling import LanguageModel
from lstm_keras.models.translation import Translator

# The LSTM is checked the same ways by each task's own tests. The training runs below take minGRU by default
# (and the translator the xLSTM stack too: an mLSTM and an sLSTM block), every cell with --large.
TASK_CELLS = ["slstm", "mlstm", "minlstm", "mingru", "xlstm[1:1]"]
LARGE_CELLS = ("slstm", "mlstm", "minlstm", "xlstm[1:1]")
HEAVY_CELLS = ["mingru"] + [pytest.param(cell, marks=pytest.mark.large) for cell in LARGE_CELLS]
V, END = 20, 2
NO_DROPOUT = {"embedding_dropout": 0.0, "dropout": 0.0, "output_dropout": 0.0}


def log_softmax(x):
    x = np.asarray(x, "float64")
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def language_model(cell, **kwargs):
    keras.utils.set_random_seed(0)
    return LanguageModel(V, embedding_dim=8, units=8, num_layers=2, cell=cell, **NO_DROPOUT, **kwargs)


@pytest.mark.parametrize("cell", TASK_CELLS)
def test_language_model_scores_in_parallel_what_it_generates_step_by_step(cell):
    model = language_model(cell)
    words = [5, 6, 7, 8, 9, 10, 11]
    log_probs, counts = model.score(np.array([words]))
    assert int(counts[0]) == len(words) + 1
    # The recurrent form, one token at a time from zero states (generation's path).
    state, total = model.initial_state(1), 0.0
    for token, target in zip([END] + words, words + [END]):
        logits, next_state, _ = model.decode_step(np.array([token]), {"lstm": state, "temperature": np.ones((1, 1))})
        state = next_state["lstm"]
        total += log_softmax(ops.convert_to_numpy(logits))[0, target]
    np.testing.assert_allclose(float(log_probs[0]), total, rtol=1e-4)
    # The functional model (the training graph) gives the same distributions.
    logits = ops.convert_to_numpy(model(np.array([[END] + words])))[0]
    targets = words + [END]
    np.testing.assert_allclose(log_softmax(logits)[np.arange(len(targets)), targets].sum(), total, rtol=1e-4)


@pytest.mark.parametrize("cell", TASK_CELLS)
def test_stateful_language_model_carries_every_state_across_windows(cell):
    stateless = language_model(cell)
    stateful = language_model(cell, batch_size=2)
    stateful.set_weights(stateless.get_weights())
    ids = np.random.default_rng(1).integers(3, V, size=(2, 9)).astype("int32")
    whole = ops.convert_to_numpy(stateless(ids))
    windows = [ops.convert_to_numpy(stateful(ids[:, :4])), ops.convert_to_numpy(stateful(ids[:, 4:]))]
    np.testing.assert_allclose(np.concatenate(windows, axis=1), whole, atol=1e-4, rtol=1e-4)
    stateful.reset_states()
    np.testing.assert_allclose(ops.convert_to_numpy(stateful(ids[:, :4])), whole[:, :4], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("cell", HEAVY_CELLS)
def test_language_model_trains_generates_and_round_trips(cell, tmp_path):
    model = language_model(cell)
    model.compile()  # the cell's optimiser (SGD or Adam) at its default learning rate
    rng = np.random.default_rng(2)
    inputs = np.tile(np.arange(3, 11, dtype="int32"), (8, 2))[:, :12]  # a repeating pattern to learn
    targets = np.roll(inputs, -1, axis=1)
    history = model.fit(inputs, targets, epochs=8, batch_size=8, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    generated = model.generate_ids(rng.integers(3, V, size=(2, 3)), max_length=5, sampler="greedy")
    assert generated.shape[0] == 2 and generated.shape[1] <= 5
    path = str(tmp_path / "lm.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded.cell == cell
    np.testing.assert_allclose(ops.convert_to_numpy(reloaded(inputs[:2])), ops.convert_to_numpy(model(inputs[:2])),
                               atol=1e-5)


@pytest.mark.parametrize("cell", HEAVY_CELLS)
def test_bidirectional_classifier_trains_and_round_trips(cell, tmp_path):
    keras.utils.set_random_seed(0)
    texts = ["a good film", "a bad film", "good good fun", "bad and dull", "fun and good", "dull bad plot"] * 2
    labels = np.array([1, 0, 1, 0, 1, 0] * 2)
    classifier = TextClassifier(["negative", "positive"], vocabulary_size=30, embedding_dim=8, units=4, num_layers=1,
                                cell=cell, bidirectional=True, pooling="max", dropout=0.0)
    classifier.adapt(texts)
    classifier.compile(learning_rate=0.03)
    history = classifier.fit(ops.convert_to_tensor(texts), labels, epochs=4, batch_size=6, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    probabilities = classifier.predict_proba(["a good film", "", "dull"])
    assert probabilities.shape == (3, 2) and np.isfinite(probabilities).all()
    path = str(tmp_path / "classifier.keras")
    classifier.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(reloaded.predict_proba(["a good film", "", "dull"]), probabilities, atol=1e-5)


@pytest.mark.parametrize("cell", ["mingru", "xlstm[1:1]"] + [pytest.param(cell, marks=pytest.mark.large)
                                                             for cell in LARGE_CELLS[:3]])
def test_translator_teacher_forcing_equals_step_by_step(cell):
    keras.utils.set_random_seed(0)
    source = np.array([[1, 5, 6, 7, 2], [1, 8, 2, 0, 0]], "int32")
    target_in = np.array([[1, 4, 5, 6], [1, 7, 0, 0]], "int32")
    translator = Translator(12, 11, embedding_dim=6, units=4, num_layers=2, cell=cell, dropout=0.0)
    logits = ops.convert_to_numpy(translator((source, target_in)))
    state = translator.initial_decoding_state(source)
    for t in range(target_in.shape[1]):
        step_logits, state, _ = translator.decoder.step(target_in[:, t], state)
        np.testing.assert_allclose(ops.convert_to_numpy(step_logits), logits[:, t], atol=1e-4, rtol=1e-4)
    # Padding does not change a sentence's encoding.
    outputs, _ = translator.encoder(source[1:2])
    alone, _ = translator.encoder(source[1:2, :3])
    np.testing.assert_allclose(ops.convert_to_numpy(outputs)[:, :3], ops.convert_to_numpy(alone), atol=1e-5)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: check_cell("gru"), r"`cell`: received 'gru'"),
        (lambda: check_cell("xlstm[0:0]"), r"`cell`: received 'xlstm\[0:0\]'"),
        (lambda: check_cell("xlstm[a:1]"), r"`cell`"),
        (lambda: LanguageModel(V, cell="mlstm", gating="cifg"), r"cell='mlstm' with gating='cifg'"),
        (lambda: Translator(12, 11, cell="minlstm", gating="peephole"), r"cell='minlstm' with gating='peephole'"),
        (lambda: TextClassifier(["a", "b"], cell="mingru", gating="nog"), r"cell='mingru' with gating='nog'"),
        (lambda: TextClassifier(["a", "b"], cell="mlstm", lstm_options={"dropout": 0.1}), r"lstm_options"),
    ],
)
def test_bad_cells_and_combinations_are_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_every_cell_name_is_documented_and_checked():
    assert set(TASK_CELLS[:-1]) | {"lstm"} < set(CELLS) and "xlstm[A:B]" in CELLS
    assert check_cell("xlstm[7:1]") == (7, 1) and check_cell("lstm", gating="cifg") is None
