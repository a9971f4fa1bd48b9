"""Index folders: build from each source, skip reports, add/remove, model checks and atomic writes."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from csdh.data.pool import ArrayPool
from csdh.engine.run_model import RunModel
from csdh.errors import UserError
from csdh.index import (ImageIndex, Manifest, Searcher, add_to_index, build_index, dataset_source, folder_source,
                        list_source, pool_source, remove_from_index)
from csdh.index import atomic


@pytest.fixture(scope="module")
def model(tiny):
    return RunModel.load(tiny.run)


@pytest.fixture()
def photos(tiny, tmp_path):
    """A copy of the tiny photos plus an unreadable file and an image directly in the root."""
    root = tmp_path / "photos"
    shutil.copytree(tiny.photos, root)
    (root / "green" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    Image.fromarray(np.full((20, 30, 3), 128, np.uint8)).save(root / "loose.jpg")
    (root / ".hidden").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / ".hidden" / "x.png")
    return root


def test_build_from_folder_skips_unreadable_and_records_everything(model, photos, tmp_path, tiny) -> None:
    out = tmp_path / "photos.idx"
    report = build_index(model, folder_source(photos), out, batch_size=5)
    assert report.added == 25 and report.count == 25  # 24 class images + loose.jpg; hidden ignored
    assert [p for p, _ in report.skipped] == [str((photos / "green" / "broken.png").resolve())]
    with ImageIndex.open(out) as index:
        m = index.manifest
        assert (m.count, m.n_skipped, m.next_id, m.bits, m.kind) == (25, 1, 25, 16, "flat")
        assert m.model_checksum == model.checksum and m.run_dir == str(tiny.run.resolve())
        assert m.backbone == "efficientnet-lite0" and m.input_size == 32 and m.created
        assert list(m.class_names) == ["blue", "green", "red"]
        (skipped_path, reason), = index.skipped()
        assert skipped_path.endswith("broken.png") and "broken.png" in reason
        items = index.metadata.get_many(list(range(25)))
        assert items[0].labels == ("blue",) and os.path.isabs(items[0].path)
        loose = [it for it in items.values() if it.path.endswith("loose.jpg")]
        assert loose and loose[0].labels == ()
    assert not list(tmp_path.glob(".photos.idx.tmp-*"))  # the temporary folder was renamed into place

    # every indexed image finds itself at distance 0 (same model, same preprocessing)
    with Searcher.open(out) as searcher:
        path = str((photos / "red" / "3.png").resolve())
        hits = searcher.search_images([searcher.read_query(path)], k=25)[0]
        assert any(h.path == path and h.distance == 0 for h in hits)
        assert [(h.distance, h.id) for h in hits] == sorted((h.distance, h.id) for h in hits)
        self_id = next(h.id for h in hits if h.path == path)
        by_id = searcher.search_id(self_id, k=25)
        assert [(h.id, h.distance) for h in by_id] == [(h.id, h.distance) for h in hits]


def test_build_refuses_existing_target_and_overwrite_swaps(model, tiny, tmp_path) -> None:
    out = tmp_path / "idx"
    build_index(model, folder_source(tiny.photos), out)
    with pytest.raises(UserError, match="--overwrite"):
        build_index(model, folder_source(tiny.photos), out)
    build_index(model, folder_source(tiny.photos / "red"), out, overwrite=True)
    assert Manifest.load(out).count == 8
    other = tmp_path / "not-an-index"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    with pytest.raises(UserError, match="not a csdh index"):
        build_index(model, folder_source(tiny.photos), other, overwrite=True)
    assert (other / "precious.txt").exists()


def test_interrupted_build_leaves_the_previous_index_intact(model, tiny, tmp_path) -> None:
    out = tmp_path / "idx"
    build_index(model, folder_source(tiny.photos / "red"), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def crash(iterable, **_):
        for n, x in enumerate(iterable):
            if n == 2:
                raise KeyboardInterrupt
            yield x

    with pytest.raises(KeyboardInterrupt):
        build_index(model, folder_source(tiny.photos), out, overwrite=True, batch_size=4, progress=crash)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not list(tmp_path.glob(".idx.tmp-*"))
    with pytest.raises(KeyboardInterrupt):
        add_to_index(out, model, folder_source(tiny.photos), batch_size=4, progress=crash)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_stale_temporary_folder_of_a_dead_process_is_removed(model, tiny, tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".idx.tmp-{int(proc.stdout)}-abcd"
    stale.mkdir()
    (stale / "codes.faiss").write_bytes(b"half written")
    build_index(model, folder_source(tiny.photos / "blue"), tmp_path / "idx")
    assert not stale.exists()


def test_swap_without_renameat2(monkeypatch, tmp_path) -> None:
    target, new = tmp_path / "t", tmp_path / "n"
    target.mkdir()
    (target / "a").write_text("old")
    new.mkdir()
    (new / "a").write_text("new")
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    atomic.replace_dir(new, target)
    assert (target / "a").read_text() == "new" and not new.exists()
    assert not list(tmp_path.glob(".t.old-*"))


def test_missing_index_after_interrupted_swap_names_the_backup(tmp_path) -> None:
    (tmp_path / ".idx.old-123").mkdir()
    with pytest.raises(UserError, match=r"\.idx\.old-123"):
        Manifest.load(tmp_path / "idx")


def test_add_and_remove(model, tiny, tmp_path) -> None:
    out = tmp_path / "idx"
    build_index(model, folder_source(tiny.photos / "red"), out)
    extra = tmp_path / "extra"
    shutil.copytree(tiny.photos / "blue", extra / "blue")
    (extra / "blue" / "bad.jpg").write_bytes(b"")
    report = add_to_index(out, model, folder_source(extra))
    assert (report.added, report.first_id, report.count, len(report.skipped)) == (8, 8, 16, 1)
    m = Manifest.load(out)
    assert (m.count, m.next_id, m.n_skipped) == (16, 16, 1)
    assert remove_from_index(out, [0, 9, 15]) == 3
    with ImageIndex.open(out) as index:
        assert index.manifest.count == 13 and index.metadata.count() == 13
        assert 9 not in index.codes and index.metadata.get(9) is None and index.metadata.get(10) is not None
    with pytest.raises(UserError, match="no item with id 9"):
        remove_from_index(out, [1, 9])
    assert Manifest.load(out).count == 13  # nothing removed
    report = add_to_index(out, model, folder_source(tiny.photos / "green"))
    assert report.first_id == 16  # ids are never reused
    assert "add" in (out / "skipped.txt").read_text()


def test_other_model_is_refused(model, tiny, tmp_path) -> None:
    out = tmp_path / "idx"
    build_index(model, folder_source(tiny.photos / "red"), out)
    other = RunModel.load(tiny.other_run)
    with pytest.raises(UserError, match="built with another model") as err:
        add_to_index(out, other, folder_source(tiny.photos / "blue"))
    assert str(out) in str(err.value)
    with pytest.raises(UserError, match="built with another model"):
        Searcher.open(out, run_dir=tiny.other_run)


def test_list_source(model, tiny, tmp_path) -> None:
    lst = tmp_path / "lists" / "db.txt"
    lst.parent.mkdir()
    red = sorted((tiny.photos / "red").glob("*.png"))
    lines = [f"{red[0]} 1 0 0", f"{red[1]} 0 1 1", "", "# comment", "missing.png 0 0 1"]
    lst.write_text("\n".join(lines) + "\n")
    src = list_source(lst)
    assert [e.labels for e in src.entries] == [(0,), (1, 2), (2,)]
    assert src.entries[2].path == str(tmp_path / "lists" / "missing.png")
    (tmp_path / "lists" / "classes.txt").write_text("cat\ndog\nbird\n")
    src = list_source(lst)
    assert src.entries[1].labels == ("dog", "bird")
    report = build_index(model, src, tmp_path / "idx")
    assert report.added == 2 and report.skipped[0][0].endswith("missing.png")

    lst.write_text(f"{red[0]} 1 0\n{red[1]} 1\n")
    with pytest.raises(UserError, match=r"db\.txt:2: expected 2"):
        list_source(lst)
    unlabelled = tmp_path / "plain.txt"
    unlabelled.write_text(f"{red[0]}\n{red[2]}\n")
    assert [e.labels for e in list_source(unlabelled).entries] == [(), ()]
    with pytest.raises(UserError, match="no such list file"):
        list_source(tmp_path / "nope.txt")


def test_dataset_source_uses_the_runs_database_split(model, tiny, tmp_path) -> None:
    from csdh.data.protocols import Split

    src = dataset_source(model, "image-folder")
    split = Split.load(tiny.run / "split.json")
    assert [e.position for e in src.entries] == split.database.tolist()
    report = build_index(model, src, tmp_path / "idx")
    with ImageIndex.open(tmp_path / "idx") as index:
        it = index.metadata.get(0)
        assert it.position == int(split.database[0]) and it.path and it.labels
        assert report.added == len(split.database)


def test_in_memory_pool_items_get_stored_thumbnails(model, tmp_path) -> None:
    rng = np.random.default_rng(0)
    pool = ArrayPool("toy", rng.integers(0, 255, (6, 28, 28), dtype=np.uint8),
                     np.eye(2, dtype=np.uint8)[[0, 1, 0, 1, 0, 1]], ["even", "odd"])
    build_index(model, pool_source(pool, np.arange(1, 6), "toy"), tmp_path / "idx")
    with Searcher.open(tmp_path / "idx") as searcher:
        it = searcher.item(0)
        assert it.path is None and it.position == 1 and it.labels == ("odd",)
        mime, data = searcher.thumbnail(0)
        assert mime == "image/png" and data.startswith(b"\x89PNG")
        np.testing.assert_array_equal(searcher.item_image(0)[:, :, 0], pool.images[1])
        assert searcher.index.metadata.count_thumbnails() == 5


def test_metadata_is_a_plain_sqlite_file(model, tiny, tmp_path) -> None:
    build_index(model, folder_source(tiny.photos), tmp_path / "idx")
    with sqlite3.connect(tmp_path / "idx" / "meta.sqlite") as db:
        rows = db.execute("SELECT id, path, labels, position FROM items ORDER BY id").fetchall()
    assert len(rows) == 24 and json.loads(rows[0][2]) == ["blue"] and rows[0][3] is None
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and manifest["count"] == 24


@pytest.mark.parametrize("kind", ["hnsw", "multihash"])
def test_approximate_kinds_build_and_search(model, tiny, tmp_path, kind) -> None:
    params = {"m": 8} if kind == "hnsw" else {"nflip": 2}
    build_index(model, folder_source(tiny.photos / "red"), tmp_path / "idx", kind=kind, params=params)
    m = Manifest.load(tmp_path / "idx")
    assert m.kind == kind and all(m.kind_params[k] == v for k, v in params.items())
    with Searcher.open(tmp_path / "idx") as searcher:
        hits = searcher.search_id(3, k=8)
        assert hits and hits[0].distance == 0 and 3 in [h.id for h in hits if h.distance == 0]
    remove_from_index(tmp_path / "idx", [3])
    with Searcher.open(tmp_path / "idx") as searcher:
        assert 3 not in [h.id for h in searcher.search_id(4, k=8)]


def test_indexed_items_get_database_codes_and_queries_plain_signs(tiny, tmp_path) -> None:
    from csdh.codes import pack
    from csdh.data.protocols import Split

    dithered = RunModel.load(tiny.run, db_dither=0.9)
    src = dataset_source(dithered, "image-folder")
    build_index(dithered, src, tmp_path / "idx")
    split = Split.load(tiny.run / "split.json")
    pool = src.pool
    h = dithered.encode_pool(pool, split.database)
    with ImageIndex.open(tmp_path / "idx") as index:
        want = dithered.pack_database(h)
        assert np.array_equal(np.concatenate([index.codes.code(i) for i in range(len(h))]), want)
    assert not np.array_equal(want, pack(h))  # the thresholds moved some of the tiny run's unsure bits
    assert np.array_equal(dithered.pack_query(h), pack(h))


def test_indexed_items_get_shaped_codes_whatever_the_batch(tiny, tmp_path) -> None:
    """A run with shaped database codes: the index holds exactly the library's shaped codes, and encoding in
    batches of 5 (as the builder and the service's additions do) gives the same codes as all at once."""
    from csdh.codes import pack_dithered, pack_shaped
    from csdh.data.protocols import Split

    shaped = RunModel.load(tiny.run, db_dither=0.9, db_shape=True)
    src = dataset_source(shaped, "image-folder")
    build_index(shaped, src, tmp_path / "idx", batch_size=5)
    h = shaped.encode_pool(src.pool, Split.load(tiny.run / "split.json").database)
    want = pack_shaped(h, shaped.code_moment, 0.9, shaped.config.seed)
    with ImageIndex.open(tmp_path / "idx") as index:
        assert np.array_equal(np.concatenate([index.codes.code(i) for i in range(len(h))]), want)
    assert np.array_equal(shaped.pack_database(h), want)
    assert not np.array_equal(want, pack_dithered(h, 0.9, shaped.config.seed))  # the shaping moved some bits
