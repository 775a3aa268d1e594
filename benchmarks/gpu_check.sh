#!/usr/bin/env bash
# One short GPU check for a device machine (it has JAX and PyTorch, no TensorFlow):
#   1. proves that GatedLSTM's standard configuration runs the fused cuDNN kernel
#      (use_cudnn=True raises ValueError where it cannot), on JAX and on PyTorch;
#   2. trains the medium PTB language model for a few minutes (gpu_language_model.py);
#   3. times keras.layers.LSTM, every GatedLSTM preset and torch.nn.LSTM (bench_lstm.py).
# Usage, from the repository root: benchmarks/gpu_check.sh PTB_DIR [LM_MINUTES] [BENCH_SECONDS]
# A keras wheel carried in .whl/ is installed first (benchmarks/gpu_env.sh).
# Outputs also go to $OUT (lm.json, bench.md) when it is set. Record them in BENCHMARKS.md.
set -euo pipefail
ptb_dir=${1:?usage: gpu_check.sh PTB_DIR [LM_MINUTES] [BENCH_SECONDS]}
lm_minutes=${2:-4}
bench_seconds=${3:-180}
out=${OUT:-$(mktemp -d)}
source benchmarks/gpu_env.sh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
cudnn_check='
import keras, numpy as np
from lstm_keras.layers import GatedLSTM
x = np.random.default_rng(0).normal(size=(8, 20, 16)).astype("float32")
y = GatedLSTM(32, use_cudnn=True)(x)  # ValueError if the fused kernel is not taken
for variant in ("cifg", "peephole"):
    assert not GatedLSTM(32, variant=variant).fused_kernel_compatible
print(f"{keras.backend.backend()}: GatedLSTM(use_cudnn=True) ran on the fused kernel, output on {y.device}; "
      "cifg/peephole take the compiled loop")
'
python3 -c "$cudnn_check"
KERAS_BACKEND=torch python3 -c "$cudnn_check"
python3 benchmarks/gpu_language_model.py --data-dir "$ptb_dir" --time-budget "$lm_minutes" | tee "$out/lm.json"
timeout "$bench_seconds" python3 benchmarks/bench_lstm.py --shapes small,large --repeats 5 | tee "$out/bench.md"
