"""``csdh serve``: the search service and web page over one index."""
from __future__ import annotations

import argparse

from csdh.cli.common import add_device, check_device
from csdh.cli.index_cmd import quiet_faiss
from csdh.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve an index over HTTP with a web page", description=(
        "Load the index and its model once, then answer POST /api/search (multipart field 'image'), "
        "GET /api/items/ID, GET /api/items/ID/image, GET /api/stats, GET /healthz, and serve the search "
        "page at /."))
    p.add_argument("index_dir", metavar="INDEX_DIR", help="an index built with csdh index build")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--run", metavar="RUN_DIR", help="the model (default: the run recorded in the index)")
    p.add_argument("--max-upload-mb", type=float, default=10.0, help="largest accepted upload in MB (default 10)")
    p.add_argument("--max-pixels", type=int, help="largest accepted image, width x height (default 50,000,000)")
    add_device(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from csdh.data.images import DEFAULT_MAX_PIXELS
    from csdh.service.app import create_app

    quiet_faiss(args)
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be in 0..65535, got {args.port}")
    if args.max_upload_mb <= 0:
        raise UserError("--max-upload-mb must be positive")
    app = create_app(args.index_dir, run_dir=args.run, max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
                     max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS, device=check_device(args.device))
    sock = _listen(args.host, args.port)
    port = sock.getsockname()[1]
    n = len(app.state.searcher.index)
    print(f"serving {n} images from {args.index_dir} on http://{args.host}:{port}/ (Ctrl-C stops)", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])
    return 0


def _listen(host: str, port: int):
    """A bound socket, so that a busy port is a one-line error before the server starts."""
    import socket

    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock
