"""`lstm-keras lm train | generate | score | export`: LSTM language models.

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
end, or `--tokens` tokens); `score` reads sentences (its arguments, or one a line on stdin) and prints for each
its natural-log probability and the number of tokens scored (`[END]` included), tab-separated.

`export` writes the model of a `train` folder as a SavedModel, or its streaming step (token ids
and state in, next-token log-probabilities and state out) as a LiteRT or ONNX file with the
vocabulary, a plain-Python tokenizer and a JSON description beside it
(`lstm_keras.models.language_modeling.export.export_portable`), and prints the export's summary as
one JSON line.
"""

import argparse
import contextlib
import os
import sys

from lstm_keras.commands.arguments import NON_NEGATIVE
from lstm_keras.commands.arguments import POSITIVE
from lstm_keras.commands.arguments import RATE
from lstm_keras.commands.arguments import add_cell_argument
from lstm_keras.commands.arguments import add_command
from lstm_keras.commands.arguments import add_export_command
from lstm_keras.commands.arguments import read_texts
from lstm_keras.commands.arguments import add_decoding_arguments
from lstm_keras.commands.arguments import add_output_arguments
from lstm_keras.commands.arguments import add_stopping_arguments
from lstm_keras.commands.arguments import int_at_least
from lstm_keras.commands.arguments import int_list
from lstm_keras.commands.arguments import run_staged_training
from lstm_keras.commands.arguments import sampler_from_arguments
from lstm_keras.layers.adaptive_softmax import MIN_DEFAULT_VOCABULARY
from lstm_keras.layers.gating import VARIANTS
from lstm_keras.models.language_model import MAX_GENERATED_TOKENS
from lstm_keras.models.language_model import SOFTMAXES
from lstm_keras.models.language_modeling import load_language_model
from lstm_keras.models.language_modeling.export import export_model_folder
from lstm_keras.models.language_modeling.training import ADAPTIVE_SOFTMAX_ABOVE
from lstm_keras.models.language_modeling.training import DEFAULTS
from lstm_keras.models.language_modeling.training import evaluate_language_model
from lstm_keras.models.language_modeling.training import train_language_model
from lstm_keras.training import print_metrics


