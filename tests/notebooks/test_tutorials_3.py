"""Tutorials 3, 6, 9, ... (every third) run in QUICK mode (see `notebook_checks` for why they are split)."""

import pytest

from notebook_checks import TUTORIALS
from notebook_checks import check_tutorial_runs_quick
from notebook_checks import name_of
from notebook_checks import needs_tensorflow


pytestmark = pytest.mark.schedule_first  # minutes per test: see tests/conftest.py


@needs_tensorflow
@pytest.mark.parametrize("path", TUTORIALS[2::3], ids=name_of)
def test_tutorial_runs_quick(path):
    check_tutorial_runs_quick(path)
