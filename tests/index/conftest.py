from __future__ import annotations

import pytest

from .tiny import tiny_in_temp_cache


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A trained 16-bit run on 24 tiny PNGs (feature cache in a temporary CSDH_CACHE)."""
    yield from tiny_in_temp_cache(tmp_path_factory)
