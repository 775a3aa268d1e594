"""The export support table: every recurrent layer as a SavedModel, a LiteRT and an ONNX file, how exact, how fast.

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/bench_export.py [--formats saved_model,tflite,tflite_fused,onnx]
        [--out DIR] [--only TEXT]

For every cell of `lstm_keras.layers.cells` (and every `GatedLSTM` preset), a small model
`Embedding(50, 8, mask_zero=True) -> layer(16) -> Dense(3, softmax)` reading int32 token ids
(right-padded with 0) is exported the way the `export` commands export the task models:

- **SavedModel** (`saving.write_saved_model`, traced without the fused cuDNN kernel), served by a
  process that imports TensorFlow alone; the table says whether any `CudnnRNN*` op is in it;
- **LiteRT** (`conversion.write_portable`: variables frozen, `TFLITE_BUILTINS` only, batch 1, any
  length), run by a process that imports only `ai_edge_litert` and NumPy; and again with
  `fused_lstm` (the standard LSTM as TFLite's fused kernel, the interpreter's variables reset
  after every sequence, timed with the reset);
- **ONNX** (`conversion.write_portable`: `tf2onnx`, opset 17), run by a process that imports only
  `onnxruntime` and NumPy.

Each file is checked on inputs of 12, 7 and 1 real tokens (the largest absolute difference to
Keras), timed on one sequence of 12 tokens (median of 200 calls after 10, in the serving
process) and its ops listed: `fused` when the recurrence is TFLite's `UNIDIRECTIONAL_SEQUENCE_LSTM`
or ONNX's `LSTM`, `loop` when it is a `WHILE` / `Loop` of elementary ops, `no loop` when the
layer has none (a parallel scan unrolled for the length). Prints a Markdown table.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

LENGTH = 12
VOCABULARY = 50
# Serves one exported model on `inputs` in a process with only its runtime: outputs, latency, ops.
SERVERS = {
    "saved_model": """
import tensorflow as tf
function = tf.saved_model.load(path).signatures["serve"]
run = lambda ids: function(token_ids=tf.constant(ids))["probabilities"].numpy()
ops = {node.op for f in function.graph.as_graph_def().library.function for node in f.node_def}
ops |= {node.op for node in function.graph.as_graph_def().node}
""",
    "tflite": """
from ai_edge_litert.interpreter import Interpreter
interpreter = Interpreter(model_path=path)
runner = interpreter.get_signature_runner("serve")
run = lambda ids: runner(token_ids=ids)["probabilities"]
run(inputs[:1])
ops = {op["op_name"] for op in interpreter._get_ops_details()}
""",
    # The fused LSTM kernel keeps its state in the interpreter: reset after every sequence, as its users must.
    "tflite_fused": """
from ai_edge_litert.interpreter import Interpreter
interpreter = Interpreter(model_path=path)
runner = interpreter.get_signature_runner("serve")
def run(ids):
    probabilities = runner(token_ids=ids)["probabilities"]
    interpreter.reset_all_variables()
    return probabilities
run(inputs[:1])
ops = {op["op_name"] for op in interpreter._get_ops_details()}
""",
    "onnx": """
import onnxruntime
session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
run = lambda ids: session.run(["probabilities"], {"token_ids": ids})[0]
import onnx
ops = {node.op_type for node in onnx.load(path).graph.node}
""",
}
MEASURE = """
import json, sys, time
import numpy as np
path, inputs, expected = sys.argv[1], np.load(sys.argv[2]), np.load(sys.argv[3])
{server}
outputs = np.concatenate([run(row[None]) for row in inputs])
times = []
for _ in range(210):
    start = time.perf_counter()
    run(inputs[:1])
    times.append(time.perf_counter() - start)
print(json.dumps({{"max_abs_difference": float(np.abs(outputs - expected).max()),
                  "latency_ms": float(np.median(times[10:]) * 1e3), "ops": sorted(ops),
                  "tensorflow_imported": "tensorflow" in sys.modules}}))
