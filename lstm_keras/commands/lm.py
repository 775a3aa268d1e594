"""`lstm-keras lm train | generate | score`: LSTM language models.

`train` loads a corpus (`ptb`, `wikitext-2`, or a text file or folder), learns the vocabulary
from its training split, trains a `LanguageModel` with truncated BPTT over the continuous token
stream (stateful batches of `--batch-size` parallel streams and `--bptt` steps, states reset
every epoch; locked dropout; SGD with a large learning rate and gradient clipping by global
norm; the learning rate divided by 4 after every epoch without a better validation perplexity;
early stopping and checkpointing), then computes the validation and test perplexity over every
token of each split, exactly once. The run is staged in `OUT/.in_progress/` and replaces
`--out`'s earlier contents only when complete (`run_staged_training`): a failing or killed run
leaves them as they were, and the same command started again resumes from the last completed
epoch. `--out` then holds: `model.keras`, `vocabulary.txt`, `language_model.json` (tokenizer, sampler, training
arguments), `saved_model/` (signatures `generate` and `score`, servable with TensorFlow and
TensorFlow Text only), `training_curves.png`, `metrics.json` and the callbacks' `checkpoints/`
and `history.csv`. The final metrics (validation and test perplexity, the validation
perplexity of every epoch, timings) are printed as one JSON line on stdout; progress goes to
stderr.

`generate` continues a prompt (one continuation a line: the sentence is completed up to its
end, or `--tokens` tokens); `score` reads sentences, one a line on stdin, and prints for each
its natural-log probability and the number of tokens scored (`[END]` included), tab-separated.
"""

import argparse
import contextlib
import json
import math
import os
import sys
import time

from lstm_keras.commands.arguments import int_at_least
from lstm_keras.commands.arguments import log
from lstm_keras.commands.arguments import run_staged_training
from lstm_keras.layers.gating import VARIANTS

MAX_GENERATED_TOKENS = 1024  # lstm_keras.models.language_model.MAX_GENERATED_TOKENS (imported lazily)
SCORE_BATCH_SIZE = 64
GENERATION_BENCHMARK = {"prompts": 16, "tokens": 50}

# All defaults of `lm train` in one place.
DEFAULTS = {
    "tokenizer": "word",
    "vocab_size": 10000,
    "layers": 2,
    "units": 200,
    "dropout": 0.2,
    "bptt": 35,
    "batch_size": 20,
    "epochs": 10,
    "learning_rate": 20.0,
    "clipnorm": 0.25,
    "patience": 3,
    "seed": 0,
}


def register(subparsers):
    """Adds the `lm` group with its `train`, `generate` and `score` sub-commands."""
    group = subparsers.add_parser("lm", help="LSTM language models", description=__doc__)
    commands = group.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train and evaluate a language model, export it",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    data = train.add_argument_group("data")
    data.add_argument("--dataset", required=True, help="ptb, wikitext-2, or a text file or folder")
    data.add_argument("--data-dir", help="a folder with local copies of the named data set's files")
    data.add_argument("--tokenizer", choices=("word", "wordpiece"), default=DEFAULTS["tokenizer"],
                      help="for a text --dataset (the benchmarks have their own word vocabularies)")
    data.add_argument("--vocab-size", type=int_at_least(5), default=DEFAULTS["vocab_size"],
                      help="largest vocabulary of a text --dataset, reserved tokens included")
    model = train.add_argument_group("model")
    model.add_argument("--gating", choices=tuple(VARIANTS), help="gating preset of every LSTM (default: vanilla)")
    model.add_argument("--layers", type=int_at_least(1), default=DEFAULTS["layers"])
    model.add_argument("--units", type=int_at_least(1), default=DEFAULTS["units"], help="units of every LSTM layer")
    model.add_argument("--embedding-dim", type=int_at_least(1), help="embedding size (default: --units)")
    model.add_argument("--tie-weights", action="store_true", help="share the embedding and softmax matrices")
    model.add_argument("--project-output", action="store_true",
                       help="a linear projection to --embedding-dim after the last LSTM (to tie weights when the "
                            "sizes differ)")
    model.add_argument("--dropout", type=float, default=DEFAULTS["dropout"],
                       help="locked dropout on the embeddings, between layers and on the outputs")
    training = train.add_argument_group("training")
    training.add_argument("--bptt", type=int_at_least(1), default=DEFAULTS["bptt"], help="time steps per batch")
    training.add_argument("--batch-size", type=int_at_least(1), default=DEFAULTS["batch_size"],
                          help="parallel streams")
    training.add_argument("--epochs", type=int_at_least(1), default=DEFAULTS["epochs"])
    training.add_argument("--learning-rate", type=float, default=DEFAULTS["learning_rate"])
    training.add_argument("--clipnorm", type=float, default=DEFAULTS["clipnorm"],
                          help="gradient clipping by global norm; 0 for none")
    training.add_argument("--patience", type=int_at_least(1), default=DEFAULTS["patience"])
    training.add_argument("--time-budget", type=float, metavar="MINUTES", help="stop training after this long")
    training.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    train.add_argument("--out", required=True, help="the output folder")
    train.set_defaults(handler=run_train)

    generate = commands.add_parser("generate", help="continue a prompt with a trained model")
    generate.add_argument("--model", required=True, help="the --out folder of `lm train`")
    generate.add_argument("--prompt", default="", help="the text to continue (empty: a new sentence)")
    generate.add_argument("--tokens", type=int, default=50,
                          help=f"the most tokens to generate, in [1, {MAX_GENERATED_TOKENS}] (generation also stops "
                               "at the end of the sentence)")
    generate.add_argument("--temperature", type=float, default=1.0, help="divides the logits; > 0")
    generate.add_argument("--top-k", type=int, help="sample among the K most probable tokens")
    generate.add_argument("--top-p", type=float, help="nucleus sampling: the fewest tokens with probability >= P")
    generate.add_argument("--greedy", action="store_true", help="the most probable token at every step")
    generate.add_argument("--samples", type=int_at_least(1), default=1, help="continuations to generate")
    generate.add_argument("--seed", type=int, help="seed of the random draws (repeatable output)")
    generate.set_defaults(handler=run_generate)

    score = commands.add_parser("score", help="log-probabilities of sentences (one a line on stdin)")
    score.add_argument("--model", required=True, help="the --out folder of `lm train`")
    score.set_defaults(handler=run_score)


