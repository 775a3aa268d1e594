"""The `translate train` recipe: vocabularies, a `Translator`, teacher forcing, beam-search scoring, export.

`train_translator(config, out)` loads a corpus (`multi30k-de-en`, `spa-eng` or a
`source<TAB>target` TSV), learns the two vocabularies, trains a `Translator` with teacher forcing
(masked cross-entropy with label smoothing, Adam with gradient clipping and a warm-up + cosine
learning-rate schedule, early stopping and checkpointing on the validation loss), then translates
the test split with the module's sampler and scores it with sacreBLEU (its standard cased BLEU against
the raw references, case-insensitive BLEU and chrF). Text keeps its case and accents and is split into
WordPiece subwords by default (`text_options`, `vocabulary_size`). Each
step is a function of its own, so scripts that train elsewhere (`benchmarks/gpu_translation.py`)
run the same recipe.

Only the steps that tokenise, export or plot import TensorFlow (inside them): the model and its
training schedule (`compile_for_training`) also run where JAX is the only backend.

`config` holds the keys of `DEFAULTS` (written once, here; `make_config` fills in the defaults)
plus the data set: `dataset`, `data_dir`, `valid`, `test`.
"""

import json
import math
import os
import time
import warnings

import keras

from lstm_keras import decoding
from lstm_keras import training
from lstm_keras.datasets.translation import load_translation_data
from lstm_keras.io import read_tsv
from lstm_keras.io import write_text
from lstm_keras.models.translation.translator import Translator
from lstm_keras.saving import seconds_to_export
from lstm_keras.training import CosineToBudget
from lstm_keras.training import TimeBudget
from lstm_keras.training import epochs_completed
from lstm_keras.training import log
from lstm_keras.training import logged_history
from lstm_keras.training import progress_verbosity
from lstm_keras.training import set_seed
from lstm_keras.training import standard_callbacks

ATTENTION_PLOTS = 3
# With a time budget: the margin on the projected time of translating the test set, and the time of the work after
# training (saving, plots, export) as a multiple of the export's time measured before training.
TRANSLATION_MARGIN = 1.2
FINISH_FACTOR = 2.0
# The learning rate starts from and decays to this fraction of its peak.
SCHEDULE_FLOOR = 0.1

# All defaults of `translate train` in one place.
DEFAULTS = {
    "tokenizer": "wordpiece",
    "vocab_size": None,
    "lowercase": False,
    "max_length": 64,
    "embedding_dim": 128,
    "units": 128,
    "layers": 1,
    "attention": "bahdanau",
    "attentional_activation": "linear",
    "dropout": 0.2,
    "epochs": 20,
    "batch_size": 64,
    "learning_rate": 3e-3,
    "warmup_fraction": 0.05,
    "clipnorm": 1.0,
    "label_smoothing": 0.1,
    "patience": 3,
    "beam_size": 5,
    "length_penalty": 0.6,
    "no_repeat_ngram": 0,
    "coverage_penalty": 0.0,
    "seed": 0,
    "gating": None,
    "cell": "lstm",
    "no_input_feeding": False,
    "time_budget": None,
    "strategy": "default",
}
# Vocabulary sizes when `vocab_size` is None: whole words keep the most frequent `WORD_VOCABULARY_SIZE`; a
# subword vocabulary gets one token for every `WORDS_PER_SUBWORD` distinct words of the training text, within
# `SUBWORD_VOCABULARY_BOUNDS` (a small corpus needs few subwords, a large one no more than a small model can use).
WORD_VOCABULARY_SIZE = 8000
WORDS_PER_SUBWORD = 2
SUBWORD_VOCABULARY_BOUNDS = (1000, 8000)
# The decoding options of a config (`decoding.from_options`' arguments): the sampler config's key for each, and
# its value when the sampler has none (greedy decoding has no beam search settings).
DECODING_OPTIONS = {
    "beam_size": ("num_beams", 1),
    "length_penalty": ("length_penalty", DEFAULTS["length_penalty"]),
    "no_repeat_ngram": ("no_repeat_ngram_size", 0),
    "coverage_penalty": ("coverage_penalty", 0.0),
}
# The data keys of a config, besides `DEFAULTS`.
DATA_KEYS = {"dataset": None, "data_dir": None, "valid": None, "test": None, "header": None}


