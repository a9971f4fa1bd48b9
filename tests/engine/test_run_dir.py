"""The run directory: refusing to replace runs, and a replaced run coming back when its successor fails to start."""
from __future__ import annotations

import pytest

from csdh.engine.run_dir import RunDir
from csdh.errors import UserError


def _old_run(path):
    path.mkdir()
    files = {"config.json": b"{}", "split.json": b"[1, 2]", "model.pt": b"old model", "checkpoint.pt": b"old"}
    for name, data in files.items():
        (path / name).write_bytes(data)
    return files


def _contents(path):
    return {p.name: p.read_bytes() for p in path.iterdir()}


def test_a_failed_start_brings_the_replaced_run_back(tmp_path):
    old = _old_run(tmp_path / "run")
    run = RunDir(tmp_path / "run")
    with pytest.raises(RuntimeError, match="unreadable image"):
        with run.starting(overwrite=True):
            assert list(run.path.iterdir()) == []  # the new run starts in an empty folder
            run.config.write_text('{"new": 1}')
            raise RuntimeError("unreadable image")
    assert _contents(tmp_path / "run") == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing set aside is left behind


def test_an_interrupt_before_the_first_checkpoint_brings_it_back_too(tmp_path):
    old = _old_run(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        with RunDir(tmp_path / "run").starting(overwrite=True):
            raise KeyboardInterrupt
    assert _contents(tmp_path / "run") == old


def test_once_a_checkpoint_exists_the_new_run_is_kept_for_resume(tmp_path):
    _old_run(tmp_path / "run")
    run = RunDir(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        with run.starting(overwrite=True):
            run.checkpoint.write_bytes(b"new")
            raise KeyboardInterrupt
    assert _contents(tmp_path / "run") == {"checkpoint.pt": b"new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_finished_replacement_deletes_the_old_run(tmp_path):
    _old_run(tmp_path / "run")
    run = RunDir(tmp_path / "run")
    with run.starting(overwrite=True):
        run.model.write_bytes(b"new model")
    assert _contents(tmp_path / "run") == {"model.pt": b"new model"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_folder_made_for_a_run_that_fails_to_start_is_removed(tmp_path):
    with pytest.raises(RuntimeError):
        with RunDir(tmp_path / "new").starting(overwrite=False):
            raise RuntimeError("bad data")
    assert not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(RuntimeError):
        with RunDir(tmp_path / "empty").starting(overwrite=False):
            (tmp_path / "empty" / "config.json").write_text("{}")
            raise RuntimeError("bad data")
    assert (tmp_path / "empty").is_dir() and list((tmp_path / "empty").iterdir()) == []


def test_what_may_not_be_replaced_is_refused_untouched(tmp_path):
    old = _old_run(tmp_path / "run")
    with pytest.raises(UserError, match="--overwrite"):
        with RunDir(tmp_path / "run").starting(overwrite=False):
            pass
    assert _contents(tmp_path / "run") == old
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    with pytest.raises(UserError, match="not a csdh run directory"):
        with RunDir(tmp_path / "notes").starting(overwrite=True):
            pass
    assert (tmp_path / "notes" / "mine.txt").read_text() == "keep me"


def test_a_stale_set_aside_copy_from_a_killed_replacement_is_cleared(tmp_path):
    _old_run(tmp_path / "run")
    (tmp_path / ".run.replaced").mkdir()
    (tmp_path / ".run.replaced" / "model.pt").write_bytes(b"older")
    with RunDir(tmp_path / "run").starting(overwrite=True):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
