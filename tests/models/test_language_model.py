"""`LanguageModel`: exact stream perplexity, scoring and generation against a NumPy LSTM; TBPTT; tying."""

import keras
import numpy as np
import pytest

from layers.numpy_lstm import run_lstm
from layers.numpy_lstm import weights_by_name
from layers.test_adaptive_softmax import reference_log_probs
from lstm_keras.decoding import RandomSampler
from lstm_keras.layers import VARIANTS
from lstm_keras.layers.masking import MASKED_VALUE as FORBIDDEN_LOGIT
from lstm_keras.models.language_model import MAX_GENERATED_TOKENS
from lstm_keras.models.language_modeling import LanguageModel
from lstm_keras.models.truncated_bptt import check_training_stream
from lstm_keras.models.truncated_bptt import PerplexityEvaluator
from lstm_keras.models.truncated_bptt import evaluate_perplexity
from lstm_keras.models.truncated_bptt import evaluation_batch_size
from lstm_keras.models.truncated_bptt import fit_language_model
from lstm_keras.training import ResetStates

PAD, START, END = 0, 1, 2
V = 12


def numpy_log_probs(model, inputs, mask=None):
    """Log-probabilities `(rows, T, V)` of the next token after every input, each row from zero states.

    Written from the model's equations with the NumPy LSTM of the layer tests, reading the weights
    by name: embedding lookup, stacked LSTMs, `h W + b` with `W = E^T` when tied, the forbidden
    ids, a float64 log-softmax (or the adaptive softmax's float64 reference of its layer tests).
    """
    weights = {w.name: np.asarray(w, "float64") for w in model.token_embedding.weights}
    x = numpy_hidden(model, inputs, mask)  # (rows, T, units)
    if model.softmax == "adaptive":
        return reference_log_probs(model.adaptive_softmax, x, weights["embeddings"] if model.tie_weights else None)
    kernel = weights["embeddings"].T if model.tie_weights else weights["output_kernel"]
    logits = x @ kernel + weights["output_bias"]  # (rows, T, V)
    logits[..., [PAD, START]] += FORBIDDEN_LOGIT
    return log_softmax(logits)


def numpy_hidden(model, inputs, mask=None):
    """The last LSTM layer's outputs `(rows, T, units)` after every input, each row from zero states (NumPy)."""
    x = np.asarray(model.token_embedding.embeddings, "float64")[np.asarray(inputs)]  # (rows, T, d)
    for lstm in model.lstm_layers:
        x, _, _ = run_lstm(x, weights_by_name(lstm.cell), lstm.cell.get_config(), mask=mask)
    return x


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def markov_stream(seed, length):
    """A stream drawn from one sparse Markov chain over the real ids (3 .. V-1) and [END]: something to learn."""
    ids = np.arange(END, V)
    table = np.random.default_rng(0).dirichlet(np.full(len(ids), 0.15), size=V)
    rng = np.random.default_rng(seed)
    stream, token = [], END
    for _ in range(length):
        token = rng.choice(ids, p=table[token])
        stream.append(token)
    return np.array(stream, "int32")


def untrained(**kwargs):
    keras.utils.set_random_seed(0)
    options = dict(embedding_dim=6, units=6, num_layers=2, embedding_dropout=0.0, dropout=0.0, output_dropout=0.0)
    return LanguageModel(V, **{**options, **kwargs})


@pytest.fixture(scope="module")
def trained():
    """A tiny tied 2-layer model trained for two epochs of truncated BPTT (3 streams, 5 steps)."""
    keras.utils.set_random_seed(1)
    model = LanguageModel(V, embedding_dim=6, units=6, num_layers=2, tie_weights=True, batch_size=3,
                          embedding_dropout=0.1, dropout=0.1, output_dropout=0.1)
    model.compile(learning_rate=2.0)
    train, valid = markov_stream(0, 600), markov_stream(1, 97)
    before = evaluate_perplexity(model, valid, bptt=5)["perplexity"]
    history, stats = fit_language_model(model, train, valid, bptt=5, epochs=2, verbose=0)
    return {"model": model, "before": before, "history": history.history, "stats": stats}


