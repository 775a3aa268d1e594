"""The machinery shared by the checks: results, comparisons of values and gradients, random inputs."""

import dataclasses
import math

import keras
import numpy as np
from keras import ops

from lstm_keras.diagnostics import exact_float32
from lstm_keras.diagnostics import gradients

# Every printed result starts with this; the notebook tests look for it.
PREFIX = "[grading]"
# Tolerances of value comparisons (float32 computations on both sides).
ATOL, RTOL = 1e-5, 1e-4
# Tolerances of gradient comparisons: autodiff against autodiff, and finite differences.
GRAD_ATOL, GRAD_RTOL = 1e-4, 1e-3
FD_EPSILON, FD_ATOL, FD_RTOL = 1e-2, 2e-2, 2e-2


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The result of a check: whether it passed, how many comparisons passed, the first mismatch.

    Attributes:
        name: the check, e.g. `"check_lstm_step"`.
        passed: True when every comparison passed.
        comparisons: how many comparisons (shapes, values, gradients) passed.
        mismatch: a sentence naming the first mismatch (or the exception raised), or None.
        seed: the seed of the random inputs; pass it to the check to repeat them.
        compared: what the comparisons were about, for the printed line.
    """

    name: str
    passed: bool
    comparisons: int
    mismatch: str | None = None
    seed: int | None = None
    compared: str = "shapes, values and gradients"

    def __bool__(self):
        return self.passed

    def __str__(self):
        if self.passed:
            return f"{PREFIX} {self.name}: PASSED ({_plural(self.comparisons)} of {self.compared})"
        return (
            f"{PREFIX} {self.name}: NOT PASSED ({_plural(self.comparisons)} passed; seed={self.seed})\n"
            f"  first mismatch: {self.mismatch}"
        )


class Mismatch(Exception):
    """Raised inside a check at the first comparison that fails; the check reports it."""


def try_it(fn, *args, **kwargs):
    """Calls a student's function once and prints the shapes it returns, or why it failed.

    A "try it" cell for assignment notebooks that never raises, so that an unfinished notebook
    still runs to the end.

    Args:
        fn: the function.
        *args, **kwargs: its arguments.

    Returns:
        What `fn` returned, or None if it raised.

    Example:
    >>> out = try_it(lambda x: (x, x[:1]), np.zeros((2, 3)))
    <lambda> returned: [0] (2, 3) float64, [1] (1, 3) float64
    """
    name = getattr(fn, "__name__", "function")
    try:
        out = fn(*args, **kwargs)
    except NotImplementedError:
        print(f"{name} is not implemented yet (it raised NotImplementedError)")
        return None
    except Exception as error:  # noqa: BLE001 - a student's code may raise anything
        print(f"{name} raised {type(error).__name__}: {error}")
        return None
    print(f"{name} returned: {_describe(out)}")
    return out


def _plural(n):
    return f"{n} comparison" if n == 1 else f"{n} comparisons"


def _run(name, body, seed, compared="shapes, values and gradients"):
    """Runs a check's body, turning its first mismatch (or any error) into a printed `CheckResult`."""
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))
    counter = []
    try:
        with exact_float32():  # TF32 products or a mixed-precision policy would fail correct answers
            body(np.random.default_rng(seed), counter)
    except Mismatch as mismatch:
        result = CheckResult(name, False, len(counter), str(mismatch), seed, compared)
    except Exception as error:  # noqa: BLE001 - a check reports, it never raises
        message = f"the check could not run: {type(error).__name__}: {error}"
        result = CheckResult(name, False, len(counter), message, seed, compared)
    else:
        result = CheckResult(name, True, len(counter), None, seed, compared)
    print(result, flush=True)
    return result


def _call(fn, where, fn_name, *args, **kwargs):
    """Calls a student's function; any exception becomes a `Mismatch` that names it."""
    try:
        return fn(*args, **kwargs)
    except Mismatch:
        raise
    except NotImplementedError:
        raise Mismatch(
            f"{fn_name} raised NotImplementedError: not implemented yet (write your code in place of "
            "`raise NotImplementedError()`)"
        ) from None
    except Exception as error:  # noqa: BLE001 - a student's code may raise anything
        raise Mismatch(f"{where}: {fn_name} raised {type(error).__name__}: {error}") from None


def _is_numpy(outputs):
    """Whether a function's outputs are NumPy values (NumPy code, which autodiff cannot see through)."""
    return all(isinstance(o, (np.ndarray, np.generic, float, int)) for o in outputs)


def _unpack(out, names, where):
    """Checks that a function returned a tuple/list of `len(names)` things and returns it as a list."""
    if len(names) == 1:
        return [out]
    if not isinstance(out, (tuple, list)) or len(out) != len(names):
        raise Mismatch(f"{where} should return a tuple ({', '.join(names)}); it returned {_describe(out)}")
    return list(out)


