"""The search service: a FastAPI app over one index and its model, plus a static web page.

Endpoints (every error is a 4xx JSON ``{"error": "..."}``):

* ``POST /api/search`` (multipart field ``image``; ``k`` (1..1000, default 10) and ``radius`` as query or
  form fields) -> ``{"results": [[{"id", "distance", "path", "labels"}, ...]], "query_time_ms": ...}``;
* ``POST /api/search/by-id/{id}`` -> the same for an indexed item's stored code ("more like this");
* ``GET /api/items/{id}`` -> the item's metadata; ``GET /api/items/{id}/image`` -> a thumbnail (<= 256 px);
* ``GET /api/stats``, ``GET /healthz``, ``GET /`` (the web page, ``static/``).

Limits: the request body (``max_upload_bytes`` for the image, 413), decoded pixels (``max_pixels``, 413,
checked from the image header before decoding), ``k``, and one image per request. The model and the
index load once in :func:`create_app`; encoding runs in the thread pool under a lock.
"""
from __future__ import annotations

import io
import logging
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from csdh.data.images import DEFAULT_MAX_PIXELS
from csdh.errors import DataError, UserError

LOG = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
MAX_K = 1000
#: room for the multipart envelope and the small form fields around the image
FORM_OVERHEAD_BYTES = 64 * 1024

PathLike = Union[str, Path]


class _BodyTooLarge(Exception):
    pass