def test_training_lowers_the_validation_perplexity(trained):
    valid = trained["history"]["val_perplexity"]
    assert len(valid) == 2 and valid[-1] < trained["before"] < V
    assert trained["stats"]["train_tokens_per_second"] > 0


@pytest.mark.parametrize("length, bptt", [(23, 4), (1, 3), (40, 7)])
def test_stream_perplexity_matches_numpy_every_token_once(trained, length, bptt):
    """Batch 1: exp(mean NLL) over the whole stream, states carried across the windows."""
    model = trained["model"]
    single = LanguageModel.from_config({**model.get_config(), "batch_size": 1})
    single.set_weights(model.get_weights())
    single.compile()
    stream = markov_stream(2, length)
    inputs = np.concatenate([[END], stream[:-1]])[None]  # (1, N)
    log_probs = numpy_log_probs(single, inputs)[0, np.arange(length), stream]  # (N,)
    result = evaluate_perplexity(single, stream, bptt=bptt)
    assert result["tokens"] == length
    np.testing.assert_allclose(result["perplexity"], np.exp(-log_probs.mean()), rtol=1e-5)


def test_parallel_streams_perplexity_matches_numpy(trained):
    """Batch 3: each row is a contiguous part of the stream, read from zero states; every token once."""
    model = trained["model"]
    stream = markov_stream(3, 31)  # 31 = 3 rows of 11, the last with 9 tokens
    inputs = np.concatenate([[END], stream[:-1]])
    total = 0.0
    for start in range(0, 31, 11):
        row_in, row_out = inputs[start:start + 11], stream[start:start + 11]
        total += numpy_log_probs(model, row_in[None])[0, np.arange(len(row_out)), row_out].sum()
    result = evaluate_perplexity(model, stream, bptt=4)
    np.testing.assert_allclose(result["perplexity"], np.exp(-total / 31), rtol=1e-5)
    # Evaluating again gives the same number: the states are reset before each pass.
    np.testing.assert_allclose(evaluate_perplexity(model, stream, bptt=4)["perplexity"], result["perplexity"])


def test_a_larger_evaluation_batch_warms_its_rows_up_and_scores_every_token_once(trained):
    """Batch 4, warm-up 5: row r reads stream positions [r L, r L + L + 5) from zero states, the first 5 unscored."""
    model = trained["model"]  # trained at batch 3
    stream = markov_stream(5, 41)  # L = ceil((41 - 5) / 4) = 9
    inputs = np.concatenate([[END], stream[:-1]])
    total = 0.0
    for r in range(4):
        start, scored_from = 9 * r, 0 if r == 0 else 5
        row_in, row_out = inputs[start:start + 14], stream[start:start + 14]
        total += numpy_log_probs(model, row_in[None])[0, np.arange(len(row_out)), row_out][scored_from:].sum()
    evaluator = PerplexityEvaluator(model, bptt=4, batch_size=4, warmup=5)
    result = evaluator(stream)
    assert result["tokens"] == 41 and evaluator.batch_size == 4 and model.batch_size == 3
    np.testing.assert_allclose(result["perplexity"], np.exp(-total / 41), rtol=1e-5)
    # A warm-up reaching back to the stream's start gives every token its whole history: one row's numbers.
    whole = evaluate_perplexity(model, stream, bptt=4, batch_size=1)["perplexity"]
    np.testing.assert_allclose(PerplexityEvaluator(model, 4, batch_size=2, warmup=40)(stream)["perplexity"], whole,
                               rtol=1e-5)


