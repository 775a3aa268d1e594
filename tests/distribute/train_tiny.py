"""A tiny training run for the distribution tests: prints one JSON line of per-epoch losses.

Usage: python train_tiny.py STRATEGY OUT_DIR  (LSTM_KERAS_CPU_DEVICES / TF_CONFIG from the env)
"""

import json
import os
import sys

import keras
import numpy as np

from lstm_keras.distribute import DistributedFitMixin
from lstm_keras.distribute import get_strategy
from lstm_keras.distribute import is_chief
from lstm_keras.layers import GatedLSTM
from lstm_keras.training import set_seed

GLOBAL_BATCH = 32


class TinyModel(DistributedFitMixin, keras.Sequential):
    """A Sequential model that builds under any strategy as the project's models do."""


def main(name, out_dir):
    strategy = get_strategy(name)
    set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 12, 4)).astype("float32")
    y = (x[:, :, 0].sum(1) > 0).astype("float32")
    with strategy.scope():
        model = TinyModel([keras.Input((12, 4)), GatedLSTM(8, variant="cifg"), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.1), keras.losses.BinaryCrossentropy(from_logits=True))
    history = model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=3, shuffle=False, verbose=0)
    if is_chief(strategy):
        model.save(os.path.join(out_dir, "model.keras"))
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "loss": history.history["loss"]}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
