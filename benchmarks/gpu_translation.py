"""Multi30k translation trained on a GPU machine that has JAX and no TensorFlow, scored here.

`lstm-keras translate train` tokenises with TensorFlow Text and feeds a `tf.data` pipeline, and
the device machines have no TensorFlow. The `Translator` itself is Keras layers and ops only, so
the run is cut in three, with the `translate train` recipe in every step (the functions of
`lstm_keras.models.translation.training`):

1. `prepare` (here, TensorFlow): parses `translate train` arguments, loads the corpus, learns the
   vocabularies, writes the model folder with the untrained model (`save_translation_model`)
   and, in its `device/` sub-folder (what travels), the translator's config, the training
   arguments and the tokenised training and validation pairs as padded id arrays.
2. `train` (on the device, `KERAS_BACKEND=jax`): loads that model, compiles it with the same
   schedule (`compile_for_training`), trains on the arrays with early stopping on the validation
   loss (best weights restored) and a time budget, and writes the weights (NumPy files under
   16 MiB each, the most a device returns per file) and `history.json` into `--out`.
3. `finish` (here, TensorFlow): loads the weights into the model folder's translator and runs
   `translate train`'s last step (`evaluate_and_save`): test2016 translated with beam search and
   scored with sacreBLEU, plots, `model.keras`, `saved_model/`, `metrics.json`. The result is a
   normal `translate train` folder (`translate run|eval`, `bench_translation.py --model`).

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/gpu_translation.py prepare --folder .gpu_data/multi30k -- \\
        --dataset multi30k-de-en --data-dir ../shared/datasets/multi30k --units 256 --embedding-dim 256
    # on the device (with .gpu_data/multi30k/device carried):
    source benchmarks/gpu_env.sh
    python3 benchmarks/gpu_translation.py train --folder .gpu_data/multi30k --time-budget 6 --out $OUT
    # back here:
    KERAS_BACKEND=tensorflow python benchmarks/gpu_translation.py finish --folder .gpu_data/multi30k \\
        --run RUN --out runs/gpu_multi30k

The only departures from `translate train`: batches are padded to the longest sentence of the
split instead of length-bucketed (one compiled shape), and there are no checkpoints, backups or
TensorBoard logs on the device.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lstm_keras.models.translation import training as recipe  # noqa: E402

DEVICE_DIR = "device"  # what travels: the arrays, the translator's config, the training arguments
ARRAYS_FILE = "arrays.npz"
CONFIG_FILE = "translator.json"
TRAINING_FILE = "training.json"
WEIGHTS_PREFIX = "weights"
HISTORY_FILE = "history.json"
# Files come back from the device at most 16 MiB each: the weights travel in parts below that.
PART_BYTES = 15 * 2**20


def prepare(args):
    """Writes the model folder and the padded id arrays of the training and validation pairs."""
    import tensorflow as tf

    from lstm_keras import cli
    from lstm_keras.models.translation.export import save_translation_model
    from lstm_keras.training import set_seed

    train_args = cli.build_parser().parse_args(["translate", "train", *args.train_arguments, "--out", args.folder])
    set_seed(train_args.seed)
    train_pairs, valid_pairs, test_pairs = recipe.load_corpus(train_args)
    module = recipe.build_module(train_args, train_pairs)
    settings = recipe.training_settings(train_args)
    save_translation_model(args.folder, module, extra_settings=settings)
    device_dir = os.path.join(args.folder, DEVICE_DIR)
    os.makedirs(device_dir, exist_ok=True)
    for name, value in ((CONFIG_FILE, module.translator.get_config()), (TRAINING_FILE, settings["training"])):
        with open(os.path.join(device_dir, name), "w", encoding="utf-8") as f:
            json.dump(value, f, indent=1)
    arrays = {}
    for name, pairs in (("train", train_pairs), ("valid", valid_pairs)):
        # One batch of everything, padded to the split's longest sentence.
        batch = recipe.translation_dataset(train_args, module, pairs, shuffle=False, batch_size=len(pairs),
                                              bucket_boundaries=None)
        (source, target_in), target_out = next(iter(batch))
        arrays.update({f"{name}_source": source.numpy().astype("int32"),
                       f"{name}_target_in": target_in.numpy().astype("int32"),
                       f"{name}_target_out": target_out.numpy().astype("int32")})
    # The test sources as the exported model reads them, for `decode`'s timings.
    arrays["test_source"] = module.source_ids(tf.constant([s for s, _ in test_pairs])).numpy()
    np.savez_compressed(os.path.join(device_dir, ARRAYS_FILE), **arrays)
    print(json.dumps({name: list(array.shape) for name, array in arrays.items()}))


def _read_json(folder, name):
    with open(os.path.join(folder, DEVICE_DIR, name), encoding="utf-8") as f:
        return json.load(f)


def save_weight_parts(weights, directory):
    """Writes a list of arrays as `weights_0.npz`, `weights_1.npz`, ..., each under `PART_BYTES`."""
    parts, current, size = [], [], 0
    for array in weights:
        if current and size + array.nbytes > PART_BYTES:
            parts.append(current)
            current, size = [], 0
        current.append(array)
        size += array.nbytes
    parts.append(current)
    index = 0
    for number, part in enumerate(parts):
        np.savez(os.path.join(directory, f"{WEIGHTS_PREFIX}_{number}.npz"),
                 **{f"w{index + i:04d}": array for i, array in enumerate(part)})
        index += len(part)


def load_weight_parts(directory):
    """The arrays written by `save_weight_parts`, in their order."""
    arrays = {}
    number = 0
    while os.path.exists(path := os.path.join(directory, f"{WEIGHTS_PREFIX}_{number}.npz")):
        with np.load(path) as part:
            arrays.update({name: part[name] for name in part.files})
        number += 1
    return [arrays[name] for name in sorted(arrays)]


def _device():
    if keras.backend.backend() == "jax":
        import jax

        return str(jax.devices()[0])
    return keras.backend.backend()


def train(args):
    """Trains the folder's model on its arrays; writes the weights and the history into `--out`."""
    from lstm_keras.models.translation import Translator
    from lstm_keras.training import StopOnNonFiniteLoss
    from lstm_keras.training import TimeBudget
    from lstm_keras.training import set_seed

    train_args = argparse.Namespace(**_read_json(args.folder, TRAINING_FILE))
    set_seed(train_args.seed)
    arrays = np.load(os.path.join(args.folder, DEVICE_DIR, ARRAYS_FILE))
    translator = Translator.from_config(_read_json(args.folder, CONFIG_FILE))
    size = len(arrays["train_source"])
    recipe.compile_for_training(translator, train_args, size)
    callbacks = [
        StopOnNonFiniteLoss(),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=train_args.patience, restore_best_weights=True),
        TimeBudget(args.time_budget),
    ]
    started = time.monotonic()
    history = translator.fit(
        (arrays["train_source"], arrays["train_target_in"]), arrays["train_target_out"],
        validation_data=((arrays["valid_source"], arrays["valid_target_in"]), arrays["valid_target_out"]),
        batch_size=train_args.batch_size, epochs=train_args.epochs, callbacks=callbacks, shuffle=True, verbose=2,
    )
    seconds = time.monotonic() - started
    os.makedirs(args.out, exist_ok=True)
    save_weight_parts([keras.ops.convert_to_numpy(w) for w in translator.weights], args.out)
    record = {"backend": keras.backend.backend(), "device": _device(),
              "fused_kernel": [lstm.fused_kernel_compatible for lstm in _lstm_layers(translator)],
              "train_seconds": round(seconds, 1), "epoch": history.epoch,
              "history": {key: [float(v) for v in values] for key, values in history.history.items()}}
    with open(os.path.join(args.out, HISTORY_FILE), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
    print(json.dumps({key: record[key] for key in ("device", "fused_kernel", "train_seconds")}
                     | {"val_loss": record["history"]["val_loss"]}))


def _lstm_layers(model):
    from lstm_keras.layers import GatedLSTM

    return [layer for layer in model._flatten_layers() if isinstance(layer, GatedLSTM)]


def decode(args):
    """Times greedy decoding and beam search (k=5) of the trained translator on test2016 sources (JAX).

    Each sampler's `Translator.decode` (without attention weights, as the exported `translate`)
    is compiled with `jax.jit` once per batch shape (outputs `max_length` wide: `jit` needs a static
    width), the weights passed as arguments; then the
    best of `--repeats` calls is kept. Prints one JSON line per batch size.
    """
    import jax

    from lstm_keras import decoding
    from lstm_keras.models.translation import Translator

    translator = Translator.from_config(_read_json(args.folder, CONFIG_FILE))
    translator.set_weights(load_weight_parts(args.run))
    sources = np.load(os.path.join(args.folder, DEVICE_DIR, ARRAYS_FILE))["test_source"]
    values = [variable.value for variable in translator.weights]
    results = []
    for batch_size in args.batch_sizes:
        row = {"device": _device(), "batch": batch_size}
        for name, sampler in (("greedy", decoding.from_options(beam_size=1)),
                              ("beam5", decoding.from_options(beam_size=5,
                                                              length_penalty=recipe.DEFAULTS["length_penalty"]))):
            def run(weights, ids, sampler=sampler):
                with keras.StatelessScope(state_mapping=list(zip(translator.weights, weights))):
                    return translator.decode(ids, sampler, return_attention=False, length_bound=translator.max_length)[0]

            compiled = jax.jit(run)
            ids = sources[:batch_size]
            compiled(values, ids).block_until_ready()  # compilation
            best = float("inf")
            for _ in range(args.repeats):
                started = time.perf_counter()
                compiled(values, ids).block_until_ready()
                best = min(best, time.perf_counter() - started)
            row[name] = {"seconds": round(best, 4), "sentences_per_second": round(batch_size / best, 1)}
        row["beam5_over_greedy"] = round(row["beam5"]["seconds"] / row["greedy"]["seconds"], 2)
        print(json.dumps(row), flush=True)
        results.append(row)
    return results


def finish(args):
    """Loads the trained weights into the model folder's translator; evaluates and saves as `translate train`."""
    from lstm_keras.io import write_text
    from lstm_keras.models.translation.export import load_translation_model

    train_args = argparse.Namespace(**_read_json(args.folder, TRAINING_FILE))
    train_args.out = args.out
    train_pairs, valid_pairs, test_pairs = recipe.load_corpus(train_args)
    module = load_translation_model(args.folder)
    module.translator.set_weights(load_weight_parts(args.run))
    recipe.compile_for_training(module.translator, train_args, len(train_pairs))
    with open(os.path.join(args.run, HISTORY_FILE), encoding="utf-8") as f:
        record = json.load(f)
    history = keras.callbacks.History()
    history.epoch, history.history = record["epoch"], record["history"]
    os.makedirs(args.out, exist_ok=True)
    metrics = recipe.evaluate_and_save(train_args, args.out, module, history, record["train_seconds"],
                                          train_pairs, valid_pairs, test_pairs)
    metrics["trained_on"] = f"{record['device']} ({record['backend']})"
    write_text(os.path.join(args.out, "metrics.json"), json.dumps(metrics, indent=1))
    print(json.dumps(metrics))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    step = commands.add_parser("prepare", help="tokenise and write the model folder (TensorFlow)")
    step.add_argument("--folder", required=True, help="the folder to write (its device/ sub-folder travels to the device)")
    step.add_argument("train_arguments", nargs=argparse.REMAINDER, help="`translate train` arguments, after --")
    step = commands.add_parser("train", help="train on the arrays (JAX, on the device)")
    step.add_argument("--folder", required=True)
    step.add_argument("--time-budget", type=float, default=6.0, help="training minutes")
    step.add_argument("--out", required=True, help="where the weights and history go")
    step = commands.add_parser("decode", help="time greedy and beam decoding of the trained weights (JAX)")
    step.add_argument("--folder", required=True)
    step.add_argument("--run", required=True, help="the files `train` wrote (weights parts)")
    step.add_argument("--batch-sizes", type=lambda text: [int(b) for b in text.split(",")], default=[1, 32, 256, 1000])
    step.add_argument("--repeats", type=int, default=5)
    step = commands.add_parser("finish", help="evaluate and write a `translate train` folder (TensorFlow)")
    step.add_argument("--folder", required=True)
    step.add_argument("--run", required=True, help="the files `train` wrote (weights parts, history)")
    step.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "prepare" and args.train_arguments[:1] == ["--"]:
        args.train_arguments = args.train_arguments[1:]
    {"prepare": prepare, "train": train, "decode": decode, "finish": finish}[args.command](args)


if __name__ == "__main__":
    main()
