from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, tiny_module):
    """A trained 16-bit run on 24 tiny PNGs (feature cache in a temporary CSDH_CACHE)."""
    yield from tiny_module.tiny_in_temp_cache(tmp_path_factory)


@pytest.fixture(scope="session")
def index_dir(tiny):
    """An index of the 24 tiny photos."""
    from csdh.engine.run_model import RunModel
    from csdh.index import build_index, folder_source

    out = tiny.base / "service.idx"
    if not out.exists():
        build_index(RunModel.load(tiny.run), folder_source(tiny.photos), out)
    return out
