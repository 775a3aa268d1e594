"""The `lm train` recipe: a vocabulary, a stateful `LanguageModel`, truncated BPTT, exact perplexity, export.

`train_language_model(config, out)` loads a corpus (`ptb`, `wikitext-2`, or a text file or
folder), learns the vocabulary from its training split, trains a `LanguageModel` with truncated
BPTT over the continuous token stream (`fit_language_model`: stateful batches of `batch_size`
parallel streams and `bptt` steps, states reset every epoch; locked dropout; SGD with a large
learning rate and gradient clipping by global norm; the learning rate divided by 4 after every
epoch without a better validation perplexity; early stopping and checkpointing), then computes
the validation and test perplexity over every token of each split, exactly once, measures the
generation speed and writes the model folder, the SavedModel, the curves and the metrics.

`config` holds the keys of `DEFAULTS` (written once, here, on top of the truncated-BPTT
defaults; `make_config` fills them in) plus `dataset` and `data_dir`.
"""

import json
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from lstm_keras import decoding
from lstm_keras import training
from lstm_keras.datasets.language_modeling import language_modeling_arrays
from lstm_keras.datasets.language_modeling import load_language_modeling_data
from lstm_keras.datasets.language_modeling import make_tokenizer
from lstm_keras.datasets.language_modeling import text_to_stream
from lstm_keras.io import write_text
from lstm_keras.layers.adaptive_softmax import MIN_DEFAULT_VOCABULARY
from lstm_keras.layers.adaptive_softmax import check_cutoffs
from lstm_keras.layers.adaptive_softmax import default_cutoffs
from lstm_keras.models.language_model import LanguageModel
from lstm_keras.models.language_modeling.cache import NeuralCache
from lstm_keras.models.language_modeling.export import LanguageModelModule
from lstm_keras.models.language_modeling.export import MODEL_FILES
from lstm_keras.models.language_modeling.export import SETTINGS_FILE
from lstm_keras.models.language_modeling.export import export_saved_model
from lstm_keras.models.language_modeling.export import load_language_model
from lstm_keras.models.language_modeling.export import save_language_model
from lstm_keras.models.truncated_bptt import DEFAULTS as TBPTT_DEFAULTS
from lstm_keras.models.truncated_bptt import check_training_stream
from lstm_keras.models.truncated_bptt import PerplexityEvaluator
from lstm_keras.models.truncated_bptt import evaluation_batch_size
from lstm_keras.models.truncated_bptt import fit_language_model
from lstm_keras.plots import plot_history
from lstm_keras.saving import read_model_settings
from lstm_keras.saving import seconds_to_export
from lstm_keras.training import EVAL_BATCH_COST
from lstm_keras.training import ResetStates
from lstm_keras.training import TimeBudget
from lstm_keras.training import log
from lstm_keras.training import logged_history
from lstm_keras.training import progress_verbosity
from lstm_keras.training import set_seed

# All defaults of `lm train`: the truncated-BPTT ones, and the corpus and model ones.
DEFAULTS = {
    **{key: TBPTT_DEFAULTS[key] for key in ("bptt", "batch_size", "epochs", "learning_rate", "clipnorm", "patience")},
    "tokenizer": "word",
    "vocab_size": 10000,
    "layers": 2,
    "units": 200,
    "embedding_dim": None,
    "gating": None,
    "cell": "lstm",
    "tie_weights": None,
    "project_output": False,
    "softmax": None,
    "cutoffs": None,
    "dropout": 0.2,
    "time_budget": None,
    "seed": 0,
}
DATA_KEYS = {"dataset": None, "data_dir": None}
GENERATION_BENCHMARK = {"prompts": 16, "tokens": 50}
# `softmax` None chooses the adaptive softmax for vocabularies above this many tokens, the full one below.
ADAPTIVE_SOFTMAX_ABOVE = 15000
# With a time budget: the most of it the validation after every epoch may take (more: a subset is validated),
# the evaluation windows timed before training, and the margin on the projected time of the work after training.
VALIDATION_SHARE = 0.05
PROBE_WINDOWS = 6
RESERVE_MARGIN = 1.4


def make_config(**overrides):
    """A `train_language_model` config: `DEFAULTS` and the data keys, with `overrides` (unknown keys raise).

    Example:
    >>> make_config(dataset="ptb", units=650).units
    650
    """
    return training.make_config({**DATA_KEYS, **DEFAULTS}, overrides, "language-model")