def make_config(**overrides):
    """A `train_translator` config: `DEFAULTS` and the data keys, with `overrides` (unknown keys raise).

    Example:
    >>> config = make_config(dataset="data/dates.tsv", units=64)
    >>> config.units, config.attention
    (64, 'bahdanau')
    """
    return training.make_config({**DATA_KEYS, **DEFAULTS}, overrides, "translation")


def train_translator(config, out):
    """Trains, tests and exports a translator as `config` says, writing everything under `out`.

    Returns:
        The metrics dict (also written to `out/metrics.json`).
    """
    from lstm_keras.models.translation.export import save_translation_model

    deadline = training.Deadline(config.time_budget)
    set_seed(config.seed)
    train_pairs, valid_pairs, test_pairs = load_corpus(config)
    module = build_module(config, train_pairs)
    # The budget's plan (nothing written yet if it is refused), the model folder (vocabularies, settings, untrained
    # model), then training.
    compile_for_training(module.translator, config, len(train_pairs), over_time=bool(deadline))
    budget, export_allowance, translation_time = plan_time_budget(deadline, config, module, valid_pairs, test_pairs)
    save_translation_model(out, module, extra_settings=training_settings(config))
    callbacks = standard_callbacks(out, monitor="val_loss", patience=config.patience, time_budget=budget)
    if deadline:
        callbacks.append(CosineToBudget(budget, config.learning_rate, warmup_share=DEFAULTS["warmup_fraction"],
                                        floor=SCHEDULE_FLOOR, steps=training_steps(config, len(train_pairs))))
        callbacks.append(translation_time)
    started = time.monotonic()
    with warnings.catch_warnings():
        # The number of length-bucketed batches is unknown until the first epoch ends.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        history = module.translator.fit(
            translation_dataset(config, module, train_pairs, shuffle=True),
            validation_data=translation_dataset(config, module, valid_pairs, shuffle=False),
            epochs=config.epochs, callbacks=callbacks, verbose=progress_verbosity(),
            shuffle=False,  # the data set shuffles itself
        )
    return evaluate_and_save(config, out, module, history, time.monotonic() - started, train_pairs, valid_pairs,
                             test_pairs, deadline=deadline, export_allowance=export_allowance)


def plan_time_budget(deadline, config, module, valid_pairs, test_pairs):
    """The `TimeBudget` of training, reserving what the test and the export after it will take.

    With a budget, what follows training is timed before it starts: one export of the untrained
    model (which also checks the export before any training) and the translation of a batch of
    test sentences (which compiles the decoder for the test too: `TranslationTime`). Training
    stops when the time left would not cover the test (teacher-forced batches at the measured
    evaluation speed, the translation as `TranslationTime` projects it) and the export
    (`FINISH_FACTOR` times the first one: the plots and the model file come with it). The test
    translation itself stops at the deadline if it must (`translate_within`).

    Returns:
        `(budget, export_allowance, translation_time)`: the `TimeBudget`, the seconds kept for
        the work after the test translation (0 without a budget) and the `TranslationTime`
        callback that keeps the translation's projection up to date (None without a budget).

    Raises:
        ValueError: the budget left cannot cover the test and the export.
    """
    from lstm_keras.models.translation.export import export_saved_model

    validation_batches = math.ceil(len(valid_pairs) / config.batch_size)
    if not deadline:
        return TimeBudget(None, validation_batches=validation_batches), 0.0, None
    export_seconds = seconds_to_export(export_saved_model, module)
    sources = [s for s, _ in test_pairs]
    module(sources[:2])  # compiles the decoder
    translation_time = TranslationTime(module, test_pairs)
    test_batches = math.ceil(len(test_pairs) / config.batch_size)
    export_allowance = FINISH_FACTOR * export_seconds
    budget = TimeBudget(
        deadline, reserve=lambda speeds: test_batches * speeds.eval_batch + export_allowance + translation_time.seconds,
        validation_batches=validation_batches, refresh=translation_time.refresh)
    deadline.check_room(export_allowance + translation_time.seconds,
                        f"translating {len(sources)} test sentences and the export")
    _log(f"time budget: {deadline.remaining():.0f} s left; after training, translating the test set will take "
         f"about {translation_time.seconds:.0f} s, the export {export_seconds:.0f} s")
    return budget, export_allowance, translation_time


