"""Corpus-building throughput against wikiextractor, on the real dump sample (issue 2, section 6).

Runs, in one go and on the same file:
  * wikiextractor --no-templates --json -l --processes 1 (plain text of each article);
  * ours on 1 core: corpus-shard (wikitext -> sections, paragraphs, anchors, image refs),
    redirects, text-kc (redirect resolution, sentence splitting);
  * ours with 2 shards on 2 cores, on a multistream re-compression of the same pages.
Each command is a separate process; wall time, CPU time (user+sys, all its processes) and peak
RSS are measured per command, start-up included. Prints pages/s, MB/s per core and the ratios.

    python bench/corpus_bench.py [--dump PATH] [--repeat 10] [--pages-per-stream 20]
"""

from __future__ import annotations

import argparse
import bz2
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DUMP = (
    REPO.parent / "shared/data/wiki/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
)
PY = sys.executable
MEASURE = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter(); subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"  # noqa: E501
    "wall = time.perf_counter() - t; r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'wall': wall, 'cpu': r.ru_utime + r.ru_stime, 'rss_mb': r.ru_maxrss / 1024}))\n"
)


def measure(cmd: list[str]) -> dict:
    out = subprocess.run([PY, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def measure_parallel(cmds: list[list[str]]) -> dict:
    start = time.perf_counter()
    with ThreadPoolExecutor(len(cmds)) as pool:
        results = list(pool.map(measure, cmds))
    return {
        "wall": time.perf_counter() - start,
        "cpu": sum(r["cpu"] for r in results),
        "rss_mb": max(r["rss_mb"] for r in results),
    }


def split_dump(dump: Path) -> tuple[str, list[str], str]:
    xml = bz2.open(dump, "rt", encoding="utf-8").read()
    first = xml.index("  <page>")
    end = xml.rindex("</mediawiki>")
    return xml[:first], xml[first:end].split("  <page>")[1:], xml[end:]


def repeated_pages(pages: list[str], repeat: int) -> list[str]:
    """The sample's pages ``repeat`` times, with fresh page ids, so start-up costs are amortized."""
    out = []
    for r in range(repeat):
        for page in pages:
            head, rest = page.split("<id>", 1)
            page_id, tail = rest.split("</id>", 1)
            out.append(f"{head}<id>{int(page_id) + r * 1_000_000}</id>{tail}")
    return out


def write_single_stream(parts: tuple[str, list[str], str], out_dir: Path) -> Path:
    header, pages, footer = parts
    path = out_dir / "sample.xml.bz2"
    path.write_bytes(bz2.compress((header + "".join("  <page>" + p for p in pages) + footer).encode()))
    return path


def write_multistream(
    parts: tuple[str, list[str], str], out_dir: Path, pages_per_stream: int
) -> tuple[Path, Path]:
    """Re-compress the pages in the multistream layout (header, N pages per stream, footer)."""
    header_xml, pages, footer = parts
    data = out_dir / "sample-multistream.xml.bz2"
    index = out_dir / "sample-multistream-index.txt"
    offset = 0
    with open(data, "wb") as handle, open(index, "w", encoding="utf-8") as idx:
        header = bz2.compress(header_xml.encode())
        handle.write(header)
        offset += len(header)
        for k in range(0, len(pages), pages_per_stream):
            group = pages[k : k + pages_per_stream]
            for page in group:
                page_id = page.split("<id>", 1)[1].split("</id>", 1)[0]
                title = page.split("<title>", 1)[1].split("</title>", 1)[0]
                idx.write(f"{offset}:{page_id}:{title}\n")
            stream = bz2.compress("".join("  <page>" + p for p in group).encode())
            handle.write(stream)
            offset += len(stream)
        handle.write(bz2.compress(footer.encode()))
    return data, index


def ours(dump: Path, index: Path | None, shards: int, work: Path) -> dict:
    cli = [PY, "-m", "more_ie"]
    idx = ["--index", str(index)] if index else []
    shard_files = [str(work / f"shard{k}.parquet") for k in range(shards)]
    parse = measure_parallel(
        [
            cli
            + [
                "corpus-shard",
                "--source",
                str(dump),
                *idx,
                "--shard",
                str(k),
                "--shards",
                str(shards),
                "--out",
                shard_files[k],
            ]
            for k in range(shards)
        ]
    )
    redirects = measure(cli + ["redirects", "--out", str(work / "redirects.parquet"), *shard_files])
    text_kc = measure_parallel(
        [
            cli
            + [
                "text-kc",
                "--shard-file",
                shard_files[k],
                "--redirects",
                str(work / "redirects.parquet"),
                "--shard",
                str(k),
                "--out",
                str(work / f"kc{k}.parquet"),
            ]
            for k in range(shards)
        ]
    )
    import pyarrow.parquet as pq

    sentences = sum(pq.read_metadata(work / f"kc{k}.parquet").num_rows for k in range(shards))
    steps = (parse, redirects, text_kc)
    return {
        "wall": sum(s["wall"] for s in steps),
        "cpu": sum(s["cpu"] for s in steps),
        "rss_mb": max(s["rss_mb"] for s in steps),
        "parse_wall": parse["wall"],
        "sentences": sentences,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dump", type=Path, default=DEFAULT_DUMP)
    parser.add_argument("--pages-per-stream", type=int, default=20)
    parser.add_argument(
        "--repeat", type=int, default=10, help="repeat the sample's pages to amortize start-up"
    )
    args = parser.parse_args()
    if not args.dump.exists():
        sys.exit(f"{args.dump} not found (it lives in ../shared/data/wiki)")
    header, sample_pages, footer = split_dump(args.dump)
    parts = (header, repeated_pages(sample_pages, args.repeat), footer)
    pages = len(parts[1])
    xml_mb = len((header + "".join("  <page>" + p for p in parts[1]) + footer).encode()) / 1e6
    os.environ.setdefault("PYTHONPATH", str(REPO / "src"))

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dump = write_single_stream(parts, work)
        wx = measure(
            [
                PY,
                "-m",
                "wikiextractor.WikiExtractor",
                "--no-templates",
                "--json",
                "-l",
                "--processes",
                "1",
                "-q",
                "-o",
                str(work / "wx"),
                str(dump),
            ]
        )
        (work / "one").mkdir()
        one = ours(dump, None, 1, work / "one")
        ms_dump, ms_index = write_multistream(parts, work, args.pages_per_stream)
        (work / "two").mkdir()
        two = ours(ms_dump, ms_index, 2, work / "two")

    rows = [
        ("wikiextractor (1 process)", wx),
        ("more_ie, 1 shard", one),
        ("more_ie, 2 shards / 2 cores", two),
    ]
    print(
        f"input: {args.dump.name} x{args.repeat}: {pages} pages, {xml_mb:.1f} MB of XML; cores: {os.cpu_count()}"
    )
    print(
        f"{'run':32} {'wall s':>7} {'cpu s':>7} {'pages/s':>8} {'pages/cpu-s':>12} {'MB/cpu-s':>9} {'peak RSS MB':>12}"
    )
    for name, r in rows:
        print(
            f"{name:32} {r['wall']:7.2f} {r['cpu']:7.2f} {pages / r['wall']:8.1f} {pages / r['cpu']:12.1f} "
            f"{xml_mb / r['cpu']:9.2f} {r['rss_mb']:12.0f}"
        )
    print(f"more_ie sentences in the text KC: {one['sentences']} (1 shard) / {two['sentences']} (2 shards)")
    print(
        f"ratio pages/s, 1 shard vs wikiextractor:          {(pages / one['wall']) / (pages / wx['wall']):.2f}x"
    )
    print(
        f"ratio pages/cpu-s, 1 shard vs wikiextractor:      {(pages / one['cpu']) / (pages / wx['cpu']):.2f}x"
    )
    print(
        f"ratio pages/s, 2 shards/2 cores vs wikiextractor: {(pages / two['wall']) / (pages / wx['wall']):.2f}x"
    )
    print(
        f"ratio 2 shards/2 cores pages/s vs wikiextractor pages/cpu-s (per core): "
        f"{(pages / two['wall']) / (pages / wx['cpu']):.2f}x"
    )
    print(f"speed-up of 2 shards over 1 shard (wall):         {one['wall'] / two['wall']:.2f}x")


if __name__ == "__main__":
    main()
