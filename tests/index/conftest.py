from __future__ import annotations

import pytest

from .tiny import tiny_assets


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A trained 16-bit run on 24 tiny PNGs (feature cache in a temporary CSDH_CACHE)."""
    mp = pytest.MonkeyPatch()
    base = tmp_path_factory.getbasetemp() / "csdh-tiny"
    mp.setenv("CSDH_CACHE", str(base / "cache"))
    yield tiny_assets(base)
    mp.undo()
