"""Gating options of the gated LSTM and the named variant presets: their one home.

`resolve_gating(variant, **options)` turns a preset name plus explicit options into one checked
set of options and `resolve_slstm(...)` checks the options of the sLSTM variant; `GatedLSTMCell`
and `GatedLSTM` both call them, so every error about gating is raised here, up front, with the
option, the value received and what is allowed.

Two tables of names: `VARIANTS`, the presets of the classic LSTM equations (what the gating
shoot-outs, the CLIs' `--gating` choices and the tests against the classic NumPy equations
iterate over), and `CELL_VARIANTS`, variants with equations of their own (sLSTM). Both are valid
values of `variant=`; `ALL_VARIANTS` is their union.
"""

import dataclasses
import numbers

GATES = ("input", "forget", "output")
LEARNED = "learned"
REMOVED = "none"
COUPLED = "coupled"
FORGET_BIAS_INITS = ("one", "zero", "chrono")
SLSTM = "slstm"
SLSTM_FORGET_ACTIVATIONS = ("sigmoid", "exp")


@dataclasses.dataclass(frozen=True)
class Variant:
    """A named gating preset: a one-line description, its reference and the options it sets."""

    description: str
    reference: str
    options: dict


# The defaults every preset starts from: the standard LSTM of `keras.layers.LSTM`.
DEFAULTS = {
    "input_gate": LEARNED,
    "forget_gate": LEARNED,
    "output_gate": LEARNED,
    "peepholes": False,
    "full_gate_recurrence": False,
    "activation": "tanh",
    "output_activation": "tanh",
    "zoneout_cell": 0.0,
    "zoneout_hidden": 0.0,
    "time_gate": False,
    "layer_norm": False,
}

_GREFF = "Greff et al. 2017, LSTM: A Search Space Odyssey"

VARIANTS = {
    "vanilla": Variant(
        "learned input, forget and output gates, no peepholes: exactly keras.layers.LSTM",
        "Hochreiter & Schmidhuber 1997; Gers et al. 2000", {},
    ),
    "peephole": Variant(
        "vanilla plus peephole connections from the cell state to every gate (Greff's V)",
        f"Gers & Schmidhuber 2000; {_GREFF}", {"peepholes": True},
    ),
    "nig": Variant("no input gate (i = 1)", _GREFF, {"input_gate": REMOVED}),
    "nfg": Variant("no forget gate (f = 1)", _GREFF, {"forget_gate": REMOVED}),
    "nog": Variant("no output gate (o = 1)", _GREFF, {"output_gate": REMOVED}),
    "niaf": Variant("no input activation function (identity candidate)", _GREFF, {"activation": "linear"}),
    "noaf": Variant("no output activation function (h = o * c)", _GREFF, {"output_activation": "linear"}),
    "cifg": Variant("coupled input and forget gate (f = 1 - i)", _GREFF, {"forget_gate": COUPLED}),
    "fgr": Variant("full gate recurrence: previous gate activations feed all gates", _GREFF,
                   {"full_gate_recurrence": True}),
    "phased": Variant(
        "Phased LSTM time gate: each unit updates only in the open phase of its own learned cycle",
        "Neil et al. 2016, Phased LSTM", {"time_gate": True},
    ),
    "zoneout": Variant(
        "stochastic gates: each unit keeps its previous cell (p=0.5) / hidden (p=0.05) value in training",
        "Krueger et al. 2017, Zoneout", {"zoneout_cell": 0.5, "zoneout_hidden": 0.05},
    ),
}

# Variants with equations of their own, not presets of the classic LSTM's options: kept apart
# from `VARIANTS` so that code comparing the classic presets never meets them.
CELL_VARIANTS = {
    SLSTM: Variant(
        "sLSTM: exponential input gate (sigmoid or exponential forget gate), a normaliser state "
        "n and h = o * c / n, memory mixing only inside heads (block-diagonal recurrent kernel)",
        "Beck et al. 2024, xLSTM: Extended Long Short-Term Memory (arXiv 2405.04517), eqs. 8-17",
        {"output_activation": "linear"},
    ),
}
ALL_VARIANTS = {**VARIANTS, **CELL_VARIANTS}

# The options sLSTM fixes (its equations have no place for the others): name -> the one value allowed.
SLSTM_FIXED = {
    "input_gate": LEARNED,
    "forget_gate": LEARNED,
    "output_gate": LEARNED,
    "peepholes": [],
    "full_gate_recurrence": False,
    "output_activation": "linear",
    "zoneout_cell": 0.0,
    "zoneout_hidden": 0.0,
    "time_gate": False,
    "layer_norm": False,
}


