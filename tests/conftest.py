"""Shared pytest configuration: the `large` marker is opt-in with `--large`."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pytest


def pytest_addoption(parser):
    parser.addoption("--large", action="store_true", help="run tests marked large")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--large"):
        return
    skip = pytest.mark.skip(reason="large test: run with --large")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip)
