"""The defaults of classification training, written once: the recipe (`training.py`) and the search (`tuning.py`) read them."""

DEFAULTS = {
    "epochs": 10,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "clipnorm": 1.0,
    "patience": 3,
    "valid_split": 0.1,
}
# The model settings of `classify train` where they differ from `TextClassifier`'s plain defaults, chosen on
# MR-5k, Debian-5k and IMDB-5k (BENCHMARKS.md): word dropout, and a bag of hashed word bigrams with as many
# buckets as the vocabulary has entries (`bigram_buckets`), at most `BigramBag`'s limit.
WORD_DROPOUT = 0.3
# The peak of the slanted triangular schedule of `--fine-tune ulmfit` (Howard & Ruder 2018 fine-tune their
# classifiers at 0.01); on MR-5k it did better than the plain default 1e-3 as a peak (BENCHMARKS.md).
ULMFIT_PEAK_LEARNING_RATE = 1e-2
# Data sets without a test split (and no cross-validation) are tested on this held-out share.
HOLD_OUT = 0.1
# With a --time-budget, the seconds kept for saving and exporting the final model (the default model takes about
# 3 s on a 2-core CPU; kept five-fold for larger models and slower disks).
EXPORT_SECONDS = 15.0
# With a time budget and no --ensemble: the most members the budget may grow the ensemble to.
MAX_BUDGET_MEMBERS = 8
# A further member is trained only if the time left covers this many times the slowest member so
# far, besides the evaluation and export of the larger ensemble: a member is a run of its own,
# whose early stopping may come later than the others'.
MEMBER_TIME_MARGIN = 1.3
