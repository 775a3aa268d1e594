"""The tokenizer registry: `kind` names ("word", "wordpiece") to tokenizer classes.

Each tokenizer class registers itself where it is defined (`@register("word")`), so the base
class finds its subclasses by name (`Tokenizer.from_texts(kind="wordpiece")`) without importing
them. `lstm_keras.text` imports every tokenizer module, so every kind is registered once the
package is imported.
"""

_TOKENIZERS = {}


def register(kind):
    """A class decorator: registers the tokenizer class under `kind`."""

    def decorate(cls):
        _TOKENIZERS[kind] = cls
        cls.kind = kind
        return cls

    return decorate


def kinds():
    """The registered kinds, in registration order."""
    return tuple(_TOKENIZERS)


def get(kind):
    """Returns the tokenizer class registered under `kind`.

    Example:
    >>> import lstm_keras.text
    >>> get("word").__name__, get("wordpiece").__name__
    ('Tokenizer', 'WordPieceTokenizer')
    """
    if kind not in _TOKENIZERS:
        raise ValueError(f"`kind` must be one of {kinds()}; received: kind={kind!r}")
    return _TOKENIZERS[kind]
