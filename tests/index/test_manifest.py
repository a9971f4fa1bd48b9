"""manifest.json and meta.sqlite round trips and their errors."""
from __future__ import annotations

import json

import pytest

from csdh.errors import UserError
from csdh.index.manifest import Manifest
from csdh.index.metadata import Item, MetadataStore


def test_manifest_round_trip(tmp_path) -> None:
    m = Manifest(model_checksum="ab" * 32, bits=48, backbone="efficientnet-lite0", input_size=64, run_dir="/r",
                 kind="hnsw", kind_params={"m": 32, "ef_construction": 64, "ef_search": 128}, count=3,
                 class_names=["a", "b"], created="2024-01-01T00:00:00Z")
    m.save(tmp_path)
    back = Manifest.load(tmp_path)
    assert back == m and back.class_names == ("a", "b")
    assert back.replace(count=4).count == 4 and m.count == 3
    with pytest.raises(Exception):
        m.count = 5  # frozen


def test_manifest_errors(tmp_path) -> None:
    with pytest.raises(UserError, match="no such index directory"):
        Manifest.load(tmp_path / "missing")
    with pytest.raises(UserError, match="not a csdh index"):
        Manifest.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(UserError, match="unreadable index manifest"):
        Manifest.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(UserError, match="format version 99"):
        Manifest.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 1, "bits": 8}))
    with pytest.raises(UserError, match="incomplete"):
        Manifest.load(tmp_path)


def test_metadata_round_trip(tmp_path) -> None:
    with MetadataStore(tmp_path / "m.sqlite") as store:
        store.add([Item(0, "/a.png", ("cat",)), Item(3, None, (1, 2), position=17)], thumbnails=[(3, "image/png", b"x")])
        assert store.count() == 2 and store.all_ids() == [0, 3]
    with MetadataStore(tmp_path / "m.sqlite", readonly=True) as store:
        assert store.get(3) == Item(3, None, (1, 2), 17)
        assert store.get_many([0, 3, 5]) == {0: Item(0, "/a.png", ("cat",)), 3: Item(3, None, (1, 2), 17)}
        assert store.thumbnail(3) == ("image/png", b"x") and store.thumbnail(0) is None
    with MetadataStore(tmp_path / "m.sqlite") as store:
        assert store.remove([3, 4]) == 1 and store.thumbnail(3) is None and store.count() == 1
    (tmp_path / "bad.sqlite").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(UserError, match="unreadable index metadata"):
        MetadataStore(tmp_path / "bad.sqlite", readonly=True)
    with pytest.raises(UserError, match="missing"):
        MetadataStore(tmp_path / "none.sqlite", readonly=True)