"""
FUSED = {"UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM", "LSTM"}
LOOPS = {"WHILE", "Loop", "While", "StatelessWhile"}


def configurations():
    """`{label: (cell, gating)}`: every cell, and the `lstm` cell in every `GatedLSTM` preset."""
    from lstm_keras.layers.cells import CELLS
    from lstm_keras.layers.gating import VARIANTS

    rows = {f"lstm, {variant}": ("lstm", variant) for variant in VARIANTS}
    rows.update({cell: (cell, None) for cell in CELLS if cell not in ("lstm", "xlstm[A:B]")})
    rows["xlstm[1:1] (one mLSTM block)"] = ("xlstm[1:1]", None)
    return rows


def check_inputs():
    """Three rows of 12, 7 and 1 real tokens, right-padded with 0: int32 `(3, 12)`."""
    inputs = np.random.default_rng(0).integers(1, VOCABULARY, size=(3, LENGTH)).astype("int32")
    inputs[1, 7:] = 0
    inputs[2, 1:] = 0
    return inputs


def export(cell, gating, folder, formats):
    """Exports the small model of `cell` in every format into `folder`; returns `{format: path or error message}`."""
    import keras
    import tensorflow as tf

    from lstm_keras import conversion
    from lstm_keras.layers.cells import recurrent_layer
    from lstm_keras.saving import write_saved_model

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"), keras.layers.Embedding(VOCABULARY, 8, mask_zero=True),
        recurrent_layer(cell, 16, gating), keras.layers.Dense(3, activation="softmax"),
    ])
    inputs = check_inputs()
    np.save(os.path.join(folder, "inputs.npy"), inputs)
    np.save(os.path.join(folder, "expected.npy"),
            np.concatenate([keras.ops.convert_to_numpy(model(row[None])) for row in inputs]))  # (3, 3)
    results = {}
    for format in formats:
        batch = 1 if format.startswith("tflite") else None
        function = tf.function(lambda ids: {"probabilities": model(ids)},
                               input_signature=[tf.TensorSpec([batch, None], tf.int32, name="token_ids")])
        try:
            if format == "saved_model":
                path = os.path.join(folder, "saved_model")
                write_saved_model(path, [model], {"serve": function})
            else:
                kind, fused = format.split("_")[0], format.endswith("_fused")
                path = os.path.join(folder, f"model{'_fused' if fused else ''}.{kind}")
                checks = {"serve": [(row[None],) for row in inputs]}
                conversion.write_portable(path, kind, {"serve": function}, checks,
                                          fused_lstm=model.variables if fused else None)
            results[format] = path
        except Exception as error:  # a refusal is a result: its message goes in the table
            results[format] = "refused: " + conversion.last_line(error)[:120]
    return results


def measure(format, path, folder):
    """Serves one file in a fresh process with only its runtime; returns the measured row."""
    script = MEASURE.format(server=SERVERS[format])
    done = subprocess.run([sys.executable, "-c", script, path, os.path.join(folder, "inputs.npy"),
                           os.path.join(folder, "expected.npy")], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode != 0:
        return {"failed": done.stderr.strip().splitlines()[-1][:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def describe(format, row):
    """One table cell: `fused`/`loop`/`no loop`, the difference to Keras and the latency; or why not."""
    if "failed" in row:
        return f"failed: {row['failed']}"
    if format != "saved_model" and row["tensorflow_imported"]:
        return "**served with TensorFlow imported**"
    ops = set(row["ops"])
    if any(op.startswith("CudnnRNN") for op in ops):
        return "**CudnnRNN op**"
    kind = "fused" if ops & FUSED else "loop" if ops & LOOPS else "no loop"
    return f"{kind}, {row['max_abs_difference']:.0e}, {row['latency_ms']:.3f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", default="saved_model,tflite,tflite_fused,onnx", help="comma-separated")
    parser.add_argument("--out", help="where the files go (default: a temporary folder)")
    parser.add_argument("--only", help="only the configurations whose label contains this text")
    args = parser.parse_args()
    formats = args.formats.split(",")
    out = args.out or tempfile.mkdtemp(prefix="bench_export_")
    names = {"saved_model": "SavedModel (TensorFlow, CPU)", "tflite": "LiteRT (builtin ops)",
             "tflite_fused": "LiteRT, `fused_lstm`", "onnx": "ONNX (tf2onnx, onnxruntime)"}
    print("| configuration | " + " | ".join(names[f] for f in formats) + " |")
    print("|---|" + "---|" * len(formats))
    for label, (cell, gating) in configurations().items():
        if args.only and args.only not in label:
            continue
        # No glob characters: TensorFlow's checkpoint reader takes a SavedModel's path as a pattern.
        folder = os.path.join(out, "".join(c if c.isalnum() else "_" for c in label))
        os.makedirs(folder, exist_ok=True)
        exported = export(cell, gating, folder, formats)
        cells = [path if path.startswith("refused") else describe(f, measure(f, path, folder))
                 for f, path in exported.items()]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
