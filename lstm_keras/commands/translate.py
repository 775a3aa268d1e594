"""`lstm-keras translate train | run | eval`: attention LSTM translation.

`train` loads a corpus (`multi30k-de-en`, `spa-eng` or a `source<TAB>target` TSV), learns the
two vocabularies, trains a `Translator` with teacher forcing (masked cross-entropy with label
smoothing, Adam with gradient clipping and a warm-up + cosine learning-rate schedule, early
stopping and checkpointing on the validation loss), then translates the test split with beam
search and scores it with sacreBLEU (corpus BLEU and chrF). The run is staged in
`OUT/.in_progress/` and replaces `--out`'s earlier contents only when complete
(`run_staged_training`): a failing or killed run leaves them as they were, and the same command
started again resumes from the last completed epoch (`BackupAndRestore`). `--strategy` trains on
several GPUs or machines (`lstm_keras.distribute`). `--out` then holds: `model.keras`,
`source_vocabulary.txt`, `target_vocabulary.txt`, `translation.json` (tokenizers, sampler,
lengths, training arguments), `saved_model/` (signature `translate`: strings to strings,
servable with TensorFlow and TensorFlow Text only), `training_curves.png`, `attention_*.png`,
`test_translations.tsv`, `metrics.json`, and the callbacks' `checkpoints/`, `history.csv` and
`logs/` (TensorBoard). The final metrics are printed as
one JSON line on stdout; progress bars and logs go to stderr.

`run` translates sentences given as arguments, or one a line on stdin, and prints one
translation a line (an empty line for an empty or whitespace-only sentence). `eval` translates
a `source<TAB>target` TSV file and prints BLEU and chrF as one JSON line.
"""

import argparse
import contextlib
import json
import math
import os
import sys
import time
import warnings

from lstm_keras.commands.arguments import add_strategy_argument
from lstm_keras.commands.arguments import int_at_least
from lstm_keras.commands.arguments import log
from lstm_keras.commands.arguments import run_staged_training
from lstm_keras.layers.gating import VARIANTS
from lstm_keras.training import print_metrics

ATTENTIONS = ("bahdanau", "luong-dot", "luong-general", "luong-concat")
ATTENTION_PLOTS = 3

# All defaults of `translate train` in one place.
DEFAULTS = {
    "tokenizer": "word",
    "vocab_size": 8000,
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
    "seed": 0,
}


def register(subparsers):
    """Adds the `translate` group with its `train`, `run` and `eval` sub-commands."""
    group = subparsers.add_parser("translate", help="attention LSTM translation", description=__doc__)
    commands = group.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train, evaluate and export a translator",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    data = train.add_argument_group("data")
    data.add_argument("--dataset", required=True, help="multi30k-de-en, spa-eng or a source<TAB>target TSV file")
    data.add_argument("--data-dir", help="a folder with local copies of the named data set's files")
    data.add_argument("--valid", help="validation TSV (for a TSV --dataset; default: 10%% of it)")
    data.add_argument("--test", help="test TSV (for a TSV --dataset; default: 10%% of it)")
    text = train.add_argument_group("text")
    text.add_argument("--tokenizer", choices=("word", "wordpiece"), default=DEFAULTS["tokenizer"])
    text.add_argument("--vocab-size", type=int_at_least(5), default=DEFAULTS["vocab_size"],
                      help="largest vocabulary per language, reserved tokens included")
    text.add_argument("--max-length", type=int_at_least(3), default=DEFAULTS["max_length"],
                      help="most token ids per sentence with [START]/[END]; longer sentences are truncated "
                           "(in training and translation) and translations are at most this long")
    model = train.add_argument_group("model")
    model.add_argument("--gating", choices=tuple(VARIANTS), help="gating preset of every LSTM (default: vanilla)")
    model.add_argument("--attention", choices=ATTENTIONS, default=DEFAULTS["attention"])
    model.add_argument("--no-input-feeding", action="store_true", help="do not feed the attentional state back")
    model.add_argument("--attentional-activation", choices=("linear", "tanh"), default=DEFAULTS["attentional_activation"],
                       help="activation of the decoder's attentional state (Luong et al. use tanh)")
    model.add_argument("--embedding-dim", type=int_at_least(1), default=DEFAULTS["embedding_dim"])
    model.add_argument("--units", type=int_at_least(1), default=DEFAULTS["units"],
                       help="encoder units per direction (the decoder has twice as many)")
    model.add_argument("--layers", type=int_at_least(1), default=DEFAULTS["layers"], help="encoder layers")
    model.add_argument("--dropout", type=float, default=DEFAULTS["dropout"])
    training = train.add_argument_group("training")
    training.add_argument("--epochs", type=int_at_least(1), default=DEFAULTS["epochs"])
    training.add_argument("--batch-size", type=int_at_least(1), default=DEFAULTS["batch_size"])
    training.add_argument("--learning-rate", type=float, default=DEFAULTS["learning_rate"],
                          help="peak learning rate (linear warm-up, then cosine decay to a tenth)")
    training.add_argument("--clipnorm", type=float, default=DEFAULTS["clipnorm"], help="gradient clipping; 0 for none")
    training.add_argument("--label-smoothing", type=float, default=DEFAULTS["label_smoothing"])
    training.add_argument("--patience", type=int_at_least(1), default=DEFAULTS["patience"])
    training.add_argument("--time-budget", type=float, metavar="MINUTES", help="stop training after this long")
    training.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    _add_decoding_arguments(train, DEFAULTS["beam_size"])
    add_strategy_argument(training)
    train.add_argument("--out", required=True, help="the output folder")
    train.set_defaults(handler=run_train)

    run = commands.add_parser("run", help="translate sentences with a trained model")
    run.add_argument("--model", required=True, help="the --out folder of `translate train`")
    _add_decoding_arguments(run, None)
    run.add_argument("sentences", nargs="*", help="sentences to translate (default: one a line on stdin)")
    run.set_defaults(handler=run_run)

    evaluate = commands.add_parser("eval", help="score a trained model on a TSV file with sacreBLEU")
    evaluate.add_argument("--model", required=True, help="the --out folder of `translate train`")
    evaluate.add_argument("--test", required=True, help="a source<TAB>target TSV file")
    _add_decoding_arguments(evaluate, None)
    evaluate.set_defaults(handler=run_eval)