# ----------------------------------------------------------------------------------------- train
def run_train(args):
    """Runs `lm train`; prints the final metrics as one JSON line."""
    _check_train_arguments(args)
    return run_staged_training(train, args, "lm")


def _check_train_arguments(args):
    if not 0 <= args.dropout < 1:
        raise ValueError(f"--dropout must be in [0, 1), received {args.dropout}")
    if not args.learning_rate > 0:
        raise ValueError(f"--learning-rate must be positive, received {args.learning_rate}")
    if args.clipnorm < 0:
        raise ValueError(f"--clipnorm must be >= 0, received {args.clipnorm}")
    if args.time_budget is not None and not args.time_budget > 0:
        raise ValueError(f"--time-budget must be positive minutes, received {args.time_budget}")
    embedding_dim = args.embedding_dim or args.units
    if args.tie_weights and embedding_dim != args.units and not args.project_output:
        raise ValueError(
            f"--tie-weights needs --embedding-dim ({embedding_dim}) equal to --units ({args.units}), "
            "or --project-output"
        )


def train(args, out):
    """The `train` pipeline, writing everything under `out`; returns the metrics dict."""
    import matplotlib.pyplot as plt

    from lstm_keras.datasets.language_modeling import load_language_modeling_data
    from lstm_keras.datasets.language_modeling import make_tokenizer
    from lstm_keras.datasets.language_modeling import text_to_stream
    from lstm_keras.io import write_text
    from lstm_keras.models.language_model import LanguageModel
    from lstm_keras.models.language_model_export import LanguageModelModule
    from lstm_keras.models.language_model_export import export_saved_model
    from lstm_keras.models.language_model_export import save_language_model
    from lstm_keras.models.language_model_training import check_training_stream
    from lstm_keras.models.language_model_training import evaluate_perplexity
    from lstm_keras.models.language_model_training import fit_language_model
    from lstm_keras.plots import plot_history
    from lstm_keras.training import set_seed

    set_seed(args.seed)
    data = load_language_modeling_data(args.dataset, data_dir=args.data_dir)
    benchmark = bool(data.unknown_token)
    tokenizer = make_tokenizer(data, kind=args.tokenizer if not benchmark else "word",
                               vocab_size=None if benchmark else args.vocab_size)
    streams = {split: text_to_stream(getattr(data, split), tokenizer) for split in ("train", "valid", "test")}
    for split, name in (("valid", "validation"), ("test", "test")):
        if len(streams[split]) == 0:
            raise ValueError(f"the {name} split of --dataset {args.dataset!r} is empty: give more text")
    check_training_stream(streams["train"], args.batch_size, args.bptt)
    _log(f"{data.name}: {len(streams['train'])} / {len(streams['valid'])} / {len(streams['test'])} tokens "
         f"(train / valid / test), vocabulary {tokenizer.vocab_size}")

    model = LanguageModel(
        tokenizer.vocab_size,
        embedding_dim=args.embedding_dim or args.units,
        units=args.units,
        num_layers=args.layers,
        gating=args.gating,
        tie_weights=args.tie_weights,
        project_output=args.project_output,
        embedding_dropout=args.dropout,
        dropout=args.dropout,
        output_dropout=args.dropout,
        batch_size=args.batch_size,
    )
    model.compile(learning_rate=args.learning_rate, clipnorm=args.clipnorm or None)
    module = LanguageModelModule(model, tokenizer, sampler="random")
    settings = {"training": {key: value for key, value in vars(args).items() if key != "handler"}}
    # The model folder first (vocabulary, settings, untrained model), then training.
    save_language_model(out, module, extra_settings=settings)

    history, stats = fit_language_model(
        model, streams["train"], streams["valid"], bptt=args.bptt, epochs=args.epochs, out_dir=out,
        patience=args.patience, time_budget=args.time_budget, verbose=2,
    )
    valid_per_epoch = [round(float(p), 3) for p in history.history.get("val_perplexity", [])]
    for epoch, perplexity in enumerate(valid_per_epoch, start=1):
        _log(f"epoch {epoch}: validation perplexity {perplexity:.2f}")
    valid = evaluate_perplexity(model, streams["valid"], args.bptt)
    test = evaluate_perplexity(model, streams["test"], args.bptt)
    _log(f"validation perplexity {valid['perplexity']:.2f}, test perplexity {test['perplexity']:.2f}")
    generation_speed = measure_generation(model)

    plt.close(plot_history(history, os.path.join(out, "training_curves.png"), metrics=["loss", "perplexity"]))
    save_language_model(out, module, extra_settings=settings)
    export_saved_model(module, os.path.join(out, "saved_model"))
    metrics = {
        "valid_perplexity": valid["perplexity"],
        "test_perplexity": test["perplexity"],
        "valid_perplexity_per_epoch": valid_per_epoch,
        "dataset": str(args.dataset),
        "tokens": [len(streams["train"]), valid["tokens"], test["tokens"]],
        "vocab_size": tokenizer.vocab_size,
        "parameters": model.count_params(),
        **stats,
        "generation_tokens_per_second": generation_speed,
    }
    write_text(os.path.join(out, "metrics.json"), json.dumps(metrics, indent=1))
    return metrics