def train_language_model(config, out):
    """Trains, tests and exports a language model as `config` says, writing everything under `out`.

    Returns:
        The metrics dict (also written to `out/metrics.json`).
    """
    deadline = training.Deadline(config.time_budget)
    set_seed(config.seed)
    log("lm", f"loading {config.dataset}")
    data = load_language_modeling_data(config.dataset, data_dir=config.data_dir)
    benchmark = bool(data.unknown_token)
    tokenizer = make_tokenizer(data, kind=config.tokenizer if not benchmark else "word",
                               vocab_size=None if benchmark else config.vocab_size)
    streams = split_streams(data, tokenizer, config.dataset)
    check_training_stream(streams["train"], config.batch_size, config.bptt)
    log("lm", f"{data.name}: {len(streams['train'])} / {len(streams['valid'])} / {len(streams['test'])} tokens "
         f"(train / valid / test), vocabulary {tokenizer.vocab_size}")

    softmax, cutoffs = choose_softmax(config, tokenizer.vocab_size)
    embedding_dim = config.embedding_dim or config.units
    tie_weights = config.tie_weights
    if tie_weights is None:  # tied wherever the sizes allow: better on PTB and on IMDB text (BENCHMARKS.md)
        tie_weights = embedding_dim == config.units or config.project_output
    log("lm", f"{softmax} softmax" + (f", cutoffs {cutoffs}" if cutoffs else ""))
    model = LanguageModel(
        tokenizer.vocab_size,
        embedding_dim=embedding_dim,
        units=config.units,
        num_layers=config.layers,
        gating=config.gating,
        cell=config.cell,
        tie_weights=tie_weights,
        project_output=config.project_output,
        embedding_dropout=config.dropout,
        dropout=config.dropout,
        output_dropout=config.dropout,
        batch_size=config.batch_size,
        softmax=softmax,
        cutoffs=cutoffs,
    )
    model.compile(learning_rate=config.learning_rate, clipnorm=config.clipnorm)
    module = LanguageModelModule(model, tokenizer, sampler="random")
    settings = {"training": {key: value for key, value in vars(config).items() if key != "handler"}}
    # The final evaluation reads the validation and test streams at the largest batch that fits, compiled once.
    evaluator = PerplexityEvaluator(model, config.bptt, evaluation_batch_size(
        model, min(len(streams["valid"]), len(streams["test"])), config.bptt))
    # The budget's plan (nothing written yet if it is refused), the model folder (vocabulary, settings, untrained
    # model), then training.
    budget, validation_steps = plan_time_budget(deadline, model, module, streams, config, evaluator)
    save_language_model(out, module, extra_settings=settings)

    history, stats = fit_language_model(
        model, streams["train"], streams["valid"], bptt=config.bptt, epochs=config.epochs, out_dir=out,
        patience=config.patience, time_budget=budget, validation_steps=validation_steps,
        verbose=progress_verbosity(),
    )
    if stats["stopped_by_time_budget"]:
        log("lm", f"training stopped by the time budget ({deadline.remaining():.0f} s left for the evaluation and "
                  "export); the best weights so far are kept")
    valid_per_epoch = [round(float(p), 3) for p in history.history.get("val_perplexity", [])]
    for epoch, perplexity in enumerate(valid_per_epoch, start=1):
        log("lm", f"epoch {epoch}: validation perplexity {perplexity:.2f}")
    log("lm", "computing the validation and test perplexity over every token")
    valid, test = evaluator(streams["valid"]), evaluator(streams["test"])
    log("lm", f"validation perplexity {valid['perplexity']:.2f}, test perplexity {test['perplexity']:.2f}")
    generation_speed = measure_generation(model)

    plt.close(plot_history(logged_history(out, history), os.path.join(out, "training_curves.png"),
                           metrics=["loss", "perplexity"]))
    save_language_model(out, module, extra_settings=settings)
    export_saved_model(module, os.path.join(out, "saved_model"))
    metrics = {
        "valid_perplexity": valid["perplexity"],
        "test_perplexity": test["perplexity"],
        "valid_perplexity_per_epoch": valid_per_epoch,
        "dataset": str(config.dataset),
        "tokens": [len(streams["train"]), valid["tokens"], test["tokens"]],
        "vocab_size": tokenizer.vocab_size,
        "cell": model.cell,
        "softmax": model.softmax,
        "cutoffs": model.cutoffs,
        "parameters": model.count_params(),
        "eval_batch_size": evaluator.batch_size,
        **stats,
        "generation_tokens_per_second": generation_speed,
    }
    write_text(os.path.join(out, "metrics.json"), json.dumps(metrics, indent=1))
    return metrics


