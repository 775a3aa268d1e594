"""An independent NumPy implementation of the gated LSTM equations, for tests.

Written from the equations (Hochreiter & Schmidhuber 1997, Gers et al. 2000, Greff et al. 2017,
Ba et al. 2016, Neil et al. 2016, Krueger et al. 2017), not from the layer's code: it loops over
time steps one by one, reads the weights by name and handles masks and `go_backwards` the way a
Keras RNN does (a masked step keeps the states and repeats the previous output).
"""

import numpy as np

GATES = ("input", "forget", "output")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ACTIVATIONS = {"tanh": np.tanh, "linear": lambda x: x, "relu": lambda x: np.maximum(x, 0.0), "sigmoid": sigmoid}


def layer_norm(x, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def run_lstm(x, weights, config, mask=None, go_backwards=False, times=None, h0=None, c0=None, zero_output=False,
             trace=None):
    """Runs the gated LSTM over `x` (batch, time, features) at inference.

    Args:
        x: inputs.
        weights: dict weight name -> array (the cell's weights by name).
        config: the cell's resolved config (`get_config()`).
        mask: optional boolean (batch, time).
        go_backwards: process the steps in reverse order (outputs in processing order).
        times: optional (batch, time) step times for the time gate; default a clock that counts the
            steps processed so far (0, 1, 2, ... in processing order; masked steps do not count).
        h0, c0: optional initial states.
        zero_output: masked steps output zeros instead of the previous output (what
            `keras.layers.Bidirectional` asks of its layers with `return_sequences`).
        trace: optional dict: every step appends its gates to `trace[name]` (`"input"`, `"forget"`,
            `"output"`, `"candidate"`, each (batch, units)).

    Returns:
        (outputs (batch, time, units), h_T, c_T).
    """
    batch, steps, _ = x.shape
    units = config["units"]
    gates = {g: config[f"{g}_gate"] for g in GATES}
    learned = [g for g in GATES if gates[g] == "learned"]
    blocks = [b for b in ("input", "forget", "candidate", "output") if b == "candidate" or b in learned]
    act = ACTIVATIONS[config["activation"]]
    out_act = ACTIVATIONS[config["output_activation"]]
    rec_act = ACTIVATIONS[config["recurrent_activation"]]

    def split(v):
        return {b: v[..., k * units:(k + 1) * units] for k, b in enumerate(blocks)}

    def norm_blocks(v, gain):
        return np.concatenate([layer_norm(p) for p in split(v).values()], -1) * gain

    h = np.zeros((batch, units)) if h0 is None else h0.astype(np.float64)
    c = np.zeros((batch, units)) if c0 is None else c0.astype(np.float64)
    prev_gates = np.zeros((batch, len(learned) * units))
    out = np.zeros((batch, units))
    mask = np.ones((batch, steps), bool) if mask is None else mask
    clock = np.zeros((batch, 1))
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    outputs = []
    for t in order:
        zx = x[:, t] @ weights["kernel"]
        zh = h @ weights["recurrent_kernel"]
        if config["layer_norm"]:
            zx = norm_blocks(zx, weights["input_norm_gain"])
            zh = norm_blocks(zh, weights["recurrent_norm_gain"])
        z = zx + zh + (weights["bias"] if config["use_bias"] else 0.0)
        pre = split(z)
        if config["full_gate_recurrence"]:
            zg = prev_gates @ weights["gate_recurrent_kernel"]
            for k, g in enumerate(learned):
                pre[g] = pre[g] + zg[:, k * units:(k + 1) * units]

        def gate(name, cell_state):
            spec = gates[name]
            if spec == "none":
                return np.ones((batch, units))
            if not isinstance(spec, str):
                return np.full((batch, units), spec)
            value = pre[name]
            if name in config["peepholes"]:
                value = value + weights[f"peephole_{name}"] * cell_state
            return rec_act(value)

        i = gate("input", c)
        f = 1.0 - i if gates["forget"] == "coupled" else gate("forget", c)
        c_new = f * c + i * act(pre["candidate"])
        o = gate("output", c_new)
        if config["layer_norm"]:
            h_new = o * out_act(layer_norm(c_new) * weights["cell_norm_gain"] + weights["cell_norm_bias"])
        else:
            h_new = o * out_act(c_new)
        if config["time_gate"]:
            period = np.abs(weights["time_period"]) + 1e-3
            ratio = np.clip(weights["time_ratio"], 1e-3, 1.0)
            now = clock if times is None else times[:, t:t + 1]
            phase = np.mod(now - weights["time_shift"], period) / period
            k = np.where(phase < ratio / 2, 2 * phase / ratio, np.where(phase < ratio, 2 - 2 * phase / ratio, 0.0))
            c_new = k * c_new + (1 - k) * c
            h_new = k * h_new + (1 - k) * h
        pc, ph = config["zoneout_cell"], config["zoneout_hidden"]
        c_new = pc * c + (1 - pc) * c_new
        h_new = ph * h + (1 - ph) * h_new
        gate_values = {"input": i, "forget": f, "output": o}
        if trace is not None:
            for name, value in {**gate_values, "candidate": act(pre["candidate"])}.items():
                trace.setdefault(name, []).append(value)
        new_gates = np.concatenate([gate_values[g] for g in learned], -1) if learned else prev_gates

        m = mask[:, t:t + 1]
        h = np.where(m, h_new, h)
        c = np.where(m, c_new, c)
        prev_gates = np.where(m, new_gates, prev_gates)
        clock = clock + m
        out = np.where(m, h_new, 0.0 if zero_output else out)
        outputs.append(out)
    return np.stack(outputs, 1), h, c


def weights_by_name(layer):
    """The weights of a GatedLSTM / GatedLSTMCell as a dict name -> float64 array."""
    return {w.name: np.asarray(w, dtype=np.float64) for w in layer.weights}