def measure_generation(model, prompts=GENERATION_BENCHMARK["prompts"], tokens=GENERATION_BENCHMARK["tokens"]):
    """Tokens per second of random sampling, `prompts` sequences of `tokens` tokens (not stopping at `[END]`)."""
    import numpy as np

    from lstm_keras import decoding

    sampler = decoding.get("random", seed=0)
    prompt_ids = np.zeros((prompts, 0), "int32")
    # Without stopping at [END] every sequence runs `tokens` steps; the first call compiles.
    model.generate_ids(prompt_ids, 2, sampler, stop_at_end=False)
    started = time.monotonic()
    generated = model.generate_ids(prompt_ids, tokens, sampler, stop_at_end=False)
    seconds = time.monotonic() - started
    return round(generated.size / max(seconds, 1e-9), 1)


# ------------------------------------------------------------------------------- generate / score
def run_generate(args):
    """Runs `lm generate`: one continuation a line."""
    from lstm_keras import decoding
    from lstm_keras.models.language_model_export import load_language_model

    if not 1 <= args.tokens <= MAX_GENERATED_TOKENS:
        raise ValueError(f"--tokens must be in [1, {MAX_GENERATED_TOKENS}], received {args.tokens}")
    if not (args.temperature > 0 and math.isfinite(args.temperature)):
        raise ValueError(f"--temperature must be a finite number > 0, received {args.temperature}")
    if args.top_p is not None and not 0 < args.top_p <= 1:
        raise ValueError(f"--top-p must be in (0, 1], received {args.top_p}")
    if args.top_k is not None and args.top_k < 1:
        raise ValueError(f"--top-k must be >= 1, received {args.top_k}")
    if sum(option is not None and option is not False for option in (args.top_k, args.top_p, args.greedy or None)) > 1:
        raise ValueError("--greedy, --top-k and --top-p exclude one another: give at most one")
    if args.greedy:
        sampler = decoding.get("greedy")
    elif args.top_k is not None:
        sampler = decoding.get("top_k", k=args.top_k, seed=args.seed)
    elif args.top_p is not None:
        sampler = decoding.get("top_p", p=args.top_p, seed=args.seed)
    else:
        sampler = decoding.get("random", seed=args.seed)
    with contextlib.redirect_stdout(sys.stderr):
        module = load_language_model(args.model, sampler=sampler)
        texts = module.generate_texts([os.fsencode(args.prompt)] * args.samples, args.tokens, args.temperature)
    for text in texts:
        print(text)
    sys.stdout.flush()
    return 0


def run_score(args):
    """Runs `lm score`: `log_probability<TAB>num_tokens` for every line of stdin."""
    from lstm_keras.models.language_model_export import load_language_model

    sentences = sys.stdin.buffer.read().splitlines()
    with contextlib.redirect_stdout(sys.stderr):
        module = load_language_model(args.model)
        scores = []
        for start in range(0, len(sentences), SCORE_BATCH_SIZE):
            scores.extend(module.score_texts(sentences[start:start + SCORE_BATCH_SIZE]))
    for log_probability, count in scores:
        print(f"{log_probability:.4f}\t{count}")
    sys.stdout.flush()
    return 0


def _log(message):
    log("lm", message)
