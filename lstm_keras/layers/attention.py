"""The attention registry: one name for each attention layer a task model can be built with.

`get_attention("bahdanau", units=128)` returns a new `BahdanauAttention`; `"luong-dot"`,
`"luong-general"` and `"luong-concat"` return a `LuongAttention` with that score. Task models
take an `attention=` name, validate it with `check_attention` and build the layer here, so a new
attention layer is one entry in `ATTENTIONS`.
"""

from lstm_keras.layers.bahdanau_attention import BahdanauAttention
from lstm_keras.layers.luong_attention import LuongAttention

# name -> (layer class, its `score`, or None for a layer with one score).
ATTENTIONS = {
    "bahdanau": (BahdanauAttention, None),
    "luong-dot": (LuongAttention, "dot"),
    "luong-general": (LuongAttention, "general"),
    "luong-concat": (LuongAttention, "concat"),
}


def check_attention(attention, owner):
    """Raises ValueError naming `owner`'s `attention` argument unless it is a name in `ATTENTIONS`."""
    if attention not in ATTENTIONS:
        raise ValueError(
            f"Invalid value for argument `attention` of {owner}: expected one of {tuple(ATTENTIONS)}. "
            f"Received: attention={attention!r}"
        )


def get_attention(attention, units=None, query_units=None, **kwargs):
    """A new attention layer for a name of `ATTENTIONS`.

    Args:
        attention: the name.
        units: the units of the score, or None: Bahdanau's then has `query_units`, Luong's
            "concat" the query size; "dot" and "general" have none.
        query_units: the size of the queries (Bahdanau's units when `units` is None).
        **kwargs: layer arguments (`name`, ...).

    Example:
    >>> get_attention("bahdanau", query_units=8).units, get_attention("luong-general").score
    (8, 'general')
    """
    check_attention(attention, "get_attention")
    layer_class, score = ATTENTIONS[attention]
    if score is None:
        return layer_class(units or query_units, **kwargs)
    return layer_class(score, units=units, **kwargs)
