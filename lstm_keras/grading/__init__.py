"""Checks for the course assignments: a student's function against the library's reference.

Every check draws fresh random inputs (the seed is printed, so a failure can be repeated), runs
the student's function and the library's reference on them and compares, in this order, the
structure of the output, its shapes, its values and, where it means something, its gradient: the
backend's autodiff of the student's function (or central finite differences along random
directions when the function is NumPy code that autodiff cannot see through) against the
autodiff of the library's reference. It stops at the first mismatch and names it.

A check never raises: an unfinished answer (`raise NotImplementedError()`), a wrong shape, a
`None` or any exception is reported as not passed. It prints its result on a line that starts
with `[grading]` (the notebook tests read these lines) and returns a `CheckResult`.

| check | the student writes | the reference |
|---|---|---|
| `check_lstm_gates` | `lstm_gates(x, h_prev, kernel, recurrent_kernel, bias) -> (i, f, g, o)` | `GatedLSTMCell` |
| `check_lstm_step` | `lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias) -> (h, c)` | `GatedLSTMCell` |
| `check_attention_score` | `score(query, values, **weights) -> scores` | `LuongAttention` / `BahdanauAttention` |
| `check_attention` | `attention(query, values, mask=None, **weights) -> (context, weights)` | the same layers |
| `check_slstm_step` | `slstm_step(x, h_prev, c_prev, n_prev, m_prev, kernel, recurrent, bias) -> (h, c, n, m)` | `GatedLSTMCell(variant="slstm")` |
| `check_beam_search` | `beam_search(next, start_token, state, max_length, num_beams, end_token_id, length_penalty) -> (tokens, score)` | `BeamSampler` |

The checks of each assignment live in their own module (`lstm_step`, `attention`,
`beam_search`, `slstm_step`); `core` holds what they share: `CheckResult`, `try_it`, the comparisons of
values and gradients, the tolerances and the random inputs.

Example:
>>> import numpy as np
>>> def lstm_step(x, h_prev, c_prev, kernel, recurrent_kernel, bias):
...     raise NotImplementedError()
>>> result = check_lstm_step(lstm_step, seed=0)
[grading] check_lstm_step: NOT PASSED (0 comparisons passed; seed=0)
  first mismatch: lstm_step raised NotImplementedError: not implemented yet (write your code in place of `raise NotImplementedError()`)
>>> result.passed
False
"""

from lstm_keras.grading.attention import ATTENTION_SCORES
from lstm_keras.grading.attention import check_attention
from lstm_keras.grading.attention import check_attention_score
from lstm_keras.grading.beam_search import END_TOKEN
from lstm_keras.grading.beam_search import check_beam_search
from lstm_keras.grading.core import ATOL
from lstm_keras.grading.core import FD_ATOL
from lstm_keras.grading.core import FD_EPSILON
from lstm_keras.grading.core import FD_RTOL
from lstm_keras.grading.core import GRAD_ATOL
from lstm_keras.grading.core import GRAD_RTOL
from lstm_keras.grading.core import PREFIX
from lstm_keras.grading.core import RTOL
from lstm_keras.grading.core import CheckResult
from lstm_keras.grading.core import Mismatch
from lstm_keras.grading.core import try_it
from lstm_keras.grading.lstm_step import check_lstm_gates
from lstm_keras.grading.lstm_step import check_lstm_step
from lstm_keras.grading.slstm_step import check_slstm_step