def split_streams(data, tokenizer, dataset):
    """The token streams of a corpus' `train`, `valid` and `test` splits; raises ValueError naming an empty one."""
    streams = {split: text_to_stream(getattr(data, split), tokenizer) for split in ("train", "valid", "test")}
    for split, name in (("valid", "validation"), ("test", "test")):
        if len(streams[split]) == 0:
            raise ValueError(f"the {name} split of --dataset {dataset!r} is empty: give more text")
    return streams


def evaluate_language_model(model_dir, dataset=None, data_dir=None, cache=False):
    """The validation and test perplexity of a trained model folder, with or without a neural cache.

    Args:
        model_dir: the `--out` folder of `lm train`.
        dataset: the corpus (None: the one the model was trained on, as its settings name it).
        data_dir: its local folder (None with `dataset` None: the training run's).
        cache: whether to add a `NeuralCache` (Grave et al. 2017), its window, θ and λ chosen on
            the validation split, and report the perplexities with it too.

    Returns:
        The metrics dict: `valid_perplexity`, `test_perplexity`, `tokens`, and with `cache`
        `cache` (the chosen settings), `valid_perplexity_with_cache`, `test_perplexity_with_cache`
        and `cache_seconds`.
    """
    module = load_language_model(model_dir)
    model = module.model
    trained_on = read_model_settings(model_dir, MODEL_FILES, SETTINGS_FILE, "lm train").get("training", {})
    if dataset is None:
        dataset, data_dir = trained_on.get("dataset"), data_dir or trained_on.get("data_dir")
    if dataset is None:
        raise ValueError(f"{model_dir} does not name the corpus it was trained on: give --dataset")
    log("lm", f"loading {dataset}")
    streams = split_streams(load_language_modeling_data(dataset, data_dir=data_dir), module.tokenizer, dataset)
    bptt = trained_on.get("bptt", DEFAULTS["bptt"])
    model.compile()
    evaluator = PerplexityEvaluator(model, bptt, evaluation_batch_size(
        model, min(len(streams["valid"]), len(streams["test"])), bptt))
    valid, test = evaluator(streams["valid"]), evaluator(streams["test"])
    log("lm", f"validation perplexity {valid['perplexity']:.2f}, test perplexity {test['perplexity']:.2f}")
    metrics = {"valid_perplexity": valid["perplexity"], "test_perplexity": test["perplexity"],
               "dataset": str(dataset), "tokens": [valid["tokens"], test["tokens"]]}
    if cache:
        started = time.monotonic()
        log("lm", "choosing the neural cache's window, theta and lambda on the validation split")
        neural_cache = NeuralCache(model).fit(streams["valid"])
        valid_cached = neural_cache.fit_results[(neural_cache.window, neural_cache.theta, neural_cache.lambd)]
        test_cached = neural_cache(streams["test"])
        log("lm", f"with the cache {neural_cache.get_config()}: validation perplexity {valid_cached:.2f}, "
                  f"test perplexity {test_cached['perplexity']:.2f}")
        metrics.update({"cache": neural_cache.get_config(), "valid_perplexity_with_cache": valid_cached,
                        "test_perplexity_with_cache": test_cached["perplexity"],
                        "cache_seconds": round(time.monotonic() - started, 1)})
    return metrics


def choose_softmax(config, vocabulary_size):
    """`(softmax, cutoffs)` of `config` for a vocabulary; `softmax` None chooses from the vocabulary and the budget.

    The adaptive softmax is chosen above `ADAPTIVE_SOFTMAX_ABOVE` tokens of vocabulary, and with a
    time budget for any vocabulary its default cutoffs fit: it trains and evaluates several times
    faster (2.4x at 10k tokens, 5.6x at 33k), which within a budget outweighs what the full
    softmax gains per token (6-minute runs on PTB: test perplexity 145 against 159; BENCHMARKS.md).

    Raises:
        ValueError: naming `--softmax` or `--cutoffs`, if they do not fit the vocabulary.

    Example:
    >>> choose_softmax(make_config(), 33278)
    ('adaptive', [2000, 10000])
    >>> choose_softmax(make_config(), 10002), choose_softmax(make_config(time_budget=6), 10002)
    (('full', None), ('adaptive', [2000]))
    """
    softmax = config.softmax
    if softmax is None:
        budgeted = bool(config.time_budget) and vocabulary_size >= MIN_DEFAULT_VOCABULARY
        softmax = "adaptive" if vocabulary_size > ADAPTIVE_SOFTMAX_ABOVE or budgeted else "full"
    if softmax == "full":
        if config.cutoffs:
            raise ValueError("--cutoffs are for --softmax adaptive (the full softmax has no clusters)")
        return softmax, None
    if not config.cutoffs:
        try:
            return softmax, default_cutoffs(vocabulary_size)
        except ValueError:
            raise ValueError(
                f"--softmax adaptive needs a vocabulary of at least {MIN_DEFAULT_VOCABULARY} tokens for its "
                f"default clusters, this one has {vocabulary_size}: use --softmax full, or give --cutoffs"
            ) from None
    try:
        return softmax, check_cutoffs(config.cutoffs, vocabulary_size)
    except ValueError:
        raise ValueError(
            f"--cutoffs {','.join(map(str, config.cutoffs))}: expected strictly increasing token counts, each above 0 "
            f"and below the vocabulary size ({vocabulary_size})"
        ) from None


