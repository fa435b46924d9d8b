"""The image download at scale: per-host budget, 429 + Retry-After, shards, resume after a kill.

A local HTTP server on 127.0.0.1 plays a throttling upload server. The tests assert what happened
(files, counts, requests the server saw, the budget the client settled on), never how fast.
"""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from more_ie.cli import main as cli_main
from more_ie.download import DownloadSettings, download_images, update_local_paths
from more_ie.download.images import merge_manifests
from more_ie.download.throttle import HostThrottle
from more_ie.wiki.kc import IMAGE_KC_SCHEMA


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(buffer, format="JPEG")
    return buffer.getvalue()


JPEG = _jpeg()


# ---------------------------------------------------------------------------------------------
# HostThrottle on a fake clock
# ---------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_throttle_spacing_pause_and_aimd() -> None:
    clock = FakeClock()
    throttle = HostThrottle(10.0, clock=clock, sleep=clock.sleep)
    sent = [throttle.acquire("h") for _ in range(3)]
    assert sent == pytest.approx([100.0, 100.1, 100.2])  # 1/rate apart
    assert throttle.acquire("other") == pytest.approx(clock.now)  # budgets are per host

    # three 429s for requests sent before any decrease: the rate halves once, not three times
    for when in sent:
        throttle.throttled("h", when, retry_after=2.0)
    assert throttle.rate("h") == pytest.approx(5.0)
    paused_from = clock.now
    assert throttle.acquire("h") >= paused_from + 2.0  # Retry-After holds every thread back
    # a 429 for a request sent after the decrease lowers it again
    throttle.throttled("h", clock.now, retry_after=None)
    assert throttle.rate("h") == pytest.approx(2.5)

    # successes raise the rate only while the budget is what makes requests wait
    throttle.acquire("h")
    throttle.succeeded("h")
    assert throttle.rate("h") == pytest.approx(2.55)
    clock.now += 100.0  # idle: the next request does not wait
    throttle.acquire("h")
    throttle.succeeded("h")
    assert throttle.rate("h") == pytest.approx(2.55)
    for _ in range(500):
        throttle.acquire("h")
        throttle.succeeded("h")
    assert throttle.rate("h") == pytest.approx(10.0)  # never above the configured budget

    for _ in range(60):
        throttle.throttled("h", clock.now, None)
        clock.now += 1.0
    assert throttle.rate("h") == pytest.approx(throttle.min_rate)
    assert throttle.summary()["h"]["throttled"] == 64

    with pytest.raises(ValueError, match="positive"):
        HostThrottle(0.0)


def test_a_429_voids_the_slots_handed_out_before_it() -> None:
    clock = FakeClock()
    throttle = HostThrottle(100.0, clock=clock, sleep=clock.sleep)
    first = throttle.acquire("h")

    def sleep_and_meet_a_429(seconds: float) -> None:  # another thread's request is refused meanwhile
        clock.sleep(seconds)
        if len(clock.slept) == 1:
            throttle.throttled("h", first, retry_after=1.0)

    throttle.sleep = sleep_and_meet_a_429
    second = throttle.acquire("h")
    assert len(clock.slept) == 2  # slept on its slot, then again on a new one
    assert second >= first + 1.0  # not first + 0.01, the slot it held under the old budget
    assert throttle.rate("h") == pytest.approx(50.0)


def test_no_budget_still_follows_retry_after() -> None:
    clock = FakeClock()
    throttle = HostThrottle(None, clock=clock, sleep=clock.sleep)
    assert throttle.acquire("h") == clock.now and throttle.acquire("h") == clock.now
    throttle.throttled("h", clock.now, retry_after=3.0)
    start = clock.now
    assert throttle.acquire("h") == pytest.approx(start + 3.0)
    assert throttle.rate("h") is None


# ---------------------------------------------------------------------------------------------
# a throttling server
# ---------------------------------------------------------------------------------------------


