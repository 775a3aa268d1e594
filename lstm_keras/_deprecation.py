"""Old import paths kept for one release: they still work, with a `DeprecationWarning` naming the new one."""

import importlib
import warnings


def warn_moved(old, new, stacklevel=3):
    """Warns that `old` (a module or name) moved to `new`."""
    warnings.warn(f"{old} is deprecated and will be removed in the next release: use {new}",
                  DeprecationWarning, stacklevel=stacklevel)


def moved_attribute(module_name, moved, name):
    """Resolves `name` of a package whose names moved (a module's `__getattr__`, PEP 562).

    Args:
        module_name: the package whose attribute is asked for.
        moved: a dict name -> the module that now defines it.
        name: the attribute asked for.

    Raises:
        AttributeError: `name` is not one of the moved names.
    """
    if name not in moved:
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    warn_moved(f"{module_name}.{name}", f"{moved[name]}.{name}")
    return getattr(importlib.import_module(moved[name]), name)