def resolve_gating(variant=None, **options):
    """Resolves a preset plus explicit options into one checked set of gating options.

    Explicit options (those not None) override the preset, which overrides `DEFAULTS`.

    Args:
        variant: a name in `VARIANTS` or `CELL_VARIANTS`, or None.
        **options: gating options (keys of `DEFAULTS`); None means "not given".

    Returns:
        A dict with every key of `DEFAULTS`; gates normalised to `"learned"`, `"none"`,
        `"coupled"` or a float, and `peepholes` to a list of gate names.

    Raises:
        ValueError: an unknown variant or option, or values that are invalid or contradict
            each other; the message names the option, the value received and what is allowed.

    Example:
    >>> resolve_gating("cifg")["forget_gate"]
    'coupled'
    >>> resolve_gating("peephole", output_gate="none")["peepholes"]
    ['input', 'forget']
    """
    if variant is not None and variant not in ALL_VARIANTS:
        raise ValueError(
            f"Invalid value for argument `variant`: received {variant!r}; "
            f"allowed: None or one of {sorted(ALL_VARIANTS)}."
        )
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"Unknown gating options {sorted(unknown)}; allowed: {sorted(DEFAULTS)}.")
    resolved = dict(DEFAULTS)
    if variant is not None:
        resolved.update(ALL_VARIANTS[variant].options)
    resolved.update({k: v for k, v in options.items() if v is not None})

    for gate in GATES:
        resolved[f"{gate}_gate"] = _check_gate(gate, resolved[f"{gate}_gate"])
    if resolved["forget_gate"] == COUPLED and resolved["input_gate"] == REMOVED:
        raise ValueError(
            "Contradictory options: forget_gate='coupled' (CIFG, f = 1 - i) needs an input gate, "
            "but input_gate='none'. Use input_gate='learned' or a fixed value."
        )
    resolved["peepholes"] = _check_peepholes(resolved["peepholes"], resolved)
    for flag in ("full_gate_recurrence", "time_gate", "layer_norm"):
        if not isinstance(resolved[flag], bool):
            raise ValueError(
                f"Invalid value for argument `{flag}`: received {resolved[flag]!r}; allowed: True or False."
            )
    if resolved["full_gate_recurrence"] and not learned_gates(resolved):
        raise ValueError(
            "Contradictory options: full_gate_recurrence=True feeds gate activations back into "
            "the gates, but no gate is 'learned' (input_gate, forget_gate, output_gate)."
        )
    for rate in ("zoneout_cell", "zoneout_hidden"):
        value = resolved[rate]
        if not _is_number(value) or not 0.0 <= value < 1.0:
            raise ValueError(f"Invalid value for argument `{rate}`: received {value!r}; allowed: a float in [0, 1).")
        resolved[rate] = float(value)
    if variant == SLSTM:
        for name, allowed in SLSTM_FIXED.items():
            value = resolved[name]
            if getattr(value, "__name__", value) != allowed:
                received = value if options.get(name) is None else options[name]
                raise ValueError(
                    f"Invalid value for argument `{name}` with variant='slstm': received {received!r}; "
                    f"allowed: {allowed!r} (the sLSTM equations have no other; the options sLSTM "
                    f"takes are num_heads, forget_gate_activation, activation, use_bias, dropout, "
                    f"recurrent_dropout, initializers, regularizers and constraints)."
                )
    return resolved


def resolve_slstm(variant, units, num_heads, forget_gate_activation, recurrent_activation):
    """Checks the sLSTM options and returns `(num_heads, forget_gate_activation)`.

    Without `variant="slstm"` the options must keep their defaults (`num_heads=1`,
    `forget_gate_activation=None`) and `(1, None)` is returned.

    Args:
        variant: the `variant` argument.
        units: the cell's units.
        num_heads: int >= 1 dividing `units`: the heads of the block-diagonal recurrent kernel.
        forget_gate_activation: `"sigmoid"` (default, None) or `"exp"`.
        recurrent_activation: the gates' activation; sLSTM's forget and output gates are sigmoids.

    Raises:
        ValueError: naming the option, the value received and what is allowed.

    Example:
    >>> resolve_slstm("slstm", 8, 2, None, "sigmoid")
    (2, 'sigmoid')
    >>> resolve_slstm(None, 8, 1, None, "sigmoid")
    (1, None)
    """
    if variant != SLSTM:
        if num_heads is not None and num_heads != 1:
            raise ValueError(
                f"Invalid value for argument `num_heads`: received {num_heads!r} with variant={variant!r}; "
                "allowed: 1 (heads exist only with variant='slstm')."
            )
        if forget_gate_activation is not None:
            raise ValueError(
                f"Invalid value for argument `forget_gate_activation`: received {forget_gate_activation!r} "
                f"with variant={variant!r}; allowed: None (it is an option of variant='slstm')."
            )
        return 1, None
    num_heads = 1 if num_heads is None else num_heads
    if not isinstance(num_heads, int) or isinstance(num_heads, bool) or num_heads < 1 or units % num_heads:
        raise ValueError(
            f"Invalid value for argument `num_heads`: received {num_heads!r} with units={units}; "
            f"allowed: a positive int that divides units."
        )
    forget_gate_activation = "sigmoid" if forget_gate_activation is None else forget_gate_activation
    if forget_gate_activation not in SLSTM_FORGET_ACTIVATIONS:
        raise ValueError(
            f"Invalid value for argument `forget_gate_activation`: received {forget_gate_activation!r}; "
            f"allowed: one of {list(SLSTM_FORGET_ACTIVATIONS)}."
        )
    if getattr(recurrent_activation, "__name__", recurrent_activation) != "sigmoid":
        raise ValueError(
            f"Invalid value for argument `recurrent_activation` with variant='slstm': received "
            f"{recurrent_activation!r}; allowed: 'sigmoid' (sLSTM's forget and output gates)."
        )
    return num_heads, forget_gate_activation