def test_the_evaluator_compiles_once_and_follows_the_weights(trained):
    model = trained["model"]
    evaluator = PerplexityEvaluator(model, bptt=4, batch_size=6)
    reader = evaluator._reader
    traces = []
    test_step = reader.test_step
    reader.test_step = lambda data: (traces.append(1), test_step(data))[1]  # Python runs once per trace
    first = evaluator(markov_stream(6, 90))
    assert traces and first["tokens"] == 90
    counted = len(traces)
    evaluator(markov_stream(7, 200))  # another stream (the test set after the validation set): no new trace
    assert len(traces) == counted
    # The reader takes the model's current weights at every call.
    saved = model.get_weights()
    model.set_weights([w * 0.5 for w in saved])
    halved = evaluator(markov_stream(6, 90))["perplexity"]
    model.set_weights(saved)
    assert abs(halved - first["perplexity"]) > 1e-3
    np.testing.assert_allclose(evaluator(markov_stream(6, 90))["perplexity"], first["perplexity"], rtol=1e-6)


def test_evaluation_batch_size_adapts_to_the_stream_and_the_vocabulary():
    small, large = (LanguageModel(v, embedding_dim=4, units=4, batch_size=20) for v in (10000, 1000000))
    assert evaluation_batch_size(small, 82430, bptt=35) == 117  # PTB's test set: the warm-up's 10% share
    assert evaluation_batch_size(small, 10 ** 7, bptt=35) == 128  # the cap
    assert evaluation_batch_size(large, 10 ** 7, bptt=35) == 1  # 1M words: one row's logits is what fits
    assert evaluation_batch_size(small, 500, bptt=35) == 1


def test_states_carry_across_batches_and_reset(trained):
    model = trained["model"]
    ids = markov_stream(4, 30).reshape(3, 10)
    model.reset_states()
    first, second = model(ids[:, :4]), model(ids[:, 4:])  # two windows, state carried
    whole = numpy_log_probs(model, ids)  # (3, 10, V)
    carried = log_softmax(np.concatenate([np.asarray(first, "float64"), np.asarray(second, "float64")], axis=1))
    np.testing.assert_allclose(carried[..., 3:], whole[..., 3:], atol=1e-4)
    callback = ResetStates()
    callback.set_model(model)
    callback.on_epoch_begin(0)
    assert all(float(np.abs(np.asarray(s)).sum()) == 0.0 for lstm in model.lstm_layers for s in lstm.states)


def test_score_matches_numpy():
    model = untrained(tie_weights=False, units=[5, 4])
    sentences = np.array([[5, 6, 7], [8, 0, 0], [0, 0, 0]])
    log_probs, counts = model.score(sentences)
    assert np.asarray(counts).tolist() == [4, 2, 1]
    for row, words in enumerate(([5, 6, 7], [8], [])):
        sequence = [END] + words + [END]
        reference = numpy_log_probs(model, np.array([sequence[:-1]]))[0, np.arange(len(words) + 1), sequence[1:]]
        np.testing.assert_allclose(float(log_probs[row]), reference.sum(), rtol=1e-5)


def test_generation_follows_the_model_and_temperature(trained):
    model = trained["model"]  # stateful with 3 streams; generation takes any batch
    prompts = np.array([[5, 6, 7], [8, 0, 0], [0, 0, 0], [3, 3, 0]])  # the last: only [UNK]s
    greedy = model.generate_ids(prompts, max_length=6, sampler="greedy")
    assert greedy.shape[0] == 4 and greedy.shape[1] <= 6
    for row, words in enumerate(([5, 6, 7], [8], [], [3, 3])):
        next_token = numpy_log_probs(model, np.array([[END] + words]))[0, -1].argmax()
        assert greedy[row, 0] == next_token
    assert not np.isin(greedy, [START]).any()
    cold = model.generate_ids(prompts, max_length=6, sampler=RandomSampler(seed=3), temperature=1e-3)
    np.testing.assert_array_equal(cold, greedy)
    long = model.generate_ids(prompts, max_length=9, sampler="random", stop_at_end=False)
    assert long.shape == (4, 9) and (long != PAD).all()


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"max_length": 0}, "max_length"),
        ({"max_length": MAX_GENERATED_TOKENS + 1}, "max_length"),
        ({"max_length": 5, "temperature": 0.0}, "temperature"),
        ({"max_length": 5, "temperature": -1.0}, "temperature"),
        ({"max_length": 5, "temperature": float("nan")}, "temperature"),
    ],
)
def test_bad_generation_arguments_name_the_argument(kwargs, argument):
    model = untrained(num_layers=1)
    with pytest.raises(ValueError, match=argument):
        model.generate_ids(np.array([[5]]), **kwargs)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_gating_preset_scores_like_numpy_and_steps_like_its_loop(variant):
    model = untrained(num_layers=1, units=4, embedding_dim=4, gating=variant)
    words = [5, 6, 7, 8]
    log_probs, _ = model.score(np.array([words]))
    sequence = [END] + words + [END]
    reference = numpy_log_probs(model, np.array([sequence[:-1]]))[0, np.arange(5), sequence[1:]]
    np.testing.assert_allclose(float(log_probs[0]), reference.sum(), rtol=1e-4)
    # The step function (the cell, one token at a time) gives the loop's logits.
    start, state = model.prompt_state(np.array([words]))
    logits, _, _ = model.decode_step(start, {"lstm": state, "temperature": np.ones((1, 1), "float32")})
    step = log_softmax(np.asarray(logits, "float64")[0])
    np.testing.assert_allclose(step[3:], numpy_log_probs(model, np.array([[END] + words]))[0, -1, 3:], atol=1e-4)


