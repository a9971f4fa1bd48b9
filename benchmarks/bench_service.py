"""Load test of ``csdh serve``: concurrent clients POST real images to /api/search.

Starts ``csdh serve INDEX_DIR`` on a free loopback port, runs ``--clients`` threads (each with its own httpx
client, one request at a time) for ``--duration`` seconds, then stops the server and prints a markdown row:
requests/s, latency p50 / p99 and errors. The run is bounded: no request starts after the deadline and each
has a ``--timeout``.

    python benchmarks/bench_service.py photos.idx                      # 16 clients, 60 s
    python benchmarks/bench_service.py photos.idx --images ~/Photos --duration 10

Query images: ``--images DIR`` (every image file under it), else the index's own items: their files, or
the thumbnails the index stores for data set images without files (fashion-mnist, cifar10).
"""
from __future__ import annotations

import argparse
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List, Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def query_images(index_dir: Path, images: Optional[str], limit: int) -> List[bytes]:
    """``limit`` query images (a seeded draw): the files under ``images``, else the index's own items — each
    item's file, or its stored thumbnail when it has none (data set builds such as fashion-mnist)."""
    rng = np.random.default_rng(0)
    if images:
        paths = sorted(p for p in Path(images).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if len(paths) > limit:
            paths = [paths[i] for i in sorted(rng.choice(len(paths), limit, replace=False))]
        data = [p.read_bytes() for p in paths]
    else:
        from csdh.index.metadata import METADATA_FILE, MetadataStore

        with MetadataStore(index_dir / METADATA_FILE, readonly=True) as meta:
            ids = meta.all_ids()
            if len(ids) > limit:
                ids = [ids[i] for i in sorted(rng.choice(len(ids), limit, replace=False))]
            items = meta.get_many(ids)
            data = []
            for i in ids:
                path = items[i].path
                if path and Path(path).is_file():
                    data.append(Path(path).read_bytes())
                elif (thumb := meta.thumbnail(i)) is not None:
                    data.append(thumb[1])
    if not data:
        sys.exit("no query images: pass --images DIR (the index's items have neither files nor thumbnails)")
    return data


def start_server(index_dir: Path, run: Optional[str], startup_timeout: float):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "csdh.cli", "-q", "serve", str(index_dir), "--host", "127.0.0.1", "--port", "0"]
    if run:
        cmd += ["--run", run]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        line = lines.get(timeout=startup_timeout)
    except queue.Empty:
        proc.kill()
        sys.exit(f"csdh serve did not start within {startup_timeout} s: {proc.stderr.read()[-2000:]}")
    url = line.split(" on ", 1)[1].split()[0].rstrip("/")
    return proc, url


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("index_dir", metavar="INDEX_DIR")
    p.add_argument("--run", metavar="RUN_DIR", help="passed to csdh serve --run")
    p.add_argument("--images", metavar="DIR", help="query images (default: the index's own images)")
    p.add_argument("--n-images", type=int, default=64, help="distinct query images (default 64)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds")
    p.add_argument("--startup-timeout", type=float, default=120.0)
    args = p.parse_args()

    import httpx

    index_dir = Path(args.index_dir)
    images = query_images(index_dir, args.images, args.n_images)
    proc, url = start_server(index_dir, args.run, args.startup_timeout)
    latencies: List[float] = []
    errors: List[str] = []
    lock = threading.Lock()
    try:
        with httpx.Client(timeout=10) as c:  # the service is up once /healthz answers
            deadline = time.monotonic() + args.startup_timeout
            while True:
                try:
                    if c.get(url + "/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    sys.exit("csdh serve is not answering /healthz")
                time.sleep(0.1)
            c.post(url + "/api/search", files={"image": ("warm", images[0])}, params={"k": args.k})

        stop_at = time.monotonic() + args.duration

        def client(worker: int) -> None:
            i = worker
            with httpx.Client(timeout=args.timeout) as c:
                while time.monotonic() < stop_at:
                    data = images[i % len(images)]
                    i += args.clients
                    t0 = time.perf_counter()
                    try:
                        r = c.post(url + "/api/search", files={"image": (f"q{i}.img", data)}, params={"k": args.k})
                        ok = r.status_code == 200 and len(r.json()["results"][0]) > 0
                        problem = None if ok else f"HTTP {r.status_code}: {r.text[:200]}"
                    except (httpx.HTTPError, ValueError, KeyError) as exc:
                        problem = f"{type(exc).__name__}: {exc}"
                    dt = time.perf_counter() - t0
                    with lock:
                        if problem is None:
                            latencies.append(dt)
                        else:
                            errors.append(problem)

        t_start = time.monotonic()
        threads = [threading.Thread(target=client, args=(w,), daemon=True) for w in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.duration + args.timeout + 10)
        elapsed = time.monotonic() - t_start
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()

    lat = np.array(latencies) * 1000
    p50 = float(np.percentile(lat, 50)) if len(lat) else float("nan")
    p99 = float(np.percentile(lat, 99)) if len(lat) else float("nan")
    print(f"\ncsdh serve {index_dir}: {args.clients} clients, {args.duration:g} s, top-{args.k}, "
          f"{len(images)} distinct query images\n")
    print("| clients | seconds | requests | requests/s | p50 ms | p99 ms | errors |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.clients} | {elapsed:.1f} | {len(latencies)} | {len(latencies) / elapsed:.1f} | {p50:.1f} | "
          f"{p99:.1f} | {len(errors)} |")
    if errors:
        print(f"\nfirst error: {errors[0]}", file=sys.stderr)


if __name__ == "__main__":
    main()