def learned_gates(options):
    """The gates (among input, forget, output, in that order) whose value is learned."""
    return [gate for gate in GATES if options[f"{gate}_gate"] == LEARNED]


def check_rate(name, value):
    """Checks a dropout-like rate in [0, 1] and returns it as a float."""
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"Invalid value for argument `{name}`: received {value!r}; allowed: a float in [0, 1].")
    return float(value)


def check_forget_bias_init(forget_bias_init, chrono_max_length):
    """Checks `forget_bias_init` and, for "chrono", the maximum dependency length."""
    if forget_bias_init not in FORGET_BIAS_INITS:
        raise ValueError(
            f"Invalid value for argument `forget_bias_init`: received {forget_bias_init!r}; "
            f"allowed: one of {list(FORGET_BIAS_INITS)}."
        )
    if forget_bias_init == "chrono" and (not _is_number(chrono_max_length) or chrono_max_length <= 2):
        raise ValueError(
            "forget_bias_init='chrono' needs `chrono_max_length`, the longest dependency in time "
            f"steps (a number > 2); received chrono_max_length={chrono_max_length!r}."
        )


def _check_gate(gate, spec):
    allowed = "'learned', 'none', a float in [0, 1]" + (", 'coupled'" if gate == "forget" else "")
    if isinstance(spec, str):
        spec = spec.lower()
        if spec in (LEARNED, REMOVED) or (spec == COUPLED and gate == "forget"):
            return spec
        if spec == COUPLED:
            raise ValueError(
                f"Invalid value for argument `{gate}_gate`: received 'coupled'; only the forget gate "
                f"can be coupled (f = 1 - i). Allowed for {gate}_gate: {allowed}."
            )
    elif _is_number(spec):
        if 0.0 <= spec <= 1.0:
            return float(spec)
        raise ValueError(
            f"Invalid value for argument `{gate}_gate`: received {spec!r}; a fixed gate value must "
            f"be in [0, 1]. Allowed: {allowed}."
        )
    raise ValueError(f"Invalid value for argument `{gate}_gate`: received {spec!r}; allowed: {allowed}.")


def _check_peepholes(peepholes, options):
    learned = learned_gates(options)
    if peepholes is True:
        return learned
    if peepholes is False:
        return []
    if isinstance(peepholes, str):
        peepholes = [peepholes]
    if not isinstance(peepholes, (list, tuple)) or any(g not in GATES for g in peepholes):
        raise ValueError(
            f"Invalid value for argument `peepholes`: received {peepholes!r}; allowed: True, False "
            f"or a list of gate names from {list(GATES)}."
        )
    for gate in peepholes:
        if gate not in learned:
            raise ValueError(
                f"Contradictory options: peepholes on the {gate} gate, but {gate}_gate="
                f"{options[f'{gate}_gate']!r}; peepholes need a 'learned' gate."
            )
    return [g for g in GATES if g in peepholes]


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def gating_options(gating):
    """Turns a `gating` argument (None, a variant name or a dict of options) into `GatedLSTM` kwargs.

    Example:
    >>> gating_options("cifg"), gating_options({"peepholes": True}), gating_options(None)
    ({'variant': 'cifg'}, {'peepholes': True}, {})
    """
    if gating is None:
        return {}
    if isinstance(gating, str):
        if gating not in VARIANTS:
            raise ValueError(
                f"Invalid value for argument `gating`: expected None, a dict of GatedLSTM options or one "
                f"of {sorted(VARIANTS)}. Received: gating={gating!r}"
            )
        return {"variant": gating}
    if isinstance(gating, dict):
        return dict(gating)
    raise ValueError(
        f"Invalid value for argument `gating`: expected None, a variant name or a dict of GatedLSTM "
        f"options. Received: gating={gating!r}"
    )
