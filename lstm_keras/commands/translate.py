"""`lstm-keras translate train | run | eval | export`: attention LSTM translation.

`train` loads a corpus (`multi30k-de-en`, `spa-eng` or a `source<TAB>target` TSV), learns the
two vocabularies, trains a `Translator` with teacher forcing (masked cross-entropy with label
smoothing, Adam with gradient clipping and a warm-up + cosine learning-rate schedule, early
stopping and checkpointing on the validation loss), then translates the test split with beam
search and scores it with sacreBLEU (its standard cased BLEU, case-insensitive BLEU and chrF).
Text keeps its case and accents and is split into WordPiece subwords by default (`--lowercase`,
`--tokenizer word`). The run is staged in
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
a `source<TAB>target` TSV file and prints BLEU and chrF as one JSON line. `export` writes the
model of a `train` folder as a SavedModel, or its encoder and one decoder step as LiteRT or ONNX
with both vocabularies, a plain-Python tokenizer and a JSON description beside them
(`lstm_keras.models.translation.export.export_portable`), and prints the export's summary as one
JSON line.
"""

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
from lstm_keras.commands.arguments import add_header_argument
from lstm_keras.commands.arguments import add_strategy_argument
from lstm_keras.commands.arguments import add_output_arguments
from lstm_keras.commands.arguments import add_stopping_arguments
from lstm_keras.commands.arguments import int_at_least
from lstm_keras.commands.arguments import run_staged_training
from lstm_keras.layers.attention import ATTENTIONS
from lstm_keras.layers.gating import VARIANTS
from lstm_keras.models.translation.export import export_model_folder
from lstm_keras.models.translation.training import DECODING_OPTIONS
from lstm_keras.models.translation.training import DEFAULTS
from lstm_keras.models.translation.training import evaluate_file
from lstm_keras.models.translation.training import train_translator
from lstm_keras.models.translation.training import translate_texts
from lstm_keras.training import print_metrics

DECODING = tuple(DECODING_OPTIONS)  # the decoding flags of translation


def register(subparsers):
    """Adds the `translate` group with its `train`, `run`, `eval` and `export` sub-commands."""
    group = subparsers.add_parser("translate", help="attention LSTM translation", description=__doc__)
    commands = group.add_subparsers(dest="command", required=True)

    train = add_command(commands, "train", "train, evaluate and export a translator")
    data = train.add_argument_group("data")
    data.add_argument("--dataset", required=True,
                      help="multi30k-de-en, multi30k-en-de, spa-eng, dates (generated) or a source<TAB>target TSV file")
    data.add_argument("--data-dir", help="a folder with local copies of the named data set's files")
    data.add_argument("--valid", help="validation TSV (for a TSV --dataset; default: 10%% of it)")
    data.add_argument("--test", help="test TSV (for a TSV --dataset; default: 10%% of it)")
    add_header_argument(data)
    text = train.add_argument_group("text")
    text.add_argument("--tokenizer", choices=("word", "wordpiece"), default=DEFAULTS["tokenizer"])
    text.add_argument("--vocab-size", type=int_at_least(5), default=DEFAULTS["vocab_size"],
                      help="largest vocabulary per language, reserved tokens included (default: 8000 words, or "
                           "subwords chosen from the corpus size)")
    text.add_argument("--lowercase", action="store_true",
                      help="lowercase and strip accents on both sides (default: text keeps its case and accents)")
    text.add_argument("--max-length", type=int_at_least(3), default=DEFAULTS["max_length"],
                      help="most token ids per sentence with [START]/[END]; longer sentences are truncated "
                           "(in training and translation) and translations are at most this long")
    model = train.add_argument_group("model")
    model.add_argument("--gating", choices=tuple(VARIANTS), default=DEFAULTS["gating"],
                       help="gating preset of every LSTM (default: vanilla)")
    add_cell_argument(model, DEFAULTS["cell"])
    model.add_argument("--attention", choices=ATTENTIONS, default=DEFAULTS["attention"])
    model.add_argument("--no-input-feeding", action="store_true", help="do not feed the attentional state back")
    model.add_argument("--attentional-activation", choices=("linear", "tanh"), default=DEFAULTS["attentional_activation"],
                       help="activation of the decoder's attentional state (Luong et al. use tanh)")
    model.add_argument("--embedding-dim", type=int_at_least(1), default=DEFAULTS["embedding_dim"])
    model.add_argument("--units", type=int_at_least(1), default=DEFAULTS["units"],
                       help="encoder units per direction (the decoder has twice as many)")
    model.add_argument("--layers", type=int_at_least(1), default=DEFAULTS["layers"], help="encoder layers")
    model.add_argument("--dropout", type=RATE, default=DEFAULTS["dropout"])
    training = train.add_argument_group("training")
    training.add_argument("--epochs", type=int_at_least(1), default=DEFAULTS["epochs"])
    training.add_argument("--batch-size", type=int_at_least(1), default=DEFAULTS["batch_size"])
    training.add_argument("--learning-rate", type=POSITIVE, default=DEFAULTS["learning_rate"],
                          help="peak learning rate (linear warm-up, then cosine decay to a tenth)")
    training.add_argument("--clipnorm", type=NON_NEGATIVE, default=DEFAULTS["clipnorm"], help="gradient clipping; 0 for none")
    training.add_argument("--label-smoothing", type=RATE, default=DEFAULTS["label_smoothing"])
    add_stopping_arguments(training, DEFAULTS)
    add_decoding_arguments(train, {name: DEFAULTS[name] for name in DECODING})
    add_strategy_argument(training)
    add_output_arguments(train)
    train.set_defaults(handler=run_train)

    run = add_command(commands, "run", "translate sentences with a trained model")
    run.add_argument("--model", required=True, help="the --out folder of `translate train`")
    add_decoding_arguments(run, dict.fromkeys(DECODING), note=" (default: the model's)")
    run.add_argument("sentences", nargs="*", help="sentences to translate (default: one a line on stdin)")
    run.set_defaults(handler=run_run)

    evaluate = add_command(commands, "eval", "score a trained model on a TSV file with sacreBLEU")
    evaluate.add_argument("--model", required=True, help="the --out folder of `translate train`")
    evaluate.add_argument("--test", required=True, help="a source<TAB>target TSV file")
    add_decoding_arguments(evaluate, dict.fromkeys(DECODING), note=" (default: the model's)")
    evaluate.set_defaults(handler=run_eval)

    add_export_command(commands, "translate", export_model_folder,
                       "the encoder and one decoder step, for a decoding loop in the caller")


def run_train(args):
    """Runs `translate train`; prints the final metrics as one JSON line."""
    _check_train_arguments(args)
    return run_staged_training(train_translator, args, "translate")


def _check_train_arguments(args):
    for name in ("valid", "test"):
        path = getattr(args, name)
        if path is not None and not os.path.isfile(path):
            raise FileNotFoundError(f"--{name} file not found: {path}")


def run_run(args):
    """Runs `translate run`: one translation a line."""
    sentences = read_texts(args.sentences)
    with contextlib.redirect_stdout(sys.stderr):
        translations = translate_texts(args.model, sentences, **{name: getattr(args, name) for name in DECODING})
    for translation in translations:
        print(translation)
    sys.stdout.flush()
    return 0


def run_eval(args):
    """Runs `translate eval`: BLEU and chrF of a TSV file as one JSON line."""
    with contextlib.redirect_stdout(sys.stderr):
        scores = evaluate_file(args.model, args.test, **{name: getattr(args, name) for name in DECODING})
    print_metrics(scores)
    return 0
