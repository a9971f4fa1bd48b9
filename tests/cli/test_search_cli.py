"""``csdh index`` and ``csdh search`` end to end through ``csdh.cli.main`` on a tiny trained run."""
from __future__ import annotations

import json
import shutil

import pytest

from csdh.cli import main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_module):
    yield from tiny_module.tiny_in_temp_cache(tmp_path_factory)


@pytest.fixture(scope="module")
def index(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "photos.idx"
    assert main(["-q", "index", "build", str(tiny.run), "--images", str(tiny.photos), "--out", str(out)]) == 0
    return out


def run_cli(capsys, *argv):
    code = main(["-q", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, command: str, fragment: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"csdh {command}: error: "), err
    assert fragment in lines[0], lines[0]


def test_search_json(capsys, index, tiny) -> None:
    red, blue = tiny.photos / "red" / "0.png", tiny.photos / "blue" / "4.png"
    code, out, _ = run_cli(capsys, "search", index, red, blue, "--json")
    assert code == 0
    results = json.loads(out)["results"]
    assert len(results) == 2 and all(len(r) == 10 for r in results)
    assert set(results[0][0]) == {"id", "distance", "path", "labels"}
    for rows in results:
        assert [(h["distance"], h["id"]) for h in rows] == sorted((h["distance"], h["id"]) for h in rows)
    assert any(h["path"] == str(red.resolve()) and h["distance"] == 0 for h in results[0])
    assert any(h["path"] == str(blue.resolve()) and h["distance"] == 0 and h["labels"] == ["blue"]
               for h in results[1])


def test_search_radius_returns_everything_within_it(capsys, index, tiny) -> None:
    query = tiny.photos / "green" / "5.png"
    _, out, _ = run_cli(capsys, "search", index, query, "-k", 1000, "--json")
    everything = json.loads(out)["results"][0]
    assert len(everything) == 24
    radius = sorted(h["distance"] for h in everything)[12]  # a radius that splits the index
    code, out, _ = run_cli(capsys, "search", index, query, "--radius", radius, "--json")
    assert code == 0
    within = json.loads(out)["results"][0]
    assert within == [h for h in everything if h["distance"] <= radius] and len(within) >= 13
    _, out, _ = run_cli(capsys, "search", index, query, "--radius", 16, "-k", 5, "--json")
    assert json.loads(out)["results"][0] == everything[:5]


def test_search_text_output_and_grid(capsys, index, tiny, tmp_path) -> None:
    grid = tmp_path / "grid.png"
    code, out, _ = run_cli(capsys, "search", index, tiny.photos / "red" / "2.png", "-k", 3, "--grid", grid)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].endswith("3 results") and len(lines) == 5 and lines[-1] == f"wrote {grid}"
    rank, dist, item = lines[1].split()[:3]
    assert rank == "1" and dist.startswith("d=") and item.startswith("id=") and "[" in lines[1]
    assert grid.is_file() and grid.stat().st_size > 0


def test_search_errors(capsys, index, tiny, tmp_path) -> None:
    missing = tmp_path / "no-such.idx"
    code, _, err = run_cli(capsys, "search", missing, tiny.photos / "red" / "0.png")
    one_line_error(code, err, "search", str(missing))

    code, _, err = run_cli(capsys, "search", index, tiny.photos / "red" / "0.png", "--run", tiny.other_run)
    one_line_error(code, err, "search", str(index))
    assert "another model" in err

    moved = tmp_path / "moved.idx"  # an index whose recorded run now holds a different model
    shutil.copytree(index, moved)
    manifest = json.loads((moved / "manifest.json").read_text())
    manifest["run_dir"] = str(tiny.other_run)
    (moved / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run_cli(capsys, "search", moved, tiny.photos / "red" / "0.png")
    one_line_error(code, err, "search", str(moved))

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 definitely not a whole jpeg")
    code, _, err = run_cli(capsys, "search", index, broken)
    one_line_error(code, err, "search", str(broken))

    code, _, err = run_cli(capsys, "search", index, tmp_path / "absent.png")
    one_line_error(code, err, "search", "absent.png")

    code, _, err = run_cli(capsys, "search", index, tiny.photos / "red" / "0.png", "-k", 0)
    one_line_error(code, err, "search", "-k")


def test_index_info_add_remove(capsys, tiny, tmp_path) -> None:
    idx = tmp_path / "small.idx"
    code, out, _ = run_cli(capsys, "index", "build", tiny.run, "--images", tiny.photos / "red", "--out", idx)
    assert code == 0 and "indexed 8 images" in out
    code, _, err = run_cli(capsys, "index", "build", tiny.run, "--images", tiny.photos / "red", "--out", idx)
    one_line_error(code, err, "index", "--overwrite")
    code, out, _ = run_cli(capsys, "index", "add", idx, tiny.run, "--images", tiny.photos / "blue")
    assert code == 0 and "new ids (ids 8..15)" in out
    code, out, _ = run_cli(capsys, "index", "remove", idx, 0, 8)
    assert code == 0 and "removed 2" in out
    code, _, err = run_cli(capsys, "index", "remove", idx, 0)
    one_line_error(code, err, "index", "no item with id 0")
    code, out, _ = run_cli(capsys, "index", "info", idx, "--json")
    info = json.loads(out)
    assert info["count"] == 14 and info["next_id"] == 16 and info["bits"] == 16 and info["kind"] == "flat"
    code, out, _ = run_cli(capsys, "index", "info", idx)
    assert code == 0 and "items       14" in out
    code, _, err = run_cli(capsys, "index", "add", idx, tiny.other_run, "--images", tiny.photos / "green")
    one_line_error(code, err, "index", "another model")
    code, _, err = run_cli(capsys, "index", "build", tiny.run, "--out", tmp_path / "x.idx")
    one_line_error(code, err, "index", "exactly one of --dataset, --images or --list")
    code, _, err = run_cli(capsys, "index", "build", tiny.run, "--images", tiny.photos, "--hnsw-m", 8,
                           "--out", tmp_path / "x.idx")
    one_line_error(code, err, "index", "--kind hnsw")
