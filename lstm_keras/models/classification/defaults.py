"""The defaults of classification training, written once: the recipe (`training.py`) and the search (`tuning.py`) read them."""

DEFAULTS = {
    "epochs": 10,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "clipnorm": 1.0,
    "patience": 3,
    "valid_split": 0.1,
}
# Data sets without a test split (and no cross-validation) are tested on this held-out share.
HOLD_OUT = 0.1
# With a --time-budget, the seconds kept for saving and exporting the final model (the default model takes about
# 3 s on a 2-core CPU; kept five-fold for larger models and slower disks).
EXPORT_SECONDS = 15.0
