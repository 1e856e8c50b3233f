"""Shared by every tier (tests/unit, tests/integration, tests/e2e): the project's
paths, the corpus and the session's private policy index cache.

The tiers (docs/testing.md): ``tests/unit`` is pure logic and runs anywhere
(its conftest shuts out programs, real policies and the network;
``make test-fast``); ``tests/integration`` uses the real tools and policies
(its conftest holds the policy-store fixtures); ``tests/e2e`` is the
SELinux-enforcing VM (``make e2e``). ``make test`` runs unit + integration.
Test data (``tests/data``) and golden files (``tests/golden``) stay here, at
the top: both tiers read them, and the e2e kernel capture writes ``tests/data/kernel``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

PROJECT = Path(__file__).resolve().parents[1]
TESTS = PROJECT / "tests"
#: Test data and golden files, shared by the tiers.
DATA = TESTS / "data"
GOLDEN = TESTS / "golden"
FIXTURES = PROJECT / "fixtures"
CORPUS = PROJECT.parent / "shared" / "corpus"

#: The policy index cache of this test session (never the user's ~/.cache):
#: every avcfix run in the tests, in process or as a child, uses it.
_INDEX_CACHE = Path(tempfile.mkdtemp(prefix="avcfix-test-index-"))
os.environ["AVCFIX_CACHE_DIR"] = str(_INDEX_CACHE)


#: Property tests assert behaviour, never speed: no per-example deadline (a
#: loaded 2-core CI machine made a 200 ms deadline fail at random).
settings.register_profile("avcfix", deadline=None)
settings.load_profile("avcfix")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_INDEX_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """``../shared/corpus``; the test is skipped when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS
