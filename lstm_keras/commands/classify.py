"""`lstm-keras classify train | predict | export`: text classification with gated LSTMs.

`train` loads a data set (`imdb`, `mr`, `debian`, `reviews`, a `label<TAB>text` file or a folder of class
sub-folders), optionally searches hyperparameters (`--tune`) and cross-validates (`--folds`),
trains a `TextClassifier` with the standard callbacks (or, with `--ensemble K`, K of them from
consecutive seeds, whose probabilities a `ClassifierEnsemble` averages; with `--time-budget` and
no `--ensemble`, as many as the budget has room for once the first has converged), evaluates it on the test
split and writes under `--out`: `model.keras`, `saved_model/` (serving signature on raw strings),
`confusion_matrix.png`, `training_curves.png`, `metrics.json`, plus the callbacks'
`checkpoints/`, `history.csv` and `logs/` (for an ensemble, the curves and callbacks' files of
member i are in `member_<i>/`). The run is staged in `OUT/.in_progress/` and replaces
`--out`'s earlier contents only when complete (`run_staged_training`): a failing or killed run
leaves them as they were, and the same command started again resumes from the last completed
epoch (`BackupAndRestore`). `--strategy` trains on several GPUs or machines
(`lstm_keras.distribute`). The final test metrics are printed as one JSON line on stdout;
progress goes to stderr.

`predict` classifies texts given as arguments, or one a line on stdin, with the SavedModel of a
`train` output folder, and prints one line per text: the label, a tab and its probability.

`export` writes the model of a `train` folder as a SavedModel (raw strings in), or as a LiteRT
or ONNX file on token ids with its vocabulary, a plain-Python tokenizer and a JSON description
beside it (`lstm_keras.models.classification.export.export_portable`), and prints the export's
summary (files, signatures, the largest difference to Keras on random inputs) as one JSON line.
"""

import inspect
import sys

from lstm_keras.commands.arguments import add_strategy_argument
from lstm_keras.commands.arguments import fraction
from lstm_keras.commands.arguments import NON_NEGATIVE
from lstm_keras.commands.arguments import POSITIVE
from lstm_keras.commands.arguments import RATE
from lstm_keras.commands.arguments import add_cell_argument
from lstm_keras.commands.arguments import add_command
from lstm_keras.commands.arguments import add_export_command
from lstm_keras.commands.arguments import add_header_argument
from lstm_keras.commands.arguments import read_texts
from lstm_keras.commands.arguments import add_output_arguments
from lstm_keras.commands.arguments import add_time_budget_argument
from lstm_keras.commands.arguments import int_at_least
from lstm_keras.commands.arguments import run_staged_training
from lstm_keras.layers.bigram_bag import MAX_BUCKETS
from lstm_keras.layers.gating import VARIANTS
from lstm_keras.models.classification.export import export_model_folder
from lstm_keras.models.classification.export import predict_saved_model
from lstm_keras.models.classification.text_classifier import POOLINGS
from lstm_keras.models.classification.text_classifier import TOKENIZERS
from lstm_keras.models.classification.text_classifier import TextClassifier
from lstm_keras.models.classification.training import DEFAULTS
from lstm_keras.models.classification.training import FINE_TUNINGS
from lstm_keras.models.classification.training import HOLD_OUT
from lstm_keras.models.classification.training import ULMFIT_PEAK_LEARNING_RATE
from lstm_keras.models.classification.defaults import WORD_DROPOUT
from lstm_keras.models.classification.pretraining import OBJECTIVES
from lstm_keras.models.classification.training import train_text_classifier


