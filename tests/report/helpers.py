"""Moved to tests/helpers.py (one harness for every suite); kept as a re-export for branches in
flight that still import ``tests.report.helpers``. Import from ``tests.helpers`` in new tests."""

from tests.helpers import *  # noqa: F403
