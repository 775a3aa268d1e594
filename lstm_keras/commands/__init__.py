"""Command groups of the `lstm-keras` CLI (see `lstm_keras/cli.py`)."""