def _to_numpy(value, label):
    if value is None:
        raise Mismatch(f"{label}: got None (is a `return` missing?)")
    try:
        return np.asarray(ops.convert_to_numpy(value), dtype=np.float64)
    except Exception as error:  # noqa: BLE001
        raise Mismatch(f"{label}: expected an array, got {_describe(value)} ({error})") from None


def _compare_values(label, got, expected, counter, atol=ATOL, rtol=RTOL):
    """Compares shape then values; the first differing entry is named in the mismatch."""
    got = _to_numpy(got, label)
    expected = np.asarray(expected, dtype=np.float64)
    if expected.ndim == 0 and got.size == 1:
        got = got.reshape(())  # a number returned as a one-element array
    if got.shape != expected.shape:
        raise Mismatch(f"{label}: shape {got.shape}, expected {expected.shape}")
    counter.append(1)
    bad = ~np.isclose(got, expected, atol=atol, rtol=rtol)
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0]) if got.ndim else ()
        difference = np.nanmax(np.abs(got - expected)) if np.any(np.isfinite(got)) else float("nan")
        raise Mismatch(
            f"{label}: value at index {list(index)} is {got[index]:.6g}, expected {expected[index]:.6g} "
            f"({int(bad.sum())} of {bad.size} values differ; largest difference {difference:.3g})"
        )
    counter.append(1)


def _compare_gradients(where, fn_name, student, reference, args, arg_names, numpy_code, rng, counter):
    """Compares the gradient of `sum(outputs * probes)` w.r.t. every argument with the reference's.

    The reference's gradient is the backend's autodiff. The student's is autodiff too when the
    function is `keras.ops` code (it returned backend tensors); for NumPy code central finite
    differences along two random directions per argument are compared with the reference's
    directional derivatives.
    """
    outputs = [ops.convert_to_numpy(t) for t in reference(*args)]
    probes = [rng.normal(size=o.shape).astype("float32") for o in outputs]

    def loss(fn):
        def scalar(*a):
            return sum(ops.sum(ops.cast(o, "float32") * p) for o, p in zip(fn(*a), probes))

        return scalar

    expected = _autodiff(loss(reference), args)
    if expected is None:
        return  # no autodiff on this backend: the values were compared, the gradients cannot be
    if not numpy_code:
        got = _autodiff(loss(student), args)
        if got is None:
            raise Mismatch(
                f"{where}: the backend cannot differentiate {fn_name} (does it mix NumPy calls into "
                "keras.ops code?)"
            )
        for name, g, e in zip(arg_names, got, expected):
            _compare_values(
                f"{where}: gradient with respect to {name} (autodiff of {fn_name}; does it mix NumPy calls "
                "into keras.ops code?)", g, e, counter, atol=GRAD_ATOL, rtol=GRAD_RTOL,
            )
        return
    student_loss = loss(student)
    for k, (name, e) in enumerate(zip(arg_names, expected)):
        for _ in range(2):
            direction = rng.normal(size=np.shape(args[k])).astype("float32")
            plus = [a + FD_EPSILON * direction if j == k else a for j, a in enumerate(args)]
            minus = [a - FD_EPSILON * direction if j == k else a for j, a in enumerate(args)]
            high = float(ops.convert_to_numpy(_call(student_loss, where, fn_name, *plus)))
            low = float(ops.convert_to_numpy(_call(student_loss, where, fn_name, *minus)))
            _compare_values(
                f"{where}: gradient with respect to {name} (finite differences of {fn_name})",
                np.float64((high - low) / (2 * FD_EPSILON)), np.float64(np.sum(e * direction)), counter,
                atol=FD_ATOL, rtol=FD_RTOL,
            )


def _autodiff(scalar_fn, args):
    """Gradients of `scalar_fn(*args)` w.r.t. every argument by the backend's autodiff, or None."""
    try:
        return gradients(scalar_fn, args)
    except Mismatch:
        raise
    except Exception:  # noqa: BLE001 - code autodiff cannot see through, or no autodiff on this backend
        return None


def _normal(rng, shape, scale=1.0):
    return (scale * rng.normal(size=tuple(shape))).astype("float32")


def _describe(value):
    """A short description of what a function returned: shapes and dtypes, not values."""
    if isinstance(value, (tuple, list)):
        kind = "a tuple" if isinstance(value, tuple) else "a list"
        if len(value) > 8 or all(isinstance(v, (int, np.integer)) for v in value):
            return f"{kind} of {len(value)} items {list(value)[:8]}{'...' if len(value) > 8 else ''}"
        return ", ".join(f"[{k}] {_describe(v)}" for k, v in enumerate(value))
    if value is None:
        return "None"
    shape = getattr(value, "shape", None)
    if shape is not None:
        dtype = keras.backend.standardize_dtype(getattr(value, "dtype", "float32"))
        return f"{tuple(shape)} {dtype}"
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return f"the number {value:.6g}" if math.isfinite(float(value)) else f"the number {value}"
    return f"a {type(value).__name__}"