def test_weight_tying_shares_the_matrix_and_checks_sizes():
    tied, untied = untrained(tie_weights=True), untrained(tie_weights=False)
    assert untied.count_params() - tied.count_params() == V * 6
    assert "output_kernel" not in [w.name for w in tied.token_embedding.weights]
    with pytest.raises(ValueError, match="tie_weights.*embedding_dim"):
        untrained(tie_weights=True, units=[6, 8])
    projected = untrained(tie_weights=True, units=[6, 8], project_output=True)
    assert projected.output_projection.kernel.shape == (8, 6)
    assert tuple(projected(np.array([[2, 5, 6]])).shape) == (1, 3, V)


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"units": [4]}, "units"), ({"dropout": 1.0}, "dropout"), ({"batch_size": 0}, "batch_size"),
     ({"end_token_id": 0}, "end_token_id"), ({"num_layers": 0}, "num_layers"), ({"gating": "nope"}, "gating")],
)
def test_bad_constructor_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        untrained(**kwargs)


def test_locked_dropout_uses_one_mask_per_sequence():
    model = untrained(embedding_dropout=0.5)
    dropped = np.asarray(model.embedding_dropout(np.ones((4, 9, 6), "float32"), training=True))
    np.testing.assert_array_equal(dropped, np.repeat(dropped[:, :1], 9, axis=1))
    assert 0 < (dropped == 0).mean() < 1


def test_too_short_training_stream_names_bptt():
    with pytest.raises(ValueError, match="bptt"):
        check_training_stream(np.arange(10), batch_size=4, bptt=5)
    with pytest.raises(ValueError, match="stateful"):
        fit_language_model(untrained(), markov_stream(0, 50), bptt=5, epochs=1, verbose=0)