class ApiError(Exception):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with 413, by Content-Length or while streaming."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = int(limit)

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_large = int(length) > self.limit
            except ValueError:
                await _send_json(send, 400, {"error": "bad Content-Length header"})
                return
            if too_large:
                await _send_json(send, 413, {"error": f"request body is larger than {self.limit} bytes"})
                return
        seen = 0
        started = False

        async def limited_receive() -> Dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge()
            return message

        async def tracking_send(message: Dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _send_json(send, 413, {"error": f"request body is larger than {self.limit} bytes"})


class _CountRequests:
    """Call ``on_request()`` for every HTTP request (the ``requests_served`` statistic)."""

    def __init__(self, app: Any, on_request: Any) -> None:
        self.app = app
        self.on_request = on_request

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.on_request()
        await self.app(scope, receive, send)


async def _send_json(send: Any, status: int, body: Dict[str, Any]) -> None:
    import json

    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _int_param(name: str, raw: Optional[str], default: Optional[int], lo: int, hi: int) -> Optional[int]:
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ApiError(422, f"{name} must be an integer, got {str(raw)[:40]!r}") from None
    if not lo <= value <= hi:
        raise ApiError(422, f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _pixels(data: bytes) -> Optional[int]:
    """Width x height from the image header (nothing decoded); None if PIL cannot identify it."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                return int(im.size[0]) * int(im.size[1])
    except Image.DecompressionBombError:
        return 1 << 62
    except Exception:  # not an image: decode_image_bytes reports it
        return None


def create_app(index_dir: PathLike, run_dir: Optional[PathLike] = None, max_upload_bytes: int = 10 * 1024 * 1024,
               max_pixels: int = DEFAULT_MAX_PIXELS, device: str = "cpu", searcher: Any = None) -> FastAPI:
    """The service app for ``index_dir`` (its model: ``run_dir`` or the run recorded in the index).

    Args:
        index_dir: an index folder (``csdh index build``).
        run_dir: the model's run directory (default: the manifest's); its checksum must match.
        max_upload_bytes: largest accepted image upload (413 above).
        max_pixels: largest accepted decoded image, ``width * height`` (413 above).
        device: torch device of the model.
        searcher: an already opened :class:`csdh.index.Searcher` (tests); then ``index_dir`` is only a label.

    Raises:
        UserError: the index or the model cannot be opened, or they do not match.
    """
    from csdh.index.searcher import Searcher

    if searcher is None:
        searcher = Searcher.open(index_dir, run_dir=run_dir, device=device, max_pixels=max_pixels)
    searcher.max_pixels = int(max_pixels)
    bits = searcher.index.manifest.bits
    started = time.time()
    counters = {"requests": 0, "searches": 0}
    counter_lock = threading.Lock()

    app = FastAPI(title="csdh search", version="1", docs_url="/docs", redoc_url=None)
    app.state.searcher = searcher
    app.state.max_upload_bytes = int(max_upload_bytes)
    app.state.max_pixels = int(max_pixels)
    app.add_middleware(BodyLimitMiddleware, limit=int(max_upload_bytes) + FORM_OVERHEAD_BYTES)

    def count_request() -> None:
        with counter_lock:
            counters["requests"] += 1

    app.add_middleware(_CountRequests, on_request=count_request)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        return _error(exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("path", "query", "body"))
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        return _error(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - a bug
        LOG.exception("internal error on %s %s", request.method, request.url.path)
        return _error(500, "internal server error")

    async def _params(request: Request, form: Any) -> Tuple[int, Optional[int]]:
        def get(name: str) -> Optional[str]:
            value = request.query_params.get(name)
            if value is None and form is not None:
                v = form.get(name)
                value = v if isinstance(v, str) else None
            return value

        k = _int_param("k", get("k"), 10, 1, MAX_K)
        radius = _int_param("radius", get("radius"), None, 0, bits)
        return int(k), radius

    async def _read_form(request: Request) -> Any:
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            return None
        try:
            return await request.form(max_files=1, max_fields=20, max_part_size=FORM_OVERHEAD_BYTES)
        except _BodyTooLarge:
            raise ApiError(413, f"upload is larger than {max_upload_bytes} bytes") from None

    def _answer(hits_rows, t0: float, k: int, radius: Optional[int]) -> Dict[str, Any]:
        with counter_lock:
            counters["searches"] += 1
        return {"results": [[h.to_dict() for h in row] for row in hits_rows], "k": k, "radius": radius,
                "query_time_ms": round((time.perf_counter() - t0) * 1000, 3)}

    def _encode_and_search(data: bytes, name: str, k: int, radius: Optional[int]):
        n = _pixels(data)
        if n is not None and n > max_pixels:
            raise ApiError(413, f"image has {n} pixels, more than the limit of {max_pixels}")
        try:
            img = searcher.decode_query(data, name)
        except DataError as exc:
            raise ApiError(400, str(exc)) from None
        return searcher.search_images([img], k=k, radius=radius)

    @app.post("/api/search")
    async def api_search(request: Request) -> JSONResponse:
        t0 = time.perf_counter()
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise ApiError(400, "send the image as multipart/form-data in the field 'image'")
        form = await _read_form(request)
        try:
            k, radius = await _params(request, form)
            upload = form.get("image")
            if not isinstance(upload, UploadFile):
                raise ApiError(400, "missing the image: a multipart file field named 'image'")
            data = await upload.read(max_upload_bytes + 1)
            if len(data) > max_upload_bytes:
                raise ApiError(413, f"upload is larger than {max_upload_bytes} bytes")
            if not data:
                raise ApiError(400, "the uploaded image is empty")
            name = Path(upload.filename or "upload").name[:100] or "upload"
            rows = await run_in_threadpool(_encode_and_search, data, name, k, radius)
        finally:
            await form.close()
        return JSONResponse(_answer(rows, t0, k, radius))

    @app.post("/api/search/by-id/{item_id}")
    async def api_search_by_id(item_id: int, request: Request) -> JSONResponse:
        t0 = time.perf_counter()
        form = await _read_form(request)
        try:
            k, radius = await _params(request, form)
        finally:
            if form is not None:
                await form.close()
        try:
            row = await run_in_threadpool(searcher.search_id, item_id, k, radius)
        except KeyError:
            raise ApiError(404, f"no item with id {item_id}") from None
        return JSONResponse(_answer([row], t0, k, radius))

    @app.get("/api/items/{item_id}")
    def api_item(item_id: int) -> JSONResponse:
        it = searcher.item(item_id)
        if it is None:
            raise ApiError(404, f"no item with id {item_id}")
        return JSONResponse(it.to_dict())

    @app.get("/api/items/{item_id}/image")
    def api_item_image(item_id: int) -> Response:
        try:
            mime, data = searcher.thumbnail(item_id)
        except KeyError:
            raise ApiError(404, f"no item with id {item_id}") from None
        except UserError as exc:
            raise ApiError(404, f"the image of item {item_id} cannot be read: {exc}") from None
        return Response(data, media_type=mime, headers={"Cache-Control": "max-age=3600"})

    @app.get("/api/stats")
    def api_stats() -> JSONResponse:
        with counter_lock:
            served = dict(counters)
        return JSONResponse(dict(searcher.stats(), uptime_s=round(time.time() - started, 3),
                                 requests_served=served["requests"], searches=served["searches"],
                                 max_upload_bytes=max_upload_bytes, max_pixels=max_pixels, max_k=MAX_K))

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "count": len(searcher.index)})

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    return app