def _add_decoding_arguments(parser, beam_size):
    saved = " (default: the model's)" if beam_size is None else ""
    parser.add_argument("--beam-size", type=int_at_least(1), default=beam_size,
                        help=f"beam size; 1 for greedy decoding{saved}")
    parser.add_argument("--length-penalty", type=float, default=None if beam_size is None else DEFAULTS["length_penalty"],
                        help=f"GNMT length penalty alpha of beam search{saved}")


def make_sampler(beam_size, length_penalty):
    """Greedy decoding for a beam of 1, else beam search."""
    from lstm_keras import decoding

    if beam_size == 1:
        return decoding.get("greedy")
    return decoding.get("beam", num_beams=beam_size, length_penalty=length_penalty)


# ----------------------------------------------------------------------------------------- train
def run_train(args):
    """Runs `translate train`; prints the final metrics as one JSON line."""
    _check_train_arguments(args)
    return run_staged_training(train, args, "translate")


def _check_train_arguments(args):
    if not 0 <= args.dropout < 1:
        raise ValueError(f"--dropout must be in [0, 1), received {args.dropout}")
    if not 0 <= args.label_smoothing < 1:
        raise ValueError(f"--label-smoothing must be in [0, 1), received {args.label_smoothing}")
    if args.learning_rate <= 0:
        raise ValueError(f"--learning-rate must be positive, received {args.learning_rate}")
    if args.length_penalty < 0:
        raise ValueError(f"--length-penalty must be >= 0, received {args.length_penalty}")
    for name in ("valid", "test"):
        path = getattr(args, name)
        if path is not None and not os.path.isfile(path):
            raise FileNotFoundError(f"--{name} file not found: {path}")


def train(args, out):
    """The `train` pipeline, writing everything under `out`; returns the metrics dict."""
    from lstm_keras.models.translation_export import save_translation_model
    from lstm_keras.training import set_seed
    from lstm_keras.training import standard_callbacks

    set_seed(args.seed)
    train_pairs, valid_pairs, test_pairs = load_corpus(args)
    module = build_module(args, train_pairs)
    # The model folder first (vocabularies, settings, untrained model), then training.
    save_translation_model(out, module, extra_settings=training_settings(args))
    compile_for_training(module.translator, args, len(train_pairs))
    callbacks = standard_callbacks(out, monitor="val_loss", patience=args.patience, time_budget=args.time_budget)
    started = time.monotonic()
    with warnings.catch_warnings():
        # The number of length-bucketed batches is unknown until the first epoch ends.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        history = module.translator.fit(
            translation_dataset(args, module, train_pairs, shuffle=True),
            validation_data=translation_dataset(args, module, valid_pairs, shuffle=False),
            epochs=args.epochs, callbacks=callbacks, shuffle=False, verbose=1,  # the data set shuffles itself
        )
    return evaluate_and_save(args, out, module, history, time.monotonic() - started, train_pairs, valid_pairs,
                             test_pairs)


def load_corpus(args):
    """The `(train, valid, test)` lists of `(source, target)` pairs named by `--dataset`."""
    from lstm_keras.datasets.translation import load_translation_data

    train_pairs, valid_pairs, test_pairs = load_translation_data(
        args.dataset, data_dir=args.data_dir, valid=args.valid, test=args.test, seed=args.seed
    )
    for name, pairs in (("training", train_pairs), ("validation", valid_pairs), ("test", test_pairs)):
        if not pairs:
            raise ValueError(f"the {name} split of {args.dataset!r} is empty: give more pairs (or --valid / --test files)")
    _log(f"{args.dataset}: {len(train_pairs)} / {len(valid_pairs)} / {len(test_pairs)} pairs (train / valid / test)")
    return train_pairs, valid_pairs, test_pairs


def build_module(args, train_pairs):
    """The vocabularies learned from `train_pairs` and an untrained `Translator`, as a `TranslationModule`."""
    from lstm_keras.models import Translator
    from lstm_keras.models.translation_export import TranslationModule
    from lstm_keras.text import Tokenizer

    sources, targets = zip(*train_pairs)
    source_tokenizer = Tokenizer.from_texts(sources, kind=args.tokenizer, vocab_size=args.vocab_size)
    target_tokenizer = Tokenizer.from_texts(targets, kind=args.tokenizer, vocab_size=args.vocab_size)
    _log(f"vocabularies: {source_tokenizer.vocab_size} source, {target_tokenizer.vocab_size} target tokens")
    translator = Translator(
        source_tokenizer.vocab_size,
        target_tokenizer.vocab_size,
        embedding_dim=args.embedding_dim,
        units=args.units,
        num_layers=args.layers,
        gating=args.gating,
        attention=args.attention,
        input_feeding=not args.no_input_feeding,
        attentional_activation=args.attentional_activation,
        dropout=args.dropout,
        max_length=args.max_length,
    )
    return TranslationModule(translator, source_tokenizer, target_tokenizer,
                             sampler=make_sampler(args.beam_size, args.length_penalty),
                             max_source_length=args.max_length)


def training_settings(args):
    """The `train` arguments, kept in `translation.json` under `"training"`."""
    return {"training": {key: value for key, value in vars(args).items() if key != "handler"}}


def translation_dataset(args, module, pairs, shuffle, **options):
    """The teacher-forcing `tf.data` batches of `pairs` (`make_translation_dataset` with `args`' settings)."""
    from lstm_keras.text import make_translation_dataset

    options = {"batch_size": args.batch_size, "seed": args.seed, "max_source_length": args.max_length,
               "max_target_length": args.max_length, **options}
    return make_translation_dataset([s for s, _ in pairs], [t for _, t in pairs], module.source_tokenizer,
                                    module.target_tokenizer, shuffle=shuffle, **options)


def compile_for_training(translator, args, train_size):
    """Compiles `translator` with the `train` recipe: Adam, linear warm-up then cosine decay to a tenth.

    The schedule spans `args.epochs` epochs of `ceil(train_size / args.batch_size)` steps (about:
    length buckets add a few), warming up over the first `DEFAULTS["warmup_fraction"]` of them.
    """
    import keras

    steps_per_epoch = math.ceil(train_size / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = max(1, int(DEFAULTS["warmup_fraction"] * total_steps))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=args.learning_rate / 10,
        warmup_target=args.learning_rate,
        warmup_steps=warmup_steps,
        decay_steps=max(1, total_steps - warmup_steps),
        alpha=0.1,
    )
    translator.compile(learning_rate=schedule, clipnorm=args.clipnorm or None, label_smoothing=args.label_smoothing)


def evaluate_and_save(args, out, module, history, train_seconds, train_pairs, valid_pairs, test_pairs):
    """Tests a trained, compiled `module.translator`, then writes the model folder, plots and metrics into `out`.

    The test split is scored teacher-forced (loss, perplexity, token accuracy) and translated with
    the module's sampler, then scored with sacreBLEU; `out` gets `test_translations.tsv`, the
    plots, the model folder, `saved_model/` and `metrics.json`.

    Args:
        args: the `train` arguments.
        out: the output folder.
        module: the `TranslationModule` of the trained translator.
        history: the `keras.callbacks.History` of training.
        train_seconds: the training time.
        train_pairs, valid_pairs, test_pairs: the corpus splits.

    Returns:
        The metrics dict.
    """
    from lstm_keras.io import write_text
    from lstm_keras.models.translation_export import export_saved_model
    from lstm_keras.models.translation_export import save_translation_model
    from lstm_keras.models.translation_metrics import score_translations
    from lstm_keras.training import epochs_completed

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        test_metrics = module.translator.evaluate(translation_dataset(args, module, test_pairs, shuffle=False),
                                                  verbose=0, return_dict=True)
    test_sources, test_references = [s for s, _ in test_pairs], [t for _, t in test_pairs]
    started = time.monotonic()
    hypotheses = module(test_sources)
    translate_seconds = time.monotonic() - started
    scores = score_translations(hypotheses, test_references, module.target_tokenizer)
    _log(f"test: {scores['bleu_signature']} BLEU = {scores['bleu']:.2f}; chrF = {scores['chrf']:.2f}")

    _save_plots(history, module, test_sources[:ATTENTION_PLOTS], hypotheses[:ATTENTION_PLOTS], out)
    _write_translations(os.path.join(out, "test_translations.tsv"), test_sources, test_references, hypotheses)
    save_translation_model(out, module, extra_settings=training_settings(args))
    export_saved_model(module, os.path.join(out, "saved_model"))
    metrics = {
        **scores,
        "test_loss": test_metrics["loss"],
        "test_perplexity": test_metrics["perplexity"],
        "test_token_accuracy": test_metrics["masked_accuracy"],
        "dataset": str(args.dataset),
        "pairs": [len(train_pairs), len(valid_pairs), len(test_pairs)],
        "vocab_sizes": [module.source_tokenizer.vocab_size, module.target_tokenizer.vocab_size],
        "parameters": module.translator.count_params(),
        "epochs_trained": epochs_completed(history),
        "train_seconds": round(train_seconds, 1),
        "seconds_per_epoch": round(train_seconds / max(len(history.epoch), 1), 1),
        "decoding": "greedy" if args.beam_size == 1 else f"beam {args.beam_size}, alpha {args.length_penalty}",
        "test_sentences_per_second": round(len(test_sources) / max(translate_seconds, 1e-9), 1),
    }
    write_text(os.path.join(out, "metrics.json"), json.dumps(metrics, indent=1))
    return metrics


def _save_plots(history, module, sources, hypotheses, out):
    import matplotlib.pyplot as plt

    from lstm_keras.plots import plot_heatmap
    from lstm_keras.plots import plot_history

    plt.close(plot_history(history, os.path.join(out, "training_curves.png"),
                           metrics=["loss", "masked_accuracy", "perplexity"]))
    for index, (source_tokens, target_tokens, weights) in enumerate(module.attention_tokens(sources), start=1):
        title = f"{sources[index - 1][:60]}  →  {hypotheses[index - 1][:60]}"
        plt.close(plot_heatmap(weights, source_tokens, target_tokens, os.path.join(out, f"attention_{index}.png"),
                               title=title))


def _write_translations(path, sources, references, hypotheses):
    from lstm_keras.io import write_text

    def clean(text):
        return " ".join(text.split())

    rows = ["source\treference\ttranslation\n"]
    rows += [f"{clean(s)}\t{clean(r)}\t{clean(h)}\n" for s, r, h in zip(sources, references, hypotheses)]
    write_text(path, "".join(rows))


# ------------------------------------------------------------------------------------ run / eval
def _load(args):
    from lstm_keras.models.translation_export import load_translation_model

    sampler = None
    if args.beam_size is not None or args.length_penalty is not None:
        from lstm_keras.export import check_model_directory
        from lstm_keras.models.translation_export import MODEL_FILES

        check_model_directory(args.model, MODEL_FILES, "translate train")
        with open(os.path.join(args.model, "translation.json"), encoding="utf-8") as f:
            saved = json.load(f)["sampler"]["config"]
        beam_size = args.beam_size if args.beam_size is not None else saved.get("num_beams", 1)
        alpha = args.length_penalty if args.length_penalty is not None else saved.get("length_penalty",
                                                                                     DEFAULTS["length_penalty"])
        sampler = make_sampler(beam_size, alpha)
    return load_translation_model(args.model, sampler=sampler)


def run_run(args):
    """Runs `translate run`: one translation a line."""
    # Arguments back to their original bytes (undecodable ones included); stdin as bytes.
    sentences = [os.fsencode(s) for s in args.sentences] if args.sentences else sys.stdin.buffer.read().splitlines()
    with contextlib.redirect_stdout(sys.stderr):
        module = _load(args)
        translations = module(sentences)
    for translation in translations:
        print(translation)
    sys.stdout.flush()
    return 0


def run_eval(args):
    """Runs `translate eval`: BLEU and chrF of a TSV file as one JSON line."""
    from lstm_keras.io import read_tsv
    from lstm_keras.models.translation_metrics import score_translations

    pairs = read_tsv(args.test, min_columns=2)
    if not pairs:
        raise ValueError(f"no sentence pairs in {args.test}")
    with contextlib.redirect_stdout(sys.stderr):
        module = _load(args)
        hypotheses = module([s for s, _ in pairs])
        scores = score_translations(hypotheses, [t for _, t in pairs], module.target_tokenizer)
    print_metrics(scores)
    return 0


def _log(message):
    log("translate", message)
