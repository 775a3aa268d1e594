#!/usr/bin/env bash
# One short GPU check for a device machine (it has JAX and PyTorch, no TensorFlow):
#   1. proves that GatedLSTM's standard configuration runs the fused cuDNN kernel
#      (use_cudnn=True raises ValueError where it cannot), on JAX;
#   2. times keras.layers.LSTM, every GatedLSTM preset and torch.nn.LSTM (bench_lstm.py).
# Run from the repository root. If a keras wheel was carried in .whl/ (see the device tool's
# README), it is installed first. Record the printed tables in BENCHMARKS.md.
set -euo pipefail
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" KERAS_BACKEND=jax PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 - <<'PY'
import numpy as np
from lstm_keras.layers import GatedLSTM
x = np.random.default_rng(0).normal(size=(8, 20, 16)).astype("float32")
GatedLSTM(32, use_cudnn=True)(x)  # ValueError if the fused kernel is not taken
print("cuDNN path: GatedLSTM(use_cudnn=True) ran on the fused kernel")
for variant in ("cifg", "peephole"):
    assert not GatedLSTM(32, variant=variant).fused_kernel_compatible
print("non-standard presets run the compiled loop")
PY
python3 benchmarks/bench_lstm.py --shapes small,large --repeats 10
