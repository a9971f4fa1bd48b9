"""The HTTP API through FastAPI's TestClient, including every limit."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from csdh.errors import UserError
from csdh.service.app import create_app


def png_bytes(colour=(200, 40, 40), size=(24, 24)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size[1], size[0], 3), colour, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A well-formed PNG header claiming width x height, with no real pixel data (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def app(index_dir):
    return create_app(index_dir, max_upload_bytes=200_000, max_pixels=1_000_000)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, raise_server_exceptions=True) as c:
        yield c


def search(client, data: bytes = None, name="q.png", **params):
    files = {"image": (name, data if data is not None else png_bytes(), "image/png")}
    return client.post("/api/search", files=files, params=params)


def assert_error(r, status: int, fragment: str = "") -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and fragment.lower() in body["error"].lower(), body


def test_search_returns_ranked_results(client) -> None:
    r = search(client)
    assert r.status_code == 200, r.text
    body = r.json()
    (rows,) = body["results"]
    assert len(rows) == 10 and body["query_time_ms"] > 0 and body["k"] == 10
    assert set(rows[0]) == {"id", "distance", "path", "labels"}
    assert [(h["distance"], h["id"]) for h in rows] == sorted((h["distance"], h["id"]) for h in rows)
    assert all(isinstance(lbl, str) for h in rows for lbl in h["labels"])


def test_k_and_radius_as_query_or_form_fields(client, tiny) -> None:
    assert len(search(client, k=3).json()["results"][0]) == 3
    r = client.post("/api/search", files={"image": ("q.png", png_bytes(), "image/png")}, data={"k": "4"})
    assert len(r.json()["results"][0]) == 4
    all_hits = search(client, k=1000).json()["results"][0]
    assert len(all_hits) == 24
    r = search(client, radius=2, k=1000)
    assert [h["id"] for h in r.json()["results"][0]] == [h["id"] for h in all_hits if h["distance"] <= 2]
    # the uploaded file of an indexed image finds that image at distance 0
    path = tiny.photos / "green" / "2.png"
    hits = search(client, path.read_bytes(), k=24).json()["results"][0]
    assert any(h["path"] == str(path.resolve()) and h["distance"] == 0 for h in hits)


@pytest.mark.parametrize("k", ["0", "1001", "-3", "ten", "2.5"])
def test_bad_k(client, k) -> None:
    assert_error(search(client, k=k), 422, "k must be")


def test_bad_radius(client) -> None:
    assert_error(search(client, radius="-1"), 422, "radius")
    assert_error(search(client, radius="17"), 422, "radius")  # more than the 16 bits


def test_not_an_image_and_missing_fields(client) -> None:
    assert_error(search(client, b"hello, I am text", name="notes.txt"), 400, "not an image")
    assert_error(search(client, png_bytes()[:40]), 400, "")  # truncated
    assert_error(search(client, b""), 400, "empty")
    assert_error(client.post("/api/search", data={"k": "3"}), 400, "")
    assert_error(client.post("/api/search", files={"other": ("a.png", png_bytes(), "image/png")}), 400, "image")
    assert_error(client.post("/api/search", content=b"raw", headers={"content-type": "image/png"}), 400,
                 "multipart")


def test_upload_size_limit(client) -> None:
    big = png_bytes(size=(300, 300)) + b"\0" * 250_000
    assert_error(search(client, big), 413, "larger than")

    def chunks():  # no Content-Length: the streamed body is counted
        boundary = b"XyZ"
        yield b"--" + boundary + b'\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'
        for _ in range(40):
            yield b"\0" * 10_000
        yield b"\r\n--" + boundary + b"--\r\n"

    r = client.post("/api/search", content=chunks(), headers={"content-type": "multipart/form-data; boundary=XyZ"})
    assert_error(r, 413, "larger than")


def test_decompression_bomb_is_refused(client) -> None:
    assert_error(search(client, png_header_only(5000, 5000)), 413, "pixels")
    assert_error(search(client, png_header_only(200_000, 200_000)), 413, "pixels")


def test_items_and_images(client) -> None:
    item = client.get("/api/items/5").json()
    assert item["id"] == 5 and item["labels"] == ["blue"] and item["path"].endswith(".png")
    r = client.get("/api/items/5/image")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.content)).size == (24, 24)
    assert_error(client.get("/api/items/999"), 404, "no item")
    assert_error(client.get("/api/items/999/image"), 404, "no item")
    assert_error(client.get("/api/items/abc"), 422, "")
    assert_error(client.get("/api/items/99999999999999999999999"), 404, "no item")


def test_search_by_id(client) -> None:
    r = client.post("/api/search/by-id/3", params={"k": 5})
    rows = r.json()["results"][0]
    assert r.status_code == 200 and len(rows) == 5 and rows[0]["distance"] == 0
    assert 3 in [h["id"] for h in rows if h["distance"] == 0]
    assert_error(client.post("/api/search/by-id/12345"), 404, "no item")
    assert_error(client.post("/api/search/by-id/3", params={"k": 0}), 422, "k must")


def test_stats_health_page_and_unknown_routes(client) -> None:
    before = client.get("/api/stats").json()
    search(client)
    stats = client.get("/api/stats").json()
    assert stats["count"] == 24 and stats["bits"] == 16 and stats["kind"] == "flat"
    assert stats["model"]["backbone"] == "efficientnet-lite0" and len(stats["model"]["checksum"]) == 64
    assert stats["uptime_s"] >= 0 and stats["requests_served"] >= before["requests_served"] + 2
    assert stats["searches"] == before["searches"] + 1
    assert client.get("/healthz").json() == {"status": "ok", "count": 24}
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"] and 'id="file"' in page.text
    assert client.get("/static/app.js").status_code == 200
    assert_error(client.get("/nope"), 404, "no such endpoint")
    assert_error(client.get("/api/search"), 405, "")


def test_bad_index_is_a_user_error(tmp_path, index_dir, tiny) -> None:
    with pytest.raises(UserError, match="no such index"):
        create_app(tmp_path / "missing")
    with pytest.raises(UserError, match="another model"):
        create_app(index_dir, run_dir=tiny.other_run)
