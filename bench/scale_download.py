"""The image download against a local throttling server (issue 15): convergence and CPU per image.

A server on 127.0.0.1 answers 429 (with ``Retry-After``) above ``--server-rate`` requests/s; the
downloader (``more_ie.download``) starts with a budget of ``--budget`` requests/s. Reported: the
files fetched (none may be lost), the 429s, the budget the job settled on, the rate the server
actually accepted in the second half of the run, and the downloader's CPU time per image (the
number that turns 4M images into core-hours; the wall time at scale is set by the politeness
budget, not by CPU). Images are 320x240 JPEGs of ~25 KB, the size of a 320px thumbnail.

    python bench/scale_download.py --files 3000 --server-rate 100 --budget 400 --shards 2
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from more_ie.download import DownloadSettings, download_images  # noqa: E402
from more_ie.wiki.kc import IMAGE_KC_SCHEMA  # noqa: E402


def thumbnail() -> bytes:
    rng = np.random.default_rng(0)
    # smooth noise compresses like a photo, not like a flat colour
    small = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((320, 240), Image.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


class Throttler:
    """GCRA: ``rate`` requests/s with a burst of ``burst`` back-to-back requests."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst, self.tat, self.lock = rate, burst, 0.0, threading.Lock()
        self.accepted: list[float] = []
        self.refused = 0

    def admit(self) -> bool:
        now = time.monotonic()
        with self.lock:
            if now < self.tat - (self.burst - 1) / self.rate:
                self.refused += 1
                return False
            self.tat = max(self.tat, now) + 1.0 / self.rate
            self.accepted.append(now)
            return True


def serve(body: bytes, throttler: Throttler) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            ok = throttler.admit()
            self.send_response(200 if ok else 429)
            payload = body if ok else b"Too Many Requests"
            if not ok:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--server-rate", type=float, default=100.0)
    parser.add_argument("--burst", type=int, default=5, help="requests the server lets through back to back")
    parser.add_argument(
        "--budget", type=float, default=400.0, help="requests/s per host, all shards together"
    )
    parser.add_argument(
        "--shards", type=int, default=2, help="run one after the other here (same host budget each)"
    )
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    throttler = Throttler(args.server_rate, args.burst)
    body = thumbnail()
    httpd, base = serve(body, throttler)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = [
            {
                "image_id": i,
                "file": f"F{i}.jpg",
                "url": f"{base}/F{i}.jpg",
                "source": "infobox",
                "page_id": i,
                "title": "t",
                "value": "v",
                "local_path": None,
            }
            for i in range(args.files)
        ]
        pq.write_table(pa.Table.from_pylist(rows, schema=IMAGE_KC_SCHEMA), work / "kc.parquet")
        settings = DownloadSettings(
            max_in_flight=args.in_flight,
            requests_per_second=args.budget / args.shards,
            max_retry_after=1.0,
            progress_every=10**9,
        )
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        counts = []
        # the shards of one KC would run as separate jobs at once, each with budget / shards; run here
        # one after the other, each shard alone meets the server at budget / shards
        for shard in range(args.shards):
            counts.append(
                download_images(
                    work / "kc.parquet",
                    work / "images",
                    work / f"m{shard}.parquet",
                    settings,
                    shard=shard,
                    shards=args.shards,
                )
            )
        wall = time.perf_counter() - start
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        files = sorted(p.name for p in (work / "images").iterdir())
        finals = {}
        for shard in range(args.shards):
            meta = pq.read_schema(work / f"m{shard}.parquet").metadata
            finals[shard] = {k.decode(): float(v) for k, v in meta.items() if k.startswith(b"rate_final_")}
    httpd.shutdown()
    accepted = np.array(throttler.accepted)
    half = accepted[len(accepted) // 2 :]
    cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    result = {
        "files": args.files,
        "present": len(files),
        "ok": sum(c["ok"] for c in counts),
        "failed": sum(c["failed"] for c in counts),
        "throttled": throttler.refused,
        "server_rate": args.server_rate,
        "budget_per_job": args.budget / args.shards,
        "accepted_rate_second_half": float((len(half) - 1) / (half[-1] - half[0])) if len(half) > 1 else None,
        "final_budgets": finals,
        "wall_s": wall,
        "cpu_ms_per_image_incl_server": 1000 * cpu / args.files,
        "bytes_per_image": len(body),
        "load": os.getloadavg(),
    }
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
