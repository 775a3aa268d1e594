"""Shared pytest configuration: the `large` marker is opt-in with `--large`; the order files are handed out in."""

import collections
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pytest


def pytest_addoption(parser):
    parser.addoption("--large", action="store_true", help="run tests marked large")


def pytest_collection_modifyitems(config, items):
    # `make test` runs `-n 2 --dist loadfile --no-loadscope-reorder`: xdist hands whole files to the
    # workers in this order. Files of a few long tests (marked `schedule_first`: the tutorials, minutes
    # each) go first; left for the end, one of them kept a worker busy minutes after the other ran out
    # of work. Then the files with the most tests, as xdist's own order has them.
    sizes = collections.Counter(item.nodeid.split("::")[0] for item in items)

    def order(item):
        path = item.nodeid.split("::")[0]
        return "schedule_first" not in item.keywords, -sizes[path], path

    items.sort(key=order)
    if config.getoption("--large"):
        return
    skip = pytest.mark.skip(reason="large test: run with --large")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip)