def register(subparsers):
    """Adds the `classify` group with its `train`, `predict` and `export` sub-commands."""
    model_defaults = {
        name: p.default for name, p in inspect.signature(TextClassifier.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    group = subparsers.add_parser("classify", help="text classification with gated LSTMs", description=__doc__)
    commands = group.add_subparsers(dest="command", required=True)

    train = add_command(commands, "train", "train, evaluate and export a classifier")
    data = train.add_argument_group("data")
    data.add_argument("--dataset", required=True,
                      help="imdb, mr, debian, reviews, a label<TAB>text file or a folder of class sub-folders")
    data.add_argument("--data-dir", help="a folder with local copies of imdb / mr / debian (nothing is downloaded)")
    data.add_argument("--test", help="a test TSV or folder, or a fraction to hold out, for data sets without a "
                                     f"test split (default for those: hold out {HOLD_OUT:g}, or --folds)")
    data.add_argument("--valid-split", type=fraction, default=DEFAULTS["valid_split"],
                      help="share of the training data used for validation (early stopping)")
    add_header_argument(data)
    data.add_argument("--folds", type=int_at_least(2), help="k-fold cross-validation on the training data")
    model = train.add_argument_group("model (defaults: TextClassifier's)")
    model.add_argument("--gating", choices=tuple(VARIANTS), default=model_defaults["gating"], help="gating preset")
    add_cell_argument(model, model_defaults["cell"])
    model.add_argument("--bidirectional", action="store_true", help="bidirectional LSTM layers")
    model.add_argument("--units", type=int_at_least(1), default=model_defaults["units"], help="units per LSTM layer (per direction)")
    model.add_argument("--layers", type=int_at_least(1), default=model_defaults["num_layers"], help="stacked LSTM layers")
    model.add_argument("--pooling", choices=POOLINGS, default=model_defaults["pooling"], help="LSTM outputs to one vector")
    model.add_argument("--dropout", type=RATE, default=model_defaults["dropout"], help="on embeddings and pooled vector")
    model.add_argument("--word-dropout", type=RATE, default=WORD_DROPOUT,
                       help="share of whole tokens dropped in training")
    model.add_argument("--bigram-buckets", type=int_at_least(0, MAX_BUCKETS),
                       help=f"hash buckets of a fastText-style bag of word bigrams beside the LSTM (default: "
                            f"--vocab-size, at most {MAX_BUCKETS}; 0: none)")
    model.add_argument("--embedding-dim", type=int_at_least(1), default=model_defaults["embedding_dim"], help="embedding size")
    model.add_argument("--embeddings", help="pretrained vectors (GloVe / word2vec text format) to start from")
    model.add_argument("--freeze-embeddings", action="store_true", help="keep the embeddings fixed")
    model.add_argument("--vocab-size", type=int_at_least(3), default=model_defaults["vocabulary_size"],
                       help="vocabulary size, padding and [UNK] included")
    model.add_argument("--max-length", type=int_at_least(1), default=model_defaults["max_length"],
                       help="tokens read per text; longer texts are truncated (see --truncation)")
    model.add_argument("--truncation", choices=("post", "pre"), default=model_defaults["truncation"],
                       help="post: keep the first --max-length tokens; pre: keep the last ones")
    model.add_argument("--no-lowercase", action="store_true", help="keep the case")
    model.add_argument("--keep-punctuation", action="store_true", help="do not strip punctuation")
    model.add_argument("--stop-words", help="a file of stop words to remove, one a line")
    model.add_argument("--tokenizer", choices=TOKENIZERS, default=model_defaults["tokenizer"],
                       help="split on whitespace, or with TensorFlow Text's UnicodeScriptTokenizer (punctuation and "
                            "changes of script split words too)")
    training = train.add_argument_group("training")
    training.add_argument("--epochs", type=int_at_least(1), default=DEFAULTS["epochs"], help="most epochs (early stopping)")
    training.add_argument("--batch-size", type=int_at_least(1), default=DEFAULTS["batch_size"], help="texts per step")
    training.add_argument("--learning-rate", type=POSITIVE,
                          help=f"Adam's learning rate (default {DEFAULTS['learning_rate']:g}); with --fine-tune ulmfit, "
                               f"the schedule's peak (default {ULMFIT_PEAK_LEARNING_RATE:g})")
    training.add_argument("--clipnorm", type=NON_NEGATIVE, default=DEFAULTS["clipnorm"], help="gradient clipping; 0 for none")
    training.add_argument("--patience", type=int_at_least(1), default=DEFAULTS["patience"],
                          help="epochs without a better validation loss before stopping")
    add_time_budget_argument(training)
    training.add_argument("--seed", type=int, default=0, help="seed of the weights, splits and shuffling")
    training.add_argument("--tune", type=int_at_least(1), metavar="TRIALS",
                          help="search gating, units, layers, dropout and learning rate first (KerasTuner)")
    training.add_argument("--pretrain-lm", type=int_at_least(1), metavar="EPOCHS",
                          help="train a language model on the training texts first and start the model (and, with "
                               "--folds, every fold's model, from its own training texts) from its embedding and LSTM "
                               "weights (unidirectional models)")
    training.add_argument("--pretrain-objective", choices=OBJECTIVES, default="next_token",
                          help="what --pretrain-lm's model learns: the next token, or to read each text and write it "
                               "again (Dai & Le's sequence autoencoder)")
    training.add_argument("--unlabeled", metavar="PATH",
                          help="more text for --pretrain-lm's language model: a file, one text a line, or a folder of "
                               ".txt files (the vocabulary stays the training texts')")
    training.add_argument("--fine-tune", choices=FINE_TUNINGS, default="plain",
                          help="how pretrained layers (--pretrain-lm, --embeddings) are fine-tuned: plain Adam, or "
                               "ULMFiT's discriminative learning rates, gradual unfreezing and slanted triangular "
                               "schedule")
    training.add_argument("--ensemble", type=int_at_least(1), metavar="K",
                          help="train K classifiers (seeds --seed ... --seed+K-1, each with its own validation split) "
                               "and average their probabilities; with --folds, K per fold. Default: 1; with "
                               "--time-budget (and no --folds or --tune), members are added once the first has "
                               "converged while the budget has room for one more")
    add_strategy_argument(training)
    add_output_arguments(train)
    train.set_defaults(handler=run_train)

    predict = add_command(commands, "predict", "classify texts with a trained model")
    predict.add_argument("--model", required=True, help="the --out folder of `classify train`")
    predict.add_argument("texts", nargs="*", help="texts to classify (default: one a line on stdin)")
    predict.set_defaults(handler=run_predict)

    add_export_command(commands, "classify", export_model_folder, "class probabilities of token ids", fused_lstm=True)


def run_train(args):
    """Runs `classify train` (staged, resumable); prints the final metrics as one JSON line."""
    return run_staged_training(train_text_classifier, args, "classify")


def run_predict(args):
    """Runs `classify predict`: one `label<TAB>probability` line per text."""
    texts = read_texts(args.texts)
    for label, probability in predict_saved_model(args.model, texts):
        print(f"{label}\t{probability:.4f}", flush=False)
    sys.stdout.flush()
    return 0
