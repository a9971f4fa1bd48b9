from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def _tiny_module():
    path = Path(__file__).resolve().parents[1] / "index" / "tiny.py"
    spec = importlib.util.spec_from_file_location("csdh_tests_tiny", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A trained 16-bit run on 24 tiny PNGs (feature cache in a temporary CSDH_CACHE)."""
    mp = pytest.MonkeyPatch()
    base = tmp_path_factory.getbasetemp() / "csdh-tiny"
    mp.setenv("CSDH_CACHE", str(base / "cache"))
    yield _tiny_module().tiny_assets(base)
    mp.undo()


@pytest.fixture(scope="session")
def index_dir(tiny):
    """An index of the 24 tiny photos."""
    from csdh.engine.run_model import RunModel
    from csdh.index import build_index, folder_source

    out = tiny.base / "service.idx"
    if not out.exists():
        build_index(RunModel.load(tiny.run), folder_source(tiny.photos), out)
    return out