def register(subparsers):
    """Adds the `lm` group with its `train`, `generate`, `score` and `export` sub-commands."""
    group = subparsers.add_parser("lm", help="LSTM language models", description=__doc__)
    commands = group.add_subparsers(dest="command", required=True)

    train = add_command(commands, "train", "train and evaluate a language model, export it")
    data = train.add_argument_group("data")
    data.add_argument("--dataset", required=True, help="ptb, wikitext-2, tiny (generated), or a text file or folder")
    data.add_argument("--data-dir", help="a folder with local copies of the named data set's files")
    data.add_argument("--tokenizer", choices=("word", "wordpiece"), default=DEFAULTS["tokenizer"],
                      help="for a text --dataset (the benchmarks have their own word vocabularies)")
    data.add_argument("--vocab-size", type=int_at_least(5), default=DEFAULTS["vocab_size"],
                      help="largest vocabulary of a text --dataset, reserved tokens included")
    model = train.add_argument_group("model")
    model.add_argument("--gating", choices=tuple(VARIANTS), default=DEFAULTS["gating"],
                       help="gating preset of every LSTM (default: vanilla)")
    add_cell_argument(model, DEFAULTS["cell"])
    model.add_argument("--layers", type=int_at_least(1), default=DEFAULTS["layers"])
    model.add_argument("--units", type=int_at_least(1), default=DEFAULTS["units"], help="units of every LSTM layer")
    model.add_argument("--embedding-dim", type=int_at_least(1), default=DEFAULTS["embedding_dim"],
                       help="embedding size (default: --units)")
    model.add_argument("--tie-weights", action=argparse.BooleanOptionalAction, default=DEFAULTS["tie_weights"],
                       help="share the embedding and softmax matrices (default: tied when --embedding-dim equals "
                            "--units or with --project-output)")
    model.add_argument("--project-output", action="store_true",
                       help="a linear projection to --embedding-dim after the last LSTM (to tie weights when the "
                            "sizes differ)")
    model.add_argument("--softmax", choices=SOFTMAXES, default=DEFAULTS["softmax"],
                       help=f"the output layer: full, or adaptive (Grave et al. 2017: a frequent-word head and "
                            f"rare-word clusters, several times faster over a large vocabulary, exact probabilities); default: "
                            f"adaptive above {ADAPTIVE_SOFTMAX_ABOVE} tokens of vocabulary, or with a --time-budget "
                            f"(from {MIN_DEFAULT_VOCABULARY} tokens), else full")
    model.add_argument("--cutoffs", type=int_list, default=DEFAULTS["cutoffs"], metavar="N,N,...",
                       help="the adaptive softmax's cluster boundaries in frequency rank, e.g. 2000,10000 (default: "
                            "2000, then 5 times the previous, below the vocabulary size)")
    model.add_argument("--dropout", type=RATE, default=DEFAULTS["dropout"],
                       help="locked dropout on the embeddings, between layers and on the outputs")
    training = train.add_argument_group("training")
    training.add_argument("--bptt", type=int_at_least(1), default=DEFAULTS["bptt"], help="time steps per batch")
    training.add_argument("--batch-size", type=int_at_least(1), default=DEFAULTS["batch_size"],
                          help="parallel streams")
    training.add_argument("--epochs", type=int_at_least(1), default=DEFAULTS["epochs"])
    training.add_argument("--learning-rate", type=POSITIVE, default=DEFAULTS["learning_rate"],
                          help="default: the cell's optimiser's, SGD at 20 for lstm and slstm, Adam at 0.002 for "
                               "the others")
    training.add_argument("--clipnorm", type=NON_NEGATIVE, default=DEFAULTS["clipnorm"],
                          help="gradient clipping by global norm; 0 for none (default: 0.25 with SGD, 1 with Adam)")
    add_stopping_arguments(training, DEFAULTS)
    add_output_arguments(train)
    train.set_defaults(handler=run_train)

    generate = add_command(commands, "generate", "continue a prompt with a trained model")
    generate.add_argument("--model", required=True, help="the --out folder of `lm train`")
    generate.add_argument("--prompt", default="", help="the text to continue (empty: a new sentence)")
    generate.add_argument("--tokens", type=int, default=50,
                          help=f"the most tokens to generate, in [1, {MAX_GENERATED_TOKENS}] (generation also stops "
                               "at the end of the sentence)")
    add_decoding_arguments(generate, {"temperature": 1.0, "top_k": None, "top_p": None, "greedy": False, "seed": None,
                                      "no_repeat_ngram": 0})
    generate.add_argument("--samples", type=int_at_least(1), default=1, help="continuations to generate")
    generate.set_defaults(handler=run_generate)

    evaluate = add_command(commands, "evaluate", "the validation and test perplexity of a trained model")
    evaluate.add_argument("--model", required=True, help="the --out folder of `lm train`")
    evaluate.add_argument("--dataset", help="the corpus, as `lm train` reads it (default: the model's own)")
    evaluate.add_argument("--data-dir", help="a folder with local copies of the named data set's files")
    evaluate.add_argument("--cache", action="store_true",
                          help="add a neural cache (Grave et al. 2017: the model's recent hidden states vote for the "
                               "words that followed them), its window, theta and lambda chosen on the validation "
                               "split, and report the perplexities with it too")
    evaluate.set_defaults(handler=run_evaluate)

    score = add_command(commands, "score", "log-probabilities of sentences")
    score.add_argument("sentences", nargs="*", help="sentences to score (default: one a line on stdin)")
    score.add_argument("--model", required=True, help="the --out folder of `lm train`")
    score.set_defaults(handler=run_score)

    add_export_command(commands, "lm", export_model_folder,
                       "the next-token log-probabilities and recurrent state after a chunk of token ids")


# ----------------------------------------------------------------------------------------- train
def run_train(args):
    """Runs `lm train`; prints the final metrics as one JSON line."""
    _check_train_arguments(args)
    return run_staged_training(train_language_model, args, "lm")


def _check_train_arguments(args):
    embedding_dim = args.embedding_dim or args.units
    if args.tie_weights and embedding_dim != args.units and not args.project_output:
        raise ValueError(
            f"--tie-weights needs --embedding-dim ({embedding_dim}) equal to --units ({args.units}), "
            "or --project-output"
        )


def run_evaluate(args):
    """Runs `lm evaluate`; prints the metrics as one JSON line."""
    with contextlib.redirect_stdout(sys.stderr):
        metrics = evaluate_language_model(args.model, args.dataset, args.data_dir, cache=args.cache)
    print_metrics(metrics)
    return 0


# ------------------------------------------------------------------------------- generate / score
def run_generate(args):
    """Runs `lm generate`: one continuation a line."""
    if not 1 <= args.tokens <= MAX_GENERATED_TOKENS:
        raise ValueError(f"--tokens must be in [1, {MAX_GENERATED_TOKENS}], received {args.tokens}")
    if sum(option is not None and option is not False for option in (args.top_k, args.top_p, args.greedy or None)) > 1:
        raise ValueError("--greedy, --top-k and --top-p exclude one another: give at most one")
    sampler = sampler_from_arguments(args)
    with contextlib.redirect_stdout(sys.stderr):
        module = load_language_model(args.model, sampler=sampler)
        texts = module.generate_texts([os.fsencode(args.prompt)] * args.samples, args.tokens, args.temperature)
    for text in texts:
        print(text)
    sys.stdout.flush()
    return 0


def run_score(args):
    """Runs `lm score`: `log_probability<TAB>num_tokens` for every sentence."""
    sentences = read_texts(args.sentences)
    with contextlib.redirect_stdout(sys.stderr):
        scores = load_language_model(args.model).score_texts(sentences)
    for log_probability, count in scores:
        print(f"{log_probability:.4f}\t{count}")
    sys.stdout.flush()
    return 0
