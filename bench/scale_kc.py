"""Heaps'-law fit on real Wikipedia text, and a generator of text-KC shards that grow like it (issue 15).

The 1M-sentence BM25 bench of issue 3 repeated one 59k-sentence sample with a copy number, so its
vocabulary stopped growing at ~150k terms. Real Wikipedia's vocabulary keeps growing: Heaps' law,
V = K * n**beta (V distinct terms after n tokens). This module

1. fits K and beta on the real dump sample (its text KC, built with the project's own stages) and
   on wiki_vital's introductions, each alone and the two together (`fit`);
2. writes text-KC shards (the project's TEXT_KC_SCHEMA, so `bm25-index`/`bm25-merge` read them)
   of N sentences (`generate`): sentence lengths are drawn from the real sample; each token is a
   real term drawn from the real sample's term frequencies (so the tweets' query terms have
   realistic posting lists), or a minted term: new terms are minted at the rate the combined fit
   implies (the fit's V(n) minus the real terms seen so far), and minted terms recur (a repeat
   picks an earlier minted term, log-uniformly by age, so old ones are frequent: a Zipf-like tail);
3. checks the generated vocabulary against the fit at a few sizes, from the token ids and, for the
   first shard, by re-tokenising the written text.

Minted terms are letter strings ``zq...x`` (one Lucene token each; no Porter-stemmer suffix ends in
``x``, so two minted terms never stem together). Terms are lower-cased runs of letters/digits,
the same for real and generated text. Not modelled: topical burstiness (a term repeated inside
one article), punctuation, anchors; ``paragraph`` holds the sentence itself.

    python bench/scale_kc.py fit --out /tmp/heaps.json
    python bench/scale_kc.py generate --sentences 10000000 --shard-size 500000 --out /tmp/scale_kc
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy import stats

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "src"))

from more_ie.utils import write_json, write_parquet  # noqa: E402
from more_ie.wiki import build_dump_shard, build_redirects, build_text_kc  # noqa: E402
from more_ie.wiki.kc import KC_ID_SHARD_BITS, TEXT_KC_SCHEMA  # noqa: E402
from more_ie.wiki.sentences import split_sentences, strip_anchors  # noqa: E402

logger = logging.getLogger("scale_kc")
DUMP = DATA / "wiki" / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
VITAL = DATA / "wiki_vital" / "summaries_en-us.json"
_TOKEN = re.compile(r"[^\W_]+")
CHUNK_TOKENS = 4_000_000
SENTENCES_PER_PAGE = 30  # synthetic page ids only group rows; nothing reads them for BM25


def tokenize(sentence: str) -> list[str]:
    return _TOKEN.findall(sentence.lower())


# ---------------------------------------------------------------------------------------------
# the real sample and the fit
# ---------------------------------------------------------------------------------------------


def dump_sentences(work: Path) -> list[str]:
    """The dump sample's text-KC sentences (anchors reduced to their surface), in page order."""
    build_dump_shard(DUMP, None, 0, 1, work / "s.parquet")
    build_redirects([work / "s.parquet"], work / "r.parquet")
    build_text_kc(work / "s.parquet", work / "r.parquet", 0, work / "dump_kc.parquet")
    return [
        strip_anchors(s)
        for s in pq.read_table(work / "dump_kc.parquet", columns=["sentence"])["sentence"].to_pylist()
    ]


def vital_sentences() -> list[str]:
    vital = json.loads(VITAL.read_text(encoding="utf-8"))
    out: list[str] = []
    for record in vital.values():  # file order: alphabetical by title
        out += [s for s in split_sentences(" ".join(record.get("extract", "").split())) if len(s) >= 10]
    return out


