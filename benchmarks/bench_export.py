"""Which recurrent layers convert to LiteRT (TFLite) with builtin ops only, and to ONNX, how exactly, and how fast.

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/bench_export.py [--litert-python PATH] [--onnx] [--out DIR]

For every cell of `lstm_keras.layers.cells` (and every `GatedLSTM` preset), a small model
`Embedding(50, 8, mask_zero=True) -> layer(16) -> Dense(3, softmax)` reading int32 `(1, 12)`
token ids (right-padded with 0) is traced without the fused cuDNN kernel, its variables frozen
into constants, and converted with `TFLITE_BUILTINS` only (no Flex ops, so the file runs in the
plain LiteRT interpreter). A second process, with only `ai_edge_litert` and NumPy imported
(`--litert-python`: a virtualenv with `pip install ai-edge-litert`), runs each file on three
inputs of 12, 7 and 1 real tokens and reports the largest absolute difference to Keras, the
median latency of one sequence (100 calls after 5) and the ops in the converted graph.
With `--onnx` (an interpreter with `tf2onnx` and `onnxruntime`), the same traced function is also
converted by `tf2onnx` (opset 17) and run by `onnxruntime` on the same inputs.
Prints a Markdown table.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

LENGTH = 12
VOCABULARY = 50
RUNNER = """
import json, sys, time
import numpy as np
from ai_edge_litert.interpreter import Interpreter
rows = {}
for name, path in json.loads(sys.argv[1]).items():
    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()
    source, target = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    inputs, expected = np.load(path + ".inputs.npy"), np.load(path + ".expected.npy")
    outputs = []
    for row in inputs:
        interpreter.set_tensor(source, row[None])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(target)[0])
    times = []
    for i in range(105):
        start = time.perf_counter()
        interpreter.set_tensor(source, inputs[:1])
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    rows[name] = {"max_abs_difference": float(np.abs(np.array(outputs) - expected).max()),
                  "latency_ms": float(np.median(times[5:]) * 1e3),
                  "ops": sorted({op["op_name"] for op in interpreter._get_ops_details()})}
print(json.dumps(rows))
"""


def configurations():
    """`{label: (cell, gating)}`: every cell, and the `lstm` cell in every `GatedLSTM` preset."""
    from lstm_keras.layers.cells import CELLS
    from lstm_keras.layers.gating import VARIANTS

    rows = {f"lstm, {variant}": ("lstm", variant) for variant in VARIANTS}
    rows.update({cell: (cell, None) for cell in CELLS if cell not in ("lstm", "xlstm[A:B]")})
    rows["xlstm[1:1] (one mLSTM block)"] = ("xlstm[1:1]", None)
    return rows


def convert(cell, gating, path, onnx=False):
    """Writes the LiteRT file of the small model of `cell` at `path`, with its test inputs and Keras outputs.

    Returns:
        With `onnx`, `{"max_abs_difference", "ops"}` of the ONNX conversion run by onnxruntime, or
        `{"failed": message}`; else None.
    """
    import keras
    import numpy as np
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from lstm_keras.layers.cells import recurrent_layer
    from lstm_keras.saving import without_fused_kernels

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((LENGTH,), dtype="int32"), keras.layers.Embedding(VOCABULARY, 8, mask_zero=True),
        recurrent_layer(cell, 16, gating), keras.layers.Dense(3, activation="softmax"),
    ])
    inputs = np.random.default_rng(0).integers(1, VOCABULARY, size=(3, LENGTH)).astype("int32")
    inputs[1, 7:] = 0
    inputs[2, 1:] = 0
    function = tf.function(lambda ids: model(ids), input_signature=[tf.TensorSpec([1, LENGTH], tf.int32)])
    with without_fused_kernels():
        frozen = convert_variables_to_constants_v2(function.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    with open(path, "wb") as f:
        f.write(converter.convert())
    expected = np.concatenate([keras.ops.convert_to_numpy(model(row[None])) for row in inputs])  # (3, 3)
    np.save(path + ".inputs.npy", inputs)
    np.save(path + ".expected.npy", expected)
    return run_onnx(function, inputs, expected) if onnx else None


def run_onnx(function, inputs, expected):
    """The ONNX conversion of `function` (tf2onnx, traced without the fused kernel) against Keras' `expected`."""
    import numpy as np
    import onnxruntime
    import tf2onnx

    from lstm_keras.saving import without_fused_kernels

    try:
        with without_fused_kernels():
            proto, _ = tf2onnx.convert.from_function(function, input_signature=function.input_signature, opset=17)
        session = onnxruntime.InferenceSession(proto.SerializeToString())
        name = session.get_inputs()[0].name
        outputs = np.concatenate([session.run(None, {name: row[None]})[0] for row in inputs])
    except Exception as error:  # a failure is a result: its message goes in the table
        return {"failed": last_line(error)[:120]}
    return {"max_abs_difference": float(np.abs(outputs - expected).max()),
            "ops": sorted({node.op_type for node in proto.graph.node})}


def last_line(error):
    """The last non-empty line of an exception's message (its type's name if it has none)."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--litert-python", default=sys.executable, help="a Python interpreter with ai_edge_litert")
    parser.add_argument("--onnx", action="store_true", help="also convert with tf2onnx and run with onnxruntime")
    parser.add_argument("--out", help="where the .tflite files go (default: a temporary folder)")
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="bench_export_")
    os.makedirs(out, exist_ok=True)
    files, refused, onnx = {}, {}, {}
    for label, (cell, gating) in configurations().items():
        path = os.path.join(out, label.replace(" ", "_").replace(",", "").replace(":", "-") + ".tflite")
        try:
            onnx[label] = convert(cell, gating, path, args.onnx)
            files[label] = path
        except Exception as error:  # a refusal is a result: its message goes in the table
            refused[label] = last_line(error)[:160]
    done = subprocess.run([args.litert_python, "-c", RUNNER, json.dumps(files)], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr[-3000:])
    served = json.loads(done.stdout.strip().splitlines()[-1])
    print("| configuration | LiteRT (builtin ops) | max abs difference to Keras | ms / sequence of 12 | ops |"
          + (" ONNX (tf2onnx, onnxruntime): max abs difference | ONNX ops |" if args.onnx else ""))
    print("|---|---|---|---|---|" + ("---|---|" if args.onnx else ""))
    for label in configurations():
        if label in refused:
            line = f"| {label} | refused: {refused[label]} | | | |"
        else:
            row = served[label]
            line = (f"| {label} | converted | {row['max_abs_difference']:.1e} | {row['latency_ms']:.3f} | "
                    f"{', '.join(row['ops'])} |")
        if args.onnx:
            result = onnx.get(label) or {"failed": "not converted to LiteRT"}
            line += (f" failed: {result['failed']} | |" if "failed" in result else
                     f" {result['max_abs_difference']:.1e} | {', '.join(result['ops'])} |")
        print(line)


if __name__ == "__main__":
    main()