class TranslationTime(keras.callbacks.Callback):
    """The projected seconds of translating the test set (`seconds`), measured again as the model trains.

    `TRANSLATE_BATCH_SIZE` test sentences spread evenly over the test split (every `n`-th: a
    batch's time follows its longest sentence, and the leading ones need not be typical) are
    translated and timed, and the time scaled to the whole set. While the model still trains,
    the decoder of the end is not the one timed: an untrained decoder runs every output to its
    length limit or stops at once, a trained one writes about as long outputs as the references,
    and the loop runs a step per token until the batch's longest output has ended. So the
    projection made before training and at the end of every epoch is the time as measured,
    scaled by the steps the references need against the steps written (the probe's longest
    reference and its longest output, `[END]` included), down as well as up: never scaling down,
    a 256-unit model's untrained outputs, all at their limit, reserved 227 s of a six-minute
    budget and training stopped after 81 batches. Once an epoch has been trained, `refresh`
    (the `TimeBudget`'s hook when training is about to stop) times the model as it then is, the
    model that will translate; before that, a model's output lengths still change too fast for
    it (measured: in a 2.5-minute run, a refresh early in the first epoch timed short outputs,
    training went on, and when it stopped, at batch 568 of 595, the outputs, longer, needed 88 s
    where 28 s were left). Each projection is times `TRANSLATION_MARGIN`.
    With four trained models, the first 128 sentences projected 0.64–1.23 times the whole
    split's time, the spread ones 1.04–1.54 (`BENCHMARKS.md`).

    Args:
        module: the `TranslationModule`, its decoder compiled.
        pairs: the test `(source, reference)` pairs.
        clock: the seconds clock (a fake one in tests).
    """

    def __init__(self, module, pairs, clock=time.monotonic):
        from lstm_keras.models.translation.export import TRANSLATE_BATCH_SIZE

        super().__init__()
        self.module = module
        self.clock = clock
        self.epochs = 0
        step = max(1, len(pairs) // TRANSLATE_BATCH_SIZE)
        probe = pairs[::step][:TRANSLATE_BATCH_SIZE]
        self.sources = [s for s, _ in probe]
        self.scale = len(pairs) / max(len(probe), 1)  # the whole split's sentences per probe sentence
        self.expected = self._steps([t for _, t in probe])
        self.seconds = self.measure()

    def measure(self, final=False):
        """The projected seconds of translating every source; `final`: the model will translate as it is."""
        started = self.clock()
        hypotheses = self.module(self.sources)
        seconds = (self.clock() - started) * self.scale
        if not final:
            seconds *= self.expected / self._steps(hypotheses)
        return TRANSLATION_MARGIN * seconds

    def _steps(self, texts):
        """The decoding steps of a batch of `texts`: its longest text's target tokens and `[END]`."""
        return int(self.module.target_tokenizer.tokenize(list(texts)).row_lengths().numpy().max(initial=0)) + 1

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1
        if self.model is None or not self.model.stop_training:  # stopped: `refresh` has just timed it
            self.seconds = self.measure()

    def refresh(self):
        """Times the model as it is, for the `TimeBudget` that is about to stop training (once an epoch is trained)."""
        if self.epochs:
            self.seconds = self.measure(final=True)


def load_corpus(config):
    """The `(train, valid, test)` lists of `(source, target)` pairs named by `--dataset`."""
    _log(f"loading {config.dataset}")
    train_pairs, valid_pairs, test_pairs = load_translation_data(
        config.dataset, data_dir=config.data_dir, valid=config.valid, test=config.test, seed=config.seed,
        header=config.header,
    )
    for name, pairs in (("training", train_pairs), ("validation", valid_pairs), ("test", test_pairs)):
        if not pairs:
            raise ValueError(f"the {name} split of {config.dataset!r} is empty: give more pairs (or --valid / --test files)")
    _log(f"{config.dataset}: {len(train_pairs)} / {len(valid_pairs)} / {len(test_pairs)} pairs (train / valid / test)")
    return train_pairs, valid_pairs, test_pairs


def build_module(config, train_pairs):
    """The vocabularies learned from `train_pairs` and an untrained `Translator`, as a `TranslationModule`."""
    from lstm_keras.models.translation.export import TranslationModule
    from lstm_keras.text import Tokenizer

    tokenizers = []
    for texts in zip(*train_pairs):  # the sources, then the targets
        tokenizers.append(Tokenizer.from_texts(texts, kind=config.tokenizer, **text_options(config),
                                               vocab_size=vocabulary_size(config, texts)))
    source_tokenizer, target_tokenizer = tokenizers
    _log(f"{config.tokenizer} vocabularies: {source_tokenizer.vocab_size} source, {target_tokenizer.vocab_size} "
         f"target tokens ({'lowercased, accents stripped' if config.lowercase else 'cased, accents kept'})")
    translator = Translator(
        source_tokenizer.vocab_size,
        target_tokenizer.vocab_size,
        embedding_dim=config.embedding_dim,
        units=config.units,
        num_layers=config.layers,
        gating=config.gating,
        cell=config.cell,
        attention=config.attention,
        input_feeding=not config.no_input_feeding,
        attentional_activation=config.attentional_activation,
        dropout=config.dropout,
        max_length=config.max_length,
    )
    return TranslationModule(translator, source_tokenizer, target_tokenizer,
                             sampler=decoding.from_options(**{name: getattr(config, name) for name in DECODING_OPTIONS}),
                             max_source_length=config.max_length)


def text_options(config):
    """The normalisation of both languages (`Tokenizer` options: `lstm_keras.text.CASED_TEXT` or `FOLDED_TEXT`).

    By default text keeps its case and accents (Unicode NFKC only), so translations read like the
    references ("¿Dónde está?"); `config.lowercase` lowercases and strips accents on both sides,
    as older course material does (smaller vocabularies, but the output is lowercase ASCII-like).
    """
    from lstm_keras.text import CASED_TEXT
    from lstm_keras.text import FOLDED_TEXT

    return dict(FOLDED_TEXT if config.lowercase else CASED_TEXT)


def vocabulary_size(config, texts):
    """The vocabulary size of a language: `config.vocab_size`, else one chosen from the training `texts`.

    Whole words keep `WORD_VOCABULARY_SIZE`; subwords get one token per `WORDS_PER_SUBWORD`
    distinct (whitespace-separated) words of `texts`, within `SUBWORD_VOCABULARY_BOUNDS`.

    Example:
    >>> config = make_config(dataset="data/dates.tsv")
    >>> vocabulary_size(config, [f"word{i} and more" for i in range(10000)])
    5001
    """
    if config.vocab_size is not None:
        return config.vocab_size
    if config.tokenizer == "word":
        return WORD_VOCABULARY_SIZE
    distinct = len({word for text in texts for word in text.split()})
    low, high = SUBWORD_VOCABULARY_BOUNDS
    return min(high, max(low, distinct // WORDS_PER_SUBWORD))


def training_settings(config):
    """The `train` arguments, kept in `translation.json` under `"training"`."""
    return {"training": {key: value for key, value in vars(config).items() if key != "handler"}}


def translation_dataset(config, module, pairs, shuffle, **options):
    """The teacher-forcing `tf.data` batches of `pairs` (`make_translation_dataset` with `config`'s settings)."""
    from lstm_keras.text import make_translation_dataset

    options = {"batch_size": config.batch_size, "seed": config.seed, "max_source_length": config.max_length,
               "max_target_length": config.max_length, **options}
    return make_translation_dataset([s for s, _ in pairs], [t for _, t in pairs], module.source_tokenizer,
                                    module.target_tokenizer, shuffle=shuffle, **options)


def training_steps(config, train_size):
    """The batches of `config.epochs` epochs of `train_size` pairs (about: length buckets add a few)."""
    return math.ceil(train_size / config.batch_size) * config.epochs


def compile_for_training(translator, config, train_size, over_time=False):
    """Compiles `translator` with the `train` recipe: Adam, linear warm-up then cosine decay to a tenth.

    The schedule spans `training_steps` (`config.epochs` epochs), warming up over the first
    `DEFAULTS["warmup_fraction"]` of them. With `over_time` (a time budget), the same shape spans
    the training time instead, or the steps if they end first (`CosineToBudget`, a callback that
    sets the rate at every batch): the rate is compiled as a plain float for it.
    """
    if over_time:
        schedule = config.learning_rate * SCHEDULE_FLOOR
    else:
        total_steps = training_steps(config, train_size)
        warmup_steps = max(1, int(DEFAULTS["warmup_fraction"] * total_steps))
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.learning_rate * SCHEDULE_FLOOR,
            warmup_target=config.learning_rate,
            warmup_steps=warmup_steps,
            decay_steps=max(1, total_steps - warmup_steps),
            alpha=SCHEDULE_FLOOR,
        )
    translator.compile(learning_rate=schedule, clipnorm=config.clipnorm or None, label_smoothing=config.label_smoothing)


def evaluate_and_save(config, out, module, history, train_seconds, train_pairs, valid_pairs, test_pairs,
                      deadline=None, export_allowance=0.0):
    """Tests a trained, compiled `module.translator`, then writes the model folder, plots and metrics into `out`.

    The test split is scored teacher-forced (loss, perplexity, token accuracy) and translated with
    the module's sampler, then scored with sacreBLEU; `out` gets `test_translations.tsv`, the
    plots, the model folder, `saved_model/` and `metrics.json`.

    Args:
        config: the `train` arguments.
        out: the output folder.
        module: the `TranslationModule` of the trained translator.
        history: the `keras.callbacks.History` of training.
        train_seconds: the training time.
        train_pairs, valid_pairs, test_pairs: the corpus splits.
        deadline: None, or the command's `Deadline`: the test translation stops in time for
            `export_allowance` seconds to be left, and only the sentences translated are scored
            (`metrics["sentences"]`, with `test_sentences_skipped`).
        export_allowance: the seconds the work after the translation needs.

    Returns:
        The metrics dict.
    """
    from lstm_keras.models.translation.export import export_saved_model
    from lstm_keras.models.translation.export import save_translation_model
    from lstm_keras.models.translation.metrics import score_translations

    _log(f"testing: scoring and translating {len(test_pairs)} sentence pairs")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        test_metrics = module.translator.evaluate(translation_dataset(config, module, test_pairs, shuffle=False),
                                                  verbose=0, return_dict=True)
    test_sources, test_references = [s for s, _ in test_pairs], [t for _, t in test_pairs]
    started = time.monotonic()
    hypotheses = translate_within(module, test_sources, deadline, export_allowance)
    translate_seconds = time.monotonic() - started
    skipped = len(test_sources) - len(hypotheses)
    if skipped:
        _log(f"the time budget ran out after {len(hypotheses)} test sentences: scoring those, {skipped} skipped")
        test_sources, test_references = test_sources[:len(hypotheses)], test_references[:len(hypotheses)]
    scores = score_translations(hypotheses, test_references)
    _log(f"test: {scores['bleu_signature']} BLEU = {scores['bleu']:.2f} (case-insensitive "
         f"{scores['bleu_case_insensitive']:.2f}); chrF = {scores['chrf']:.2f}")

    _save_plots(history, module, test_sources[:ATTENTION_PLOTS], hypotheses[:ATTENTION_PLOTS], out)
    _write_translations(os.path.join(out, "test_translations.tsv"), test_sources, test_references, hypotheses)
    save_translation_model(out, module, extra_settings=training_settings(config))
    export_saved_model(module, os.path.join(out, "saved_model"))
    metrics = {
        **scores,
        "cell": config.cell,
        "test_loss": test_metrics["loss"],
        "test_perplexity": test_metrics["perplexity"],
        "test_token_accuracy": test_metrics["masked_accuracy"],
        "dataset": str(config.dataset),
        "pairs": [len(train_pairs), len(valid_pairs), len(test_pairs)],
        "vocab_sizes": [module.source_tokenizer.vocab_size, module.target_tokenizer.vocab_size],
        "parameters": module.translator.count_params(),
        "epochs_trained": epochs_completed(history),
        "train_seconds": round(train_seconds, 1),
        "seconds_per_epoch": round(train_seconds / max(len(history.epoch), 1), 1),
        "decoding": _decoding_description(config),
        "test_sentences_per_second": round(len(test_sources) / max(translate_seconds, 1e-9), 1),
        "test_sentences_skipped": skipped,
    }
    write_text(os.path.join(out, "metrics.json"), json.dumps(metrics, indent=1))
    return metrics


def _decoding_description(config):
    if config.beam_size == 1:
        return "greedy"
    description = f"beam {config.beam_size}, alpha {config.length_penalty}"
    return description + (f", beta {config.coverage_penalty}" if config.coverage_penalty else "")


def translate_within(module, sources, deadline=None, keep_seconds=0.0):
    """Translates `sources` a graph batch at a time, stopping when the next batch would leave less than `keep_seconds`.

    Returns:
        The translations of the first sources (all of them without a deadline).
    """
    from lstm_keras.models.translation.export import TRANSLATE_BATCH_SIZE

    if not deadline:
        return module(sources)
    hypotheses, batch_seconds = [], 0.0
    for start in range(0, len(sources), TRANSLATE_BATCH_SIZE):
        if hypotheses and deadline.remaining() - batch_seconds < keep_seconds:
            break
        started = time.monotonic()
        hypotheses += module(sources[start:start + TRANSLATE_BATCH_SIZE])
        batch_seconds = time.monotonic() - started
    return hypotheses


def _save_plots(history, module, sources, hypotheses, out):
    import matplotlib.pyplot as plt

    from lstm_keras.plots import plot_heatmap
    from lstm_keras.plots import plot_history

    plt.close(plot_history(logged_history(out, history), os.path.join(out, "training_curves.png"),
                           metrics=["loss", "masked_accuracy", "perplexity"]))
    for index, (source_tokens, target_tokens, weights) in enumerate(module.attention_tokens(sources), start=1):
        title = f"{sources[index - 1][:60]}  →  {hypotheses[index - 1][:60]}"
        plt.close(plot_heatmap(weights, source_tokens, target_tokens, os.path.join(out, f"attention_{index}.png"),
                               title=title))


def _write_translations(path, sources, references, hypotheses):
    def clean(text):
        return " ".join(text.split())

    rows = ["source\treference\ttranslation\n"]
    rows += [f"{clean(s)}\t{clean(r)}\t{clean(h)}\n" for s, r, h in zip(sources, references, hypotheses)]
    write_text(path, "".join(rows))


def load_for_decoding(directory, **overrides):
    """Loads a `translate train` folder as a `TranslationModule`, overriding its saved decoding settings.

    Args:
        directory: the model folder.
        **overrides: decoding options (`DECODING_OPTIONS`: `beam_size`, 1 for greedy decoding;
            `length_penalty`, beam search's GNMT alpha; `no_repeat_ngram`, the n-gram size no
            output repeats, 0 for off; `coverage_penalty`, beam search's GNMT beta); None or
            absent keeps the saved one.
    """
    from lstm_keras.models.translation.export import load_translation_model
    from lstm_keras.models.translation.export import read_settings

    unknown = sorted(set(overrides) - set(DECODING_OPTIONS))
    if unknown:
        raise TypeError(f"unknown decoding options {unknown}: expected some of {list(DECODING_OPTIONS)}")
    overrides = {name: value for name, value in overrides.items() if value is not None}
    sampler = None
    if overrides:
        saved = read_settings(directory)["sampler"]["config"]
        options = {name: saved.get(key, default) for name, (key, default) in DECODING_OPTIONS.items()}
        sampler = decoding.from_options(**{**options, **overrides})
    return load_translation_model(directory, sampler=sampler)


def translate_texts(directory, texts, **decoding_options):
    """Translates `texts` with a model folder (`translate run`), one translation per text.

    On stderr, a warning for every text translated from its beginning only (longer than the
    model's `max_source_length`) or to the empty string (no word of the source vocabulary).
    `decoding_options` override the saved ones (`load_for_decoding`).
    """
    module = load_for_decoding(directory, **decoding_options)
    limit = module.max_source_length - 2
    for index, (tokens, known) in enumerate(module.source_coverage(texts), 1):
        if tokens and not known:
            _log(f"warning: input {index} has no word of the source vocabulary: its translation is empty")
        elif tokens > limit:
            _log(f"warning: input {index} has {tokens} tokens: only its first {limit} are translated")
    return module(texts)


def evaluate_file(directory, path, **decoding_options):
    """Translates a `source<TAB>target` TSV file with a model folder; returns sacreBLEU's BLEU and chrF.

    `decoding_options` (`DECODING_OPTIONS`) override the saved ones (`load_for_decoding`).
    """
    pairs = read_tsv(path, min_columns=2)
    if not pairs:
        raise ValueError(f"no sentence pairs in {path}")
    from lstm_keras.models.translation.metrics import score_translations

    module = load_for_decoding(directory, **decoding_options)
    hypotheses = module([s for s, _ in pairs])
    return score_translations(hypotheses, [t for _, t in pairs])


def _log(message):
    log("translate", message)