def heaps_curve(token_lists: list[list[str]], points: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(n tokens, V distinct terms) at log-spaced n, reading the sentences in order."""
    total = sum(len(t) for t in token_lists)
    marks = np.unique(np.geomspace(100, total, points).astype(np.int64))
    seen: set[str] = set()
    ns, vs, n, j = [], [], 0, 0
    for tokens in token_lists:
        for token in tokens:
            seen.add(token)
            n += 1
            while j < len(marks) and n >= marks[j]:
                ns.append(n)
                vs.append(len(seen))
                j += 1
    return np.array(ns), np.array(vs)


@dataclass
class HeapsFit:
    name: str
    K: float
    beta: float
    beta_se: float  # standard error of the slope (points of one growth curve are not independent:
    # it understates the real uncertainty; the spread between corpora is the better guide)
    r2: float
    tokens: int
    vocab: int
    n_min: int

    def predict(self, n: np.ndarray | float) -> np.ndarray | float:
        return self.K * np.power(n, self.beta)


def fit_heaps(name: str, n: np.ndarray, v: np.ndarray, n_min: int = 10_000) -> HeapsFit:
    keep = n >= n_min  # the first few thousand tokens are all function words: not the power-law regime
    fit = stats.linregress(np.log(n[keep]), np.log(v[keep]))
    return HeapsFit(
        name,
        float(np.exp(fit.intercept)),
        float(fit.slope),
        float(fit.stderr),
        float(fit.rvalue**2),
        int(n[-1]),
        int(v[-1]),
        n_min,
    )


# ---------------------------------------------------------------------------------------------
# the generator
# ---------------------------------------------------------------------------------------------


def minted_name(i: int) -> str:
    letters = "bcdfghjklmnprstvw"
    out = []
    while True:
        i, r = divmod(i, len(letters))
        out.append(letters[r])
        if i == 0:
            break
    return "zq" + "".join(out) + "x"


@dataclass
class Generator:
    vocab: list[str]  # real terms, most frequent first
    counts: np.ndarray  # their counts in the real sample
    lengths: np.ndarray  # real sentence lengths in tokens (>= 1)
    fit: HeapsFit
    repeat_ratio: float  # extra occurrences per minted term (from the sample's rare terms)

    @classmethod
    def from_sample(cls, token_lists: list[list[str]], fit: HeapsFit) -> "Generator":
        terms, counts = np.unique(
            np.concatenate([np.array(t, dtype=object) for t in token_lists if t]), return_counts=True
        )
        order = np.argsort(-counts, kind="stable")
        counts = counts[order]
        # rare terms (seen <= 10 times) stand in for the tail that minted terms extend
        rare = counts[counts <= 10]
        return cls(
            [str(t) for t in terms[order]],
            counts,
            np.array([len(t) for t in token_lists if t]),
            fit,
            float(rare.mean() - 1.0),
        )

    def expected_real_seen(self, n: np.ndarray) -> np.ndarray:
        """E[distinct real terms] after n draws from the sample's term distribution."""
        p = self.counts / self.counts.sum()
        uniq, mult = np.unique(p, return_counts=True)  # many terms share a count: group them
        return np.array(
            [len(p) - float(np.sum(mult * np.exp(m * np.log1p(-uniq)))) for m in np.atleast_1d(n)]
        )

    def minted_target(self, n: np.ndarray) -> np.ndarray:
        return np.maximum(0.0, self.fit.predict(n) - self.expected_real_seen(n))

    def generate(self, out_dir: Path, sentences: int, shard_size: int, seed: int = 0) -> dict:
        """Write ``ceil(sentences / shard_size)`` shards; return the vocabulary growth measured."""
        rng = np.random.default_rng(seed)
        real_cdf = np.cumsum(self.counts / self.counts.sum())
        n_real = len(self.vocab)
        real_arr = pa.array(self.vocab, pa.string())
        minted_arr = pa.array([], pa.string())
        minted = 0  # minted terms so far
        n_tokens = 0
        real_seen = np.zeros(n_real, dtype=bool)
        growth: list[dict] = []  # measured at every shard's end
        out_dir.mkdir(parents=True, exist_ok=True)
        written = 0
        shard = 0
        start = time.perf_counter()
        while written < sentences:
            rows = min(shard_size, sentences - written)
            lengths = rng.choice(self.lengths, size=rows)
            total = int(lengths.sum())
            ids = np.empty(total, dtype=np.int64)
            for lo in range(0, total, CHUNK_TOKENS):  # tokens in chunks: the mint target is re-read per chunk
                hi = min(total, lo + CHUNK_TOKENS)
                size = hi - lo
                target = int(self.minted_target(np.array([n_tokens + size]))[0])
                new = min(max(0, target - minted), size)
                repeats = min(int(round(new * self.repeat_ratio)) if minted else 0, size - new)
                chunk = np.searchsorted(real_cdf, rng.random(size) * real_cdf[-1]).astype(np.int64)
                chunk = np.minimum(chunk, n_real - 1)
                where = rng.permutation(size)[: new + repeats]
                chunk[where[:new]] = n_real + minted + np.arange(new)
                if repeats:
                    # log-uniform over the minted terms' ages: older minted terms recur more (Zipf-like)
                    pool = minted + new
                    age = np.floor(np.exp(rng.random(repeats) * np.log(pool))).astype(np.int64) - 1
                    chunk[where[new:]] = n_real + np.clip(age, 0, pool - 1)
                real_seen[chunk[chunk < n_real]] = True
                minted += new
                n_tokens += size
                ids[lo:hi] = chunk
            if minted > len(minted_arr):
                extra = [minted_name(i) for i in range(len(minted_arr), minted)]
                minted_arr = pa.concat_arrays([minted_arr, pa.array(extra, pa.string())])
            vocab_now = pa.concat_arrays([real_arr, minted_arr])
            offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
            text = pc.binary_join(pa.ListArray.from_arrays(offsets, vocab_now.take(pa.array(ids))), " ")
            row = np.arange(rows, dtype=np.int64)
            glob = written + row
            table = pa.Table.from_arrays(
                [
                    pa.array((shard << KC_ID_SHARD_BITS) | row),
                    pa.array(glob // SENTENCES_PER_PAGE),
                    pc.cast(pa.array(glob // SENTENCES_PER_PAGE), pa.string()),
                    pa.array([""] * rows, pa.string()),
                    pa.array(np.zeros(rows, dtype=np.int32)),
                    text,
                    text,
                ],
                schema=TEXT_KC_SCHEMA,
            )
            write_parquet(
                table,
                out_dir / f"{shard:05d}.parquet",
                metadata={"generator": "bench/scale_kc.py", "tokens": str(total)},
            )
            written += rows
            shard += 1
            growth.append(
                {
                    "sentences": written,
                    "tokens": n_tokens,
                    "vocab": int(real_seen.sum()) + minted,
                    "fit": float(self.fit.predict(n_tokens)),
                }
            )
            logger.info(
                "shard %d: %d sentences (%d in all), %d tokens, vocabulary %d (fit %.0f), %.0fs",
                shard - 1,
                rows,
                written,
                n_tokens,
                int(real_seen.sum()) + minted,
                self.fit.predict(n_tokens),
                time.perf_counter() - start,
            )
        return {
            "sentences": written,
            "tokens": n_tokens,
            "vocab": int(real_seen.sum()) + minted,
            "real_terms_seen": int(real_seen.sum()),
            "minted_terms": minted,
            "shards": shard,
            "growth": growth,
            "seconds": time.perf_counter() - start,
        }


def check_text(path: Path) -> dict:
    """Re-tokenise a written shard: (tokens, distinct terms) read back from the text itself."""
    seen: set[str] = set()
    n = 0
    for batch in pq.ParquetFile(path).iter_batches(columns=["sentence"], batch_size=100_000):
        for s in batch.column("sentence").to_pylist():
            tokens = tokenize(s)
            n += len(tokens)
            seen.update(tokens)
    return {"tokens": n, "vocab": len(seen)}


# ---------------------------------------------------------------------------------------------


def load_sample() -> tuple[list[list[str]], list[list[str]]]:
    with tempfile.TemporaryDirectory() as tmp:
        dump = [tokenize(s) for s in dump_sentences(Path(tmp))]
    vital = [tokenize(s) for s in vital_sentences()]
    return dump, vital


def cmd_fit(args: argparse.Namespace) -> tuple[dict, Generator]:
    dump, vital = load_sample()
    fits, curves = {}, {}
    for name, lists in (("dump_sample", dump), ("wiki_vital", vital), ("combined", dump + vital)):
        n, v = heaps_curve(lists)
        fits[name] = fit_heaps(name, n, v)
        curves[name] = {"tokens": n.tolist(), "vocab": v.tolist()}
        f = fits[name]
        logger.info(
            "%s: %d sentences, %d tokens, %d terms; Heaps K=%.2f beta=%.4f (se %.4f, R2 %.4f)",
            name,
            len(lists),
            f.tokens,
            f.vocab,
            f.K,
            f.beta,
            f.beta_se,
            f.r2,
        )
    gen = Generator.from_sample(dump + vital, fits["combined"])
    result = {
        "fits": {k: asdict(f) for k, f in fits.items()},
        "curves": curves,
        "sample": {
            "sentences": len(dump) + len(vital),
            "mean_tokens_per_sentence": float(gen.lengths.mean()),
            "real_terms": len(gen.vocab),
            "repeat_ratio": gen.repeat_ratio,
        },
    }
    if args.out:
        write_json(args.out, result)
    return result, gen


def cmd_generate(args: argparse.Namespace) -> None:
    fitted, gen = cmd_fit(args)
    result = gen.generate(Path(args.out_dir), args.sentences, args.shard_size, args.seed)
    # independent of the generator's own bookkeeping: the first shard's text, tokenised again
    result["first_shard_reread"] = check_text(Path(args.out_dir) / "00000.parquet")
    result["fits"] = fitted["fits"]
    fits = {name: HeapsFit(**f) for name, f in fitted["fits"].items()}
    for g in result["growth"]:
        g |= {f"fit_{name}": float(f.predict(g["tokens"])) for name, f in fits.items()}
        logger.info(
            "generated: %d sentences, %d tokens -> %d terms; fit %.0f (%.2f%% off); single-corpus fits "
            "%.0f (dump) .. %.0f (vital)",
            g["sentences"],
            g["tokens"],
            g["vocab"],
            g["fit"],
            100 * (g["vocab"] - g["fit"]) / g["fit"],
            g["fit_dump_sample"],
            g["fit_wiki_vital"],
        )
    write_json(Path(args.out_dir) / "generator.json", result)


def cmd_plot(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fitted = json.loads(Path(args.fit).read_text())
    generated = json.loads(Path(args.generated).read_text())
    fig, ax = plt.subplots(figsize=(7, 4.5))
    grid = np.geomspace(1e4, args.extrapolate_tokens, 50)
    for (name, curve), color in zip(fitted["curves"].items(), ("C0", "C1", "C2")):
        f = HeapsFit(**fitted["fits"][name])
        ax.loglog(curve["tokens"], curve["vocab"], "o", ms=3, color=color, label=f"{name} (real)")
        ax.loglog(
            grid, f.predict(grid), "-", lw=1, color=color, label=f"fit {name}: V={f.K:.1f} n^{f.beta:.3f}"
        )
    g = generated["growth"]
    ax.loglog(
        [x["tokens"] for x in g], [x["vocab"] for x in g], "k^", ms=5, label="generated KC (scale_kc.py)"
    )
    ax.set_xlabel("tokens n")
    ax.set_ylabel("distinct terms V")
    ax.set_title("Heaps' law: real Wikipedia samples, fits, generated KC")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.png, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fit")
    p.add_argument("--out", default=None)
    p = sub.add_parser("generate")
    p.add_argument("--sentences", type=int, required=True)
    p.add_argument("--shard-size", type=int, default=500_000)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--out", default=None, help="also write the fit JSON here")
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("plot")
    p.add_argument("--fit", required=True, help="the JSON of `fit --out`")
    p.add_argument("--generated", required=True, help="generator.json of `generate`")
    p.add_argument("--extrapolate-tokens", type=float, default=4.2e9, help="200M sentences x 21 tokens")
    p.add_argument("--png", required=True)
    args = parser.parse_args()
    if args.command == "plot":
        cmd_plot(args)
        return
    if not DATA.exists():
        sys.exit(f"{DATA} not found: the fit needs the real sample")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("more_ie").setLevel(logging.WARNING)
    if args.command == "fit":
        cmd_fit(args)
    else:
        cmd_generate(args)


if __name__ == "__main__":
    main()
