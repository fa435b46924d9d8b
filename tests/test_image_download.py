"""The image download stage against a local HTTP server (127.0.0.1 only) and file: URLs."""

from __future__ import annotations

import io
import logging
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

from more_ie.download import DownloadSettings, download_images, update_local_paths
from more_ie.download.images import MANIFEST_SCHEMA, _retry_after, assign_names, sanitize_name
from more_ie.wiki.kc import IMAGE_KC_SCHEMA

SVG = (
    b'<?xml version="1.0"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>\n'
)
HTML = b"<html><body>Error: too many requests</body></html>"
SLOW_SECONDS = 3.0  # well past the 1 s time-out, so a loaded machine cannot blur the two


def image_bytes(fmt: str, color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format=fmt)
    return buffer.getvalue()


JPEG = image_bytes("JPEG")
PNG = image_bytes("PNG", "blue")


@dataclass
class ServerState:
    base: str = ""
    requests: Counter = field(default_factory=Counter)
    user_agents: set = field(default_factory=set)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def make_handler(state: ServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            with state.lock:
                state.requests[self.path] += 1
                n = state.requests[self.path]
                state.user_agents.add(self.headers.get("User-Agent", ""))
            if self.path == "/slow.jpg" and n == 1:
                # not counted as in flight: the client gave up on it long before it ends
                time.sleep(SLOW_SECONDS)
                try:
                    self._send(200, JPEG)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and closed the socket: expected
                return
            # Counted from receipt to just before the reply: a window inside the client's own, so the
            # count never exceeds the client's concurrency (after the reply the client may already
            # send its next request while this thread is still finishing).
            with state.lock:
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            time.sleep(0.02)  # long enough for concurrent requests to overlap
            with state.lock:
                state.in_flight -= 1
            self._route(n)

        def _route(self, n: int) -> None:
            path = self.path
            if path in ("/photo.jpg", "/evil.jpg", "/slow.jpg") or path.startswith("/many/"):
                self._send(200, JPEG, {"Content-Type": "image/jpeg"})
            elif path == "/pic.png":
                self._send(200, PNG, {"Content-Type": "image/png"})
            elif path == "/fake.jpg":  # a .jpg that is really a PNG
                self._send(200, PNG, {"Content-Type": "image/jpeg"})
            elif path == "/drawing.svg":
                self._send(200, SVG, {"Content-Type": "image/svg+xml"})
            elif path == "/flaky.jpg":
                self._send(503, b"busy") if n <= 2 else self._send(200, JPEG)
            elif path == "/ratelimited.jpg":
                self._send(429, b"slow down", {"Retry-After": "0"}) if n == 1 else self._send(200, JPEG)
            elif path == "/moved.jpg":
                self._send(302, b"", {"Location": f"{state.base}/photo.jpg"})
            elif path == "/html.jpg":
                self._send(200, HTML, {"Content-Type": "text/html"})
            else:
                self._send(404, b"not found")

    return Handler


@pytest.fixture()
def server() -> Iterator[ServerState]:
    state = ServerState()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def write_kc(path: Path, rows: list[tuple[str, str]]) -> Path:
    """An image KC with the real schema; ``rows`` are (file, url), two rows per page."""
    table = pa.Table.from_pylist(
        [
            {
                "image_id": i,
                "file": file,
                "url": url,
                "source": "infobox",
                "page_id": 100 + i // 2,
                "title": f"Page {i // 2}",
                "value": f"Page {i // 2}. An intro.",
                "local_path": None,
            }
            for i, (file, url) in enumerate(rows)
        ],
        schema=IMAGE_KC_SCHEMA,
    )
    pq.write_table(table, path)
    return path


def manifest_by_file(path: Path) -> dict[str, dict]:
    table = pq.read_table(path)
    assert table.schema.equals(MANIFEST_SCHEMA)
    rows = table.to_pylist()
    assert len({(r["file"], r["url"]) for r in rows}) == len(rows)
    return {r["file"]: r for r in rows}


FAST = dict(backoff=0.01, timeout=1.0, max_in_flight=2)


def test_http_download_resume_and_safety(server: ServerState, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    parent_before = sorted(p.name for p in tmp_path.parent.iterdir())
    b = server.base
    kc = write_kc(
        work / "images.parquet",
        [
            ("Photo.jpg", f"{b}/photo.jpg"),
            ("Photo.jpg", f"{b}/photo.jpg"),  # the same image in a second article: fetched once
            ("Pic.png", f"{b}/pic.png"),
            ("Fake.jpg", f"{b}/fake.jpg"),
            ("Drawing.svg", f"{b}/drawing.svg"),
            ("Notfound.jpg", f"{b}/notfound.jpg"),
            ("Flaky.jpg", f"{b}/flaky.jpg"),
            ("Ratelimited.jpg", f"{b}/ratelimited.jpg"),
            ("Slow.jpg", f"{b}/slow.jpg"),
            ("Moved.jpg", f"{b}/moved.jpg"),
            ("Html.jpg", f"{b}/html.jpg"),
            ("../../evil.jpg", f"{b}/evil.jpg"),
            ("..", f"{b}/pic.png"),
            ("/etc/passwd.png", f"{b}/pic.png"),
            ("_etc_passwd.png", f"{b}/pic.png"),  # a normal name that the hostile one would take
        ],
    )
    out_dir = work / "images"
    manifest = work / "manifest.parquet"
    counts = download_images(kc, out_dir, manifest, DownloadSettings(**FAST))

    assert counts["files"] == 14
    assert (counts["ok"], counts["failed"], counts["skipped"]) == (12, 2, 0)
    assert counts["retries"] == 4  # flaky 2, rate-limited 1, slow 1
    assert server.requests["/photo.jpg"] == 2  # once for Photo.jpg, once via the redirect
    assert server.requests["/notfound.jpg"] == 1  # 404 is final
    assert server.max_in_flight <= 2
    assert server.user_agents and all(ua.startswith("more-ie/") for ua in server.user_agents)

    rows = manifest_by_file(manifest)
    assert rows["Photo.jpg"] | {"local_path": None} == {
        "file": "Photo.jpg",
        "url": f"{b}/photo.jpg",
        "local_path": None,
        "status": "ok",
        "error": None,
        "format": "JPEG",
        "bytes": len(JPEG),
        "attempts": 1,
    }
    assert rows["Fake.jpg"]["format"] == "PNG" and rows["Fake.jpg"]["status"] == "ok"
    assert rows["Drawing.svg"]["format"] == "SVG"
    assert (rows["Notfound.jpg"]["status"], rows["Notfound.jpg"]["error"]) == ("failed", "http_404")
    assert rows["Notfound.jpg"]["local_path"] is None and rows["Notfound.jpg"]["attempts"] == 1
    assert (rows["Html.jpg"]["error"], rows["Html.jpg"]["local_path"]) == ("not_an_image", None)
    assert rows["Flaky.jpg"]["attempts"] == 3 and rows["Flaky.jpg"]["status"] == "ok"
    assert rows["Ratelimited.jpg"]["attempts"] == 2
    assert rows["Slow.jpg"]["attempts"] == 2 and rows["Slow.jpg"]["status"] == "ok"
    assert rows["Moved.jpg"]["format"] == "JPEG"

    # hostile names stay inside out_dir, renamed and flagged
    for hostile in ("../../evil.jpg", "..", "/etc/passwd.png"):
        assert rows[hostile]["status"] == "ok"
        assert rows[hostile]["error"] == "unsafe_name_renamed"
    assert Path(rows["_etc_passwd.png"]["local_path"]).name == "_etc_passwd.png"
    assert Path(rows["/etc/passwd.png"]["local_path"]).name == "13.png"
    assert Path(rows[".."]["local_path"]).name == "12.img"
    for row in rows.values():
        if row["local_path"]:
            assert Path(row["local_path"]).resolve().parent == out_dir.resolve()
            assert Path(row["local_path"]).stat().st_size == row["bytes"]
    kept = sorted(p.name for p in out_dir.iterdir())
    assert kept == sorted(Path(r["local_path"]).name for r in rows.values() if r["local_path"])
    assert "Html.jpg" not in kept and not any(name.startswith(".") for name in kept)
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == parent_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert not (tmp_path / "evil.jpg").exists() and not (work / "evil.jpg").exists()

    # resume: present images are not requested again; a corrupt one and the failures are
    before = Counter(server.requests)
    (out_dir / "Pic.png").write_bytes(b"torn")
    (out_dir / ".Photo.jpg.abc123.tmp").write_bytes(b"left by a killed job")
    counts2 = download_images(kc, out_dir, manifest, DownloadSettings(**FAST))
    assert (counts2["ok"], counts2["failed"], counts2["skipped"]) == (1, 2, 11)
    new_requests = server.requests - before
    assert set(new_requests) == {"/pic.png", "/notfound.jpg", "/html.jpg"}
    assert new_requests["/pic.png"] == 1
    assert not (out_dir / ".Photo.jpg.abc123.tmp").exists()
    rows2 = manifest_by_file(manifest)
    assert rows2["Photo.jpg"]["status"] == "skipped_existing" and rows2["Photo.jpg"]["attempts"] == 0
    assert rows2["Photo.jpg"]["local_path"] == rows["Photo.jpg"]["local_path"]
    assert rows2["Pic.png"]["status"] == "ok" and rows2["Pic.png"]["format"] == "PNG"
    assert rows2["Drawing.svg"]["format"] == "SVG"


def test_in_flight_cap(server: ServerState, tmp_path: Path) -> None:
    kc = write_kc(tmp_path / "kc.parquet", [(f"M{i}.jpg", f"{server.base}/many/{i}.jpg") for i in range(16)])
    counts = download_images(kc, tmp_path / "out", tmp_path / "m.parquet", DownloadSettings(**FAST))
    assert counts["ok"] == 16
    assert 1 <= server.max_in_flight <= 2


def test_too_large_and_all_failed(
    server: ServerState, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kc = write_kc(
        tmp_path / "kc.parquet",
        [
            ("Big.jpg", f"{server.base}/photo.jpg"),
            ("Gone.jpg", f"{server.base}/gone.jpg"),
            ("X.jpg", "gopher://x/y"),
        ],
    )
    with caplog.at_level(logging.ERROR, logger="more_ie.download.images"):
        counts = download_images(
            kc, tmp_path / "out", tmp_path / "m.parquet", DownloadSettings(**FAST, max_bytes=len(JPEG) - 1)
        )
    assert counts["failed"] == 3 and counts["ok"] == 0
    rows = manifest_by_file(tmp_path / "m.parquet")
    errors = [rows[f]["error"] for f in ("Big.jpg", "Gone.jpg", "X.jpg")]
    assert errors == ["too_large", "http_404", "bad_url"]
    assert any("every one of the 3 images failed" in r.getMessage() for r in caplog.records)
    assert list((tmp_path / "out").iterdir()) == []

    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(Exception):  # noqa: B017 - pyarrow raises its own error types here
        download_images(tmp_path / "broken.parquet", tmp_path / "out", tmp_path / "m2.parquet")
    assert not (tmp_path / "m2.parquet").exists()


def test_file_urls_and_update_local_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    mirror = tmp_path / "mirror" / "0" / "08"
    mirror.mkdir(parents=True)
    (mirror / "Rel.jpg").write_bytes(JPEG)
    (mirror / "Abs image.png").write_bytes(PNG)
    (mirror / "Text.jpg").write_bytes(b"plain text, not an image")
    kc = write_kc(
        tmp_path / "kc.parquet",
        [
            ("Rel.jpg", "file:mirror/0/08/Rel.jpg"),
            ("Abs_image.png", (mirror / "Abs image.png").as_uri()),  # file:///...%20...
            ("Missing.jpg", "file:mirror/0/08/Missing.jpg"),
            ("Text.jpg", "file:mirror/0/08/Text.jpg"),
            ("Rel.jpg", "file:mirror/0/08/Rel.jpg"),
        ],
    )
    counts = download_images(kc, "images", "manifest.parquet", DownloadSettings(backoff=0.01))
    assert (counts["ok"], counts["failed"]) == (2, 2)
    rows = manifest_by_file(tmp_path / "manifest.parquet")
    assert rows["Rel.jpg"]["local_path"] == str(Path("images") / "Rel.jpg")
    assert rows["Abs_image.png"]["format"] == "PNG"
    assert rows["Missing.jpg"]["error"] == "missing_file" and rows["Missing.jpg"]["attempts"] == 1
    assert rows["Text.jpg"]["error"] == "not_an_image"
    assert (tmp_path / "images" / "Rel.jpg").read_bytes() == JPEG

    out = tmp_path / "kc_local.parquet"
    assert update_local_paths(kc, tmp_path / "manifest.parquet", out) == 3
    updated = pq.read_table(out)
    assert updated.schema.equals(IMAGE_KC_SCHEMA)
    assert updated["image_id"].to_pylist() == [0, 1, 2, 3, 4]
    assert updated["local_path"].to_pylist() == [
        str(Path("images") / "Rel.jpg"),
        str(Path("images") / "Abs_image.png"),
        None,
        None,
        str(Path("images") / "Rel.jpg"),
    ]


def test_safe_names() -> None:
    hostile = [
        "../../evil.jpg",
        "..",
        ".",
        "...",
        "/etc/passwd.png",
        ".hidden.jpg",
        "a\\b.jpg",
        "nul\x00byte.jpg",
        "tab\tand\nnewline.png",
        "x" * 300 + ".jpg",
        "é" * 200 + ".png",
        "",
        " ",
        "ok.jpg",
    ]
    for name in hostile:
        safe = sanitize_name(name)
        assert "/" not in safe and "\\" not in safe and not safe.startswith(".")
        assert all(ord(ch) >= 32 and ord(ch) != 127 for ch in safe)
        assert len(safe.encode("utf-8")) <= 200
    normal = "Abraham_Lincoln_O-77_matte_collodion_print.jpg"
    assert sanitize_name(normal) == normal
    assert sanitize_name("x" * 300 + ".jpg").endswith(".jpg")

    groups = [(name, f"u{i}", i) for i, name in enumerate(hostile + ["3.img", "evil.jpg"])]
    tasks = assign_names(groups)
    names = [t.name for t in tasks]
    assert len(set(names)) == len(names) and all(names)
    assert names[-1] == "evil.jpg" and names[-2] == "3.img"  # unchanged names keep theirs
    assert names[3] != "3.img" and names[3].endswith(".img")  # '...' falls back past the taken one
    assert [t.renamed for t in tasks][-3:] == [False, False, False]
    # the same input gives the same names: resume depends on it
    assert [t.name for t in assign_names(groups)] == names


def test_retry_after_parsing() -> None:
    assert _retry_after("3") == 3.0
    assert _retry_after(None) is None and _retry_after("soon") is None
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
