"""The recurrent cells of the library by name: the one home of the `cell` option of every task.

`recurrent_layer(cell, units, index=i, ...)` builds the layer a name stands for at position `i` of a
stack (for `xlstm[A:B]`, the pattern of mLSTM and sLSTM blocks). Every layer it builds
answers the contract of `lstm_keras.layers.parallel_recurrence` (`initial_state`, `scan`, `step`,
`reset_state`), so a task model runs training, scoring and step-by-step generation the same way for
every cell.

| name | layer | reference |
|---|---|---|
| `lstm` | `GatedLSTM` with the `gating` preset | Hochreiter & Schmidhuber 1997; Greff et al. 2017 |
| `slstm` | `GatedLSTM(variant="slstm", num_heads)` | Beck et al. 2024 (xLSTM) |
| `mlstm` | `MLSTM(num_heads, mode="chunkwise", head_norm=True)` | Beck et al. 2024 (xLSTM) |
| `minlstm`, `mingru` | `MinLSTM`, `MinGRU` | Feng et al. 2024 |
| `xlstm[A:B]` | residual mLSTM and sLSTM blocks, A of the first per B of the second | Beck et al. 2024 |
"""

from lstm_keras.layers.gated_lstm import GatedLSTM
from lstm_keras.layers.gating import gating_options
from lstm_keras.layers.min_gru import MinGRU
from lstm_keras.layers.min_lstm import MinLSTM
from lstm_keras.layers.mlstm import MLSTM
from lstm_keras.layers.xlstm import block_kinds
from lstm_keras.layers.xlstm import parse_pattern
from lstm_keras.layers.xlstm import xlstm_block

CELLS = ("lstm", "slstm", "mlstm", "minlstm", "mingru", "xlstm[A:B]")
# The most heads of the multi-head cells (sLSTM, mLSTM): the largest count up to it that divides the width.
MAX_HEADS = 4
# The mLSTM's training form: chunkwise (linear memory in the length; one parallel chunk for short windows).
MLSTM_MODE = "chunkwise"


def check_cell(cell, gating=None):
    """Raises ValueError for an unknown cell name, or a `gating` preset given with a cell that has no gates to choose.

    Args:
        cell: a name of `CELLS` (`xlstm[A:B]` with non-negative integers A and B, A + B > 0).
        gating: the gating of the `lstm` cell (None, a preset name or a dict of options).

    Returns:
        `(mlstm_blocks, slstm_blocks)` for `xlstm[A:B]`, else None.

    Example:
    >>> check_cell("xlstm[7:1]")
    (7, 1)
    >>> check_cell("mlstm", gating="cifg")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Invalid combination: cell='mlstm' with gating='cifg'; --gating chooses the gates of cell='lstm' only...
    """
    if not isinstance(cell, str):
        raise ValueError(f"Invalid value for argument `cell`: received {cell!r}; allowed: one of {list(CELLS)}.")
    ratio = None
    if cell not in CELLS[:-1]:
        try:
            if not (cell.startswith("xlstm[") and cell.endswith("]")):
                raise ValueError(cell)
            ratio = parse_pattern(cell[len("xlstm["):-1])
        except ValueError:
            raise ValueError(
                f"Invalid value for argument `cell`: received {cell!r}; allowed: one of {list(CELLS)} "
                "(A and B non-negative integers, not both 0, e.g. 'xlstm[1:1]' or 'xlstm[7:1]')."
            ) from None
    if cell != "lstm" and gating not in (None, "vanilla"):
        raise ValueError(
            f"Invalid combination: cell={cell!r} with gating={gating!r}; --gating chooses the gates of "
            f"cell='lstm' only (allowed with {cell!r}: none, or 'vanilla')."
        )
    return ratio


def default_heads(units):
    """The number of heads of a multi-head cell of `units`: the largest divisor of `units` up to `MAX_HEADS`."""
    return max(h for h in range(1, MAX_HEADS + 1) if units % h == 0)


def recurrent_layer(cell, units, gating=None, index=0, **kwargs):
    """The recurrent layer at position `index` of a stack of `cell`.

    For `xlstm[A:B]` the layers are residual xLSTM blocks (`lstm_keras.layers.xlstm`), in
    groups of A mLSTM blocks followed by B sLSTM blocks (`block_kinds`): `xlstm[1:1]` with 2
    layers is mLSTM, sLSTM; `xlstm[7:1]` with 8 is seven mLSTM blocks, then one sLSTM block.
    A block's output has `units` features whatever its input size.

    Args:
        cell: a name of `CELLS`.
        units: positive int, the output size.
        gating: the gating of `lstm` (None, a preset name of `VARIANTS` or a dict of `GatedLSTM`
            options); must be None or `"vanilla"` for the other cells.
        index: the position of the layer in its stack (0 for the first).
        **kwargs: the layer arguments every cell takes: `return_sequences`, `return_state`,
            `go_backwards`, `stateful`, `name`.

    Returns:
        A Keras layer answering the contract of `lstm_keras.layers.parallel_recurrence`.

    Example:
    >>> recurrent_layer("mingru", 8, return_sequences=True).__class__.__name__
    'MinGRU'
    >>> recurrent_layer("slstm", 12).num_heads
    4
    >>> [recurrent_layer("xlstm[1:1]", 8, index=i).__class__.__name__ for i in range(3)]
    ['MLSTMBlock', 'SLSTMBlock', 'MLSTMBlock']
    """
    ratio = check_cell(cell, gating)
    if ratio is not None:
        return xlstm_block(block_kinds(ratio, index + 1)[index], units, num_heads=default_heads(units), **kwargs)
    if cell == "lstm":
        return GatedLSTM(units, **gating_options(gating), **kwargs)
    if cell == "slstm":
        return GatedLSTM(units, variant="slstm", num_heads=default_heads(units), **kwargs)
    if cell == "mlstm":
        return MLSTM(units, num_heads=default_heads(units), mode=MLSTM_MODE, head_norm=True, **kwargs)
    return {"minlstm": MinLSTM, "mingru": MinGRU}[cell](units, **kwargs)