def test_save_and_load_round_trip(trained, tmp_path):
    model = trained["model"]
    path = str(tmp_path / "lm.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_config() == model.get_config()
    sentences = np.array([[5, 6, 7], [8, 9, 0]])
    np.testing.assert_allclose(np.asarray(loaded.score(sentences)[0]), np.asarray(model.score(sentences)[0]), rtol=1e-6)
    assert loaded.optimizer is not None


# ------------------------------------------------------------------------------ adaptive softmax
VA = 40  # a vocabulary for the adaptive softmax: head [0, 10), clusters [10, 25) and [25, 40)


def zipf_stream(seed, length):
    """Ids 2 .. VA-1 ([END] included) with Zipf-like frequencies: the head is frequent, the tail rare."""
    ids = np.arange(END, VA)
    p = 1.0 / (ids - 1.0)
    return np.random.default_rng(seed).choice(ids, size=length, p=p / p.sum()).astype("int32")


@pytest.mark.parametrize("tie_weights", [False, True])
def test_adaptive_softmax_perplexity_and_scores_match_numpy(tie_weights):
    """The loss path (a tail cluster only where its targets are) against the full NumPy distribution."""
    keras.utils.set_random_seed(3)
    model = LanguageModel(VA, embedding_dim=6, units=6, num_layers=1, tie_weights=tie_weights, batch_size=1,
                          softmax="adaptive", cutoffs=[10, 25])
    model.compile(learning_rate=1.0)
    assert model.get_config()["cutoffs"] == [10, 25] and "output_kernel" not in [w.name for w in model.weights]
    stream = zipf_stream(0, 37)
    inputs = np.concatenate([[END], stream[:-1]])[None]  # (1, N)
    reference = numpy_log_probs(model, inputs)  # (1, N, VA)
    np.testing.assert_allclose(np.exp(reference).sum(-1), 1.0, atol=1e-9)
    assert np.exp(reference[..., [PAD, START]]).max() < 1e-30  # never predicted
    log_probs = reference[0, np.arange(37), stream]
    assert (stream >= 10).any() and (stream >= 25).any()  # targets in every cluster
    result = evaluate_perplexity(model, stream, bptt=8)
    np.testing.assert_allclose(result["perplexity"], np.exp(-log_probs.mean()), rtol=1e-5)
    # hidden_to_logits (generation, scoring) gives the same distribution.
    hidden = model.encode(inputs)[0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.hidden_to_logits(hidden)), reference, atol=1e-4)
    scores, counts = model.score(np.array([[12, 30, 5], [0, 0, 0]]))
    sequence = [END, 12, 30, 5, END]
    expected = numpy_log_probs(model, np.array([sequence[:-1]]))[0, np.arange(4), sequence[1:]].sum()
    np.testing.assert_allclose(float(scores[0]), expected, rtol=1e-5)


def test_adaptive_softmax_trains_and_round_trips(tmp_path):
    keras.utils.set_random_seed(4)
    model = LanguageModel(VA, embedding_dim=8, units=8, num_layers=1, tie_weights=True, batch_size=4,
                          softmax="adaptive", cutoffs=[10, 25], embedding_dropout=0.0, dropout=0.0,
                          output_dropout=0.0)
    model.compile(learning_rate=1.0)
    train, valid = zipf_stream(1, 2000), zipf_stream(2, 400)
    before = evaluate_perplexity(model, valid, bptt=10)["perplexity"]
    history, _ = fit_language_model(model, train, valid, bptt=10, epochs=2, verbose=0)
    assert history.history["val_perplexity"][-1] < before
    assert history.history["perplexity"][-1] == pytest.approx(np.exp(history.history["loss"][-1]), rel=0.05)
    path = str(tmp_path / "adaptive.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.softmax == "adaptive" and loaded.cutoffs == [10, 25]
    np.testing.assert_allclose(evaluate_perplexity(loaded, valid, bptt=10)["perplexity"],
                               evaluate_perplexity(model, valid, bptt=10)["perplexity"], rtol=1e-6)


@pytest.mark.parametrize("kwargs, argument", [
    ({"softmax": "sampled"}, "softmax"),
    ({"cutoffs": [5]}, "cutoffs"),
    ({"softmax": "adaptive", "cutoffs": [30, 20]}, "cutoffs"),
    ({"softmax": "adaptive", "cutoffs": [10, VA]}, "cutoffs"),
])
def test_bad_softmax_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"argument `{argument}`"):
        LanguageModel(VA, embedding_dim=4, units=4, num_layers=1, **kwargs)
    model = LanguageModel(VA, embedding_dim=4, units=4, num_layers=1, softmax="adaptive", cutoffs=[10])
    with pytest.raises(ValueError, match="loss"):
        model.compile(loss="mse")


def test_validation_and_test_evaluations_share_one_compiled_step(trained):
    """Streams of other lengths are padded to whole windows: one traced evaluation step serves every split."""
    model = trained["model"]
    evaluate_perplexity(model, markov_stream(5, 50), bptt=5)
    step = model.test_function
    evaluate_perplexity(model, markov_stream(6, 23), bptt=5)
    assert model.test_function is step
    if hasattr(step, "experimental_get_tracing_count"):  # TensorFlow
        assert step.experimental_get_tracing_count() == 1