def plan_time_budget(deadline, model, module, streams, config, evaluator):
    """The `TimeBudget` of training and the validation windows per epoch, fitted to `deadline`.

    With a budget, what follows training is timed before it starts: one export of the untrained
    model (which also checks the export before any training), the generation benchmark, a few
    validation batches and the final evaluation's step (`evaluator`, compiled there once for
    good). Training then stops when the time left would not cover the final validation and test
    evaluation at the measured speed plus that export (`TimeBudget`), and the validation after
    every epoch reads at most `VALIDATION_SHARE` of the budget. The projection of the work after
    training follows the validation speed measured as training goes (the machine's load) and
    carries a `RESERVE_MARGIN`.

    Returns:
        `(budget, validation_steps)`: a `TimeBudget` and None (the whole validation stream) or
        a number of windows.

    Raises:
        ValueError: the budget left cannot cover one training batch, the evaluation and the export.
    """
    if not deadline:
        return TimeBudget(None), None
    started = time.monotonic()
    measure_generation(model)
    finish_seconds = time.monotonic() - started + seconds_to_export(export_saved_model, module)
    # The final evaluation: its windows timed after a compiling call on one window.
    window = evaluator.batch_size * config.bptt
    evaluator(streams["valid"][:window])
    started = time.monotonic()
    probe_windows = len(evaluator.arrays(streams["valid"][: PROBE_WINDOWS * window])[0]) // evaluator.batch_size
    evaluator(streams["valid"][: PROBE_WINDOWS * window])
    final_windows = sum(len(evaluator.arrays(streams[split])[0]) for split in ("valid", "test")) // evaluator.batch_size
    evaluation_seconds = (time.monotonic() - started) / probe_windows * final_windows
    # Times the validation step of training (compiled once, for the validations after every epoch).
    rows = model.batch_size * config.bptt
    windows = -(-len(streams["valid"]) // rows)
    probe = language_modeling_arrays(streams["valid"][: PROBE_WINDOWS * rows + 1], model.batch_size, config.bptt,
                                     model.end_token_id, model.pad_token_id)
    budget = TimeBudget(deadline)
    model.evaluate(*probe, batch_size=model.batch_size, verbose=0, callbacks=[ResetStates(), budget])
    eval_batch = budget.speeds.eval_batch
    budget.reserve = lambda speeds: RESERVE_MARGIN * (
        evaluation_seconds * speeds.eval_batch / eval_batch + finish_seconds)
    validation_steps = max(1, int(VALIDATION_SHARE * deadline.seconds / max(eval_batch, 1e-9)))
    validation_steps = None if validation_steps >= windows else validation_steps
    budget.validation_batches = validation_steps or windows
    deadline.check_room(
        (budget.validation_batches + 1 / EVAL_BATCH_COST) * eval_batch + budget.reserve(budget.speeds),
        f"one training batch, the evaluation of {len(streams['valid']) + len(streams['test'])} tokens and the export",
    )
    log("lm", f"time budget: {deadline.remaining():.0f} s left; the evaluation and export will take about "
              f"{budget.reserve(budget.speeds):.0f} s"
              + (f"; validating {validation_steps} of {windows} windows per epoch" if validation_steps else ""))
    return budget, validation_steps


def measure_generation(model, prompts=GENERATION_BENCHMARK["prompts"], tokens=GENERATION_BENCHMARK["tokens"]):
    """Tokens per second of random sampling, `prompts` sequences of `tokens` tokens (not stopping at `[END]`)."""
    sampler = decoding.get("random", seed=0)
    prompt_ids = np.zeros((prompts, 0), "int32")
    # Without stopping at [END] every sequence runs `tokens` steps; the first call compiles.
    model.generate_ids(prompt_ids, 2, sampler, stop_at_end=False)
    started = time.monotonic()
    generated = model.generate_ids(prompt_ids, tokens, sampler, stop_at_end=False)
    seconds = time.monotonic() - started
    return round(generated.size / max(seconds, 1e-9), 1)