@dataclass
class Server:
    base: str = ""
    rate: float | None = None  # answer 429 above this many requests/s (GCRA, burst 2)
    retry_after: str = "1"
    serve_first: int | None = None  # after this many images, hold every reply until `release`
    release: threading.Event = field(default_factory=threading.Event)
    ok: Counter = field(default_factory=Counter)  # path -> 200 answers
    throttled: int = 0
    answered: int = 0
    tat: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self) -> bool:
        if self.rate is None:
            return True
        now = time.monotonic()
        with self.lock:
            if now < self.tat - 1.0 / self.rate:  # more than a burst of 2 ahead: too fast
                self.throttled += 1
                return False
            self.tat = max(self.tat, now) + 1.0 / self.rate
            return True


def make_handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if not self.path.startswith("/img/"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if not server.admit():
                body = b"Too Many Requests"
                self.send_response(429)
                self.send_header("Retry-After", server.retry_after)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            with server.lock:
                server.answered += 1
                hold = server.serve_first is not None and server.answered > server.serve_first
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(JPEG)))
            self.end_headers()
            try:
                if hold:  # half a body, then nothing until the test has killed the client
                    self.wfile.write(JPEG[: len(JPEG) // 2])
                    self.wfile.flush()
                    server.release.wait(30)
                    return
                self.wfile.write(JPEG)
            except (BrokenPipeError, ConnectionResetError):
                return
            with server.lock:
                server.ok[self.path] += 1

    return Handler


@pytest.fixture()
def server() -> Iterator[Server]:
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()


def write_kc(path: Path, base: str, n: int) -> Path:
    rows = [
        {
            "image_id": i,
            "file": f"Img_{i:03d}.jpg",
            "url": f"{base}/img/{i:03d}.jpg",
            "source": "infobox",
            "page_id": i,
            "title": f"Page {i}",
            "value": f"Page {i}.",
            "local_path": None,
        }
        for i in range(n)
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=IMAGE_KC_SCHEMA), path)
    return path


def expected_names(n: int) -> list[str]:
    return [f"Img_{i:03d}.jpg" for i in range(n)]


def assert_complete(out_dir: Path, n: int) -> None:
    """Every image exactly once, each a whole JPEG, and no temporary left behind."""
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == expected_names(n)
    assert all((out_dir / name).read_bytes() == JPEG for name in names)


# ---------------------------------------------------------------------------------------------
# the downloader against it
# ---------------------------------------------------------------------------------------------


def test_converges_to_the_server_rate_without_losing_files(server: Server, tmp_path: Path) -> None:
    server.rate = 40.0  # the client starts 5x faster than the server allows
    n = 100
    kc = write_kc(tmp_path / "kc.parquet", server.base, n)
    settings = DownloadSettings(
        requests_per_second=200.0, max_in_flight=8, backoff=0.01, timeout=5.0, max_retry_after=0.2
    )  # the server says 1 s; the cap keeps the test short
    counts = download_images(kc, tmp_path / "images", tmp_path / "m.parquet", settings)

    assert (counts["ok"], counts["failed"]) == (n, 0)
    assert_complete(tmp_path / "images", n)
    assert sum(server.ok.values()) == n and set(server.ok.values()) == {1}  # nothing fetched twice
    assert counts["throttled"] == server.throttled > 0
    # a client that ignored the 429s would see most requests refused (5x the allowed rate)
    assert server.throttled < n
    meta = pq.read_schema(tmp_path / "m.parquet").metadata
    final = float(meta[f"rate_final_{server.base.split('//')[1]}".encode()])
    assert final <= 2 * server.rate  # settled near the server's rate, far below the 200 it started at
    rows = pq.read_table(tmp_path / "m.parquet").to_pylist()
    assert sum(r["attempts"] for r in rows) == n + server.throttled


def test_resumes_after_a_kill(server: Server, tmp_path: Path) -> None:
    n, first = 40, 15
    server.serve_first = first
    kc = write_kc(tmp_path / "kc.parquet", server.base, n)
    out_dir, manifest = tmp_path / "images", tmp_path / "m.parquet"
    script = (
        "import sys; from more_ie.download import DownloadSettings, download_images;"
        "download_images(sys.argv[1], sys.argv[2], sys.argv[3], DownloadSettings(max_in_flight=4, timeout=60))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(kc), str(out_dir), str(manifest)], stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 300  # a safety net on a very loaded machine, not a timing
        # wait until the server has served `first` images and the next ones hang half-written
        while time.monotonic() < deadline:
            done = [p for p in out_dir.glob("Img_*.jpg")] if out_dir.exists() else []
            temporaries = list(out_dir.glob(".*.tmp")) if out_dir.exists() else []
            if len(done) == first and temporaries:
                break
            assert proc.poll() is None, "the download ended before it could be killed"
            time.sleep(0.02)
        else:
            pytest.fail("the download never reached the kill point")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert temporaries and not manifest.exists()
    server.release.set()
    server.serve_first = None
    before = Counter(server.ok)

    counts = download_images(kc, out_dir, manifest, DownloadSettings(max_in_flight=4, timeout=5.0))
    assert (counts["skipped"], counts["ok"], counts["failed"]) == (first, n - first, 0)
    assert_complete(out_dir, n)  # also: the killed run's temporaries are gone
    fetched_again = server.ok - before
    assert not set(fetched_again) & set(before)  # what was complete was not downloaded again
    assert sum(fetched_again.values()) == n - first
    statuses = Counter(r["status"] for r in pq.read_table(manifest).to_pylist())
    assert statuses == {"skipped_existing": first, "ok": n - first}


def test_shards_share_the_folder_and_merge(server: Server, tmp_path: Path) -> None:
    n, shards = 20, 3
    kc = write_kc(tmp_path / "kc.parquet", server.base, n)
    out_dir = tmp_path / "images"
    out_dir.mkdir()
    # temporaries of a killed earlier run: Img_000 belongs to shard 0, Img_001 to shard 1
    mine, theirs = out_dir / ".Img_000.jpg.abcd1234.tmp", out_dir / ".Img_001.jpg.abcd1234.tmp"
    mine.write_bytes(b"torn")
    theirs.write_bytes(b"shard 1 may be writing this right now")
    manifests = [tmp_path / f"m{i}.parquet" for i in range(shards)]
    settings = DownloadSettings(max_in_flight=2, timeout=5.0, requests_per_second=500.0)
    c0 = download_images(kc, out_dir, manifests[0], settings, shard=0, shards=shards)
    assert c0["ok"] == 7 and not mine.exists() and theirs.exists()  # shard 0 leaves shard 1's alone

    errors: list[BaseException] = []

    def run(shard: int) -> None:
        try:  # through the command line of the Snakemake rule
            rc = cli_main(
                [
                    "download-images",
                    "--image-kc",
                    str(kc),
                    "--images-dir",
                    str(out_dir),
                    "--shard",
                    str(shard),
                    "--shards",
                    str(shards),
                    "--manifest",
                    str(manifests[shard]),
                    "--requests-per-second",
                    "250",
                ]
            )
            assert rc == 0
        except BaseException as err:  # noqa: BLE001 - re-raised below in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=run, args=(s,)) for s in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert_complete(out_dir, n)
    assert set(server.ok.values()) == {1} and len(server.ok) == n  # each image fetched by one shard

    with pytest.raises(ValueError, match="3 manifests were given|2 manifests were given"):
        merge_manifests(manifests[:2], tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="is that shard too"):
        merge_manifests([manifests[0], manifests[0], manifests[1]], tmp_path / "bad.parquet")
    assert not (tmp_path / "bad.parquet").exists()
    with pytest.raises(ValueError, match="requests per second"):
        download_images(kc, out_dir, tmp_path / "x.parquet", DownloadSettings(requests_per_second=-1.0))
    with pytest.raises(ValueError, match="shard 3 is not in 0..2"):
        download_images(kc, out_dir, tmp_path / "x.parquet", shard=3, shards=3)

    rc = cli_main(
        [
            "merge-image-manifests",
            "--image-kc",
            str(kc),
            "--manifest-out",
            str(tmp_path / "all.parquet"),
            "--out",
            str(tmp_path / "kc.local.parquet"),
            *map(str, manifests),
        ]
    )
    assert rc == 0
    merged = pq.read_table(tmp_path / "all.parquet")
    assert merged.num_rows == n and Counter(merged["status"].to_pylist()) == {"ok": n}
    local = pq.read_table(tmp_path / "kc.local.parquet")
    assert local.schema.equals(IMAGE_KC_SCHEMA)
    assert local["local_path"].to_pylist() == [str(out_dir / name) for name in expected_names(n)]
    assert update_local_paths(kc, tmp_path / "all.parquet", tmp_path / "again.parquet") == n
