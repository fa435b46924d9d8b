"""``python -m more_ie <command>``: one command per pipeline stage.

The Snakemake rules call exactly these commands, so every stage also runs by hand. Each command
takes explicit paths and settings (no config lookup), writes its outputs atomically, and logs to
stderr and, with ``--log``, to a file.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence

from more_ie import __version__
from more_ie.utils import setup_logging

logger = logging.getLogger("more_ie")

Handler = Callable[[argparse.Namespace], None]
COMMANDS: dict[str, Handler] = {}


def _optional_int(value: str) -> int | None:
    return None if value.lower() in ("none", "null", "") else int(value)


def _optional_path(value: str) -> str | None:
    return None if value.lower() in ("none", "null", "") else value


# ---------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> None:
    from more_ie.config import load_config, missing_local_paths

    config = load_config(args.config)
    for missing in missing_local_paths(config):
        logger.warning("%s: not found (needed by the stages that read it): %s", args.config, missing)
    logger.info("%s: valid", args.config)


def cmd_demo_world(args: argparse.Namespace) -> None:
    from more_ie.demo import DemoScale, generate_demo_world

    scale = DemoScale(pages_per_stream=args.pages_per_stream, image_size=args.image_size,
                      ner_sizes=tuple(args.ner_sizes), re_sizes=tuple(args.re_sizes))
    manifest = generate_demo_world(Path(args.out), seed=args.seed, scale=scale)
    logger.info("demo world (MADE-UP data) written to %s: %s", args.out, manifest.get("counts", manifest))


def cmd_download(args: argparse.Namespace) -> None:
    from more_ie.download import download_file

    download_file(args.url, args.out, sha256=args.sha256)


def cmd_corpus_shard(args: argparse.Namespace) -> None:
    if args.kind == "dump":
        from more_ie.wiki import ShardOptions, build_dump_shard

        build_dump_shard(args.source, args.index, args.shard, args.shards, args.out,
                         ShardOptions(max_page_chars=args.max_page_chars))
    else:
        from more_ie.wiki import DocFields, build_docs_shard

        fields = DocFields(title=args.title_field, text=args.text_field, images=args.images_field)
        build_docs_shard(args.source, args.shard, args.shards, args.out, fields)


def cmd_redirects(args: argparse.Namespace) -> None:
    from more_ie.wiki import build_redirects

    build_redirects(args.shard_files, args.out)


def cmd_text_kc(args: argparse.Namespace) -> None:
    from more_ie.wiki import KcOptions, build_text_kc

    options = KcOptions(include_disambiguation=args.include_disambiguation, min_sentence_chars=args.min_sentence_chars)
    build_text_kc(args.shard_file, args.redirects, args.shard, args.out, options)


def cmd_image_kc(args: argparse.Namespace) -> None:
    from more_ie.wiki import ImageKcOptions, build_image_kc

    options = ImageKcOptions(
        include_disambiguation=args.include_disambiguation,
        upload_base=args.upload_base,
        thumb_width=args.thumb_width,
    )
    build_image_kc(args.shard_files, args.redirects, args.out, options)


def cmd_prepare_dataset(args: argparse.Namespace) -> None:
    from more_ie.datasets import normalize_split

    label_map = dict(item.split("=", 1) for item in args.label_map)
    normalize_split(args.source, args.out, args.format, label_map)


def cmd_check_images(args: argparse.Namespace) -> None:
    from more_ie.datasets import missing_images
    from more_ie.utils import atomic_open

    n_samples, missing = missing_images(args.splits, args.images_dir)
    if missing:
        logger.warning(
            "%d of the images named by %s are not in %s (e.g. %s); the image view has no retrieval for them",
            len(missing), ", ".join(args.splits), args.images_dir, ", ".join(missing[:3]),
        )
    else:
        logger.info("all images named by %d samples are present in %s", n_samples, args.images_dir)
    with atomic_open(args.out) as handle:
        handle.write("image\n")
        handle.writelines(f"{name}\n" for name in missing)


def cmd_bm25_index(args: argparse.Namespace) -> None:
    from more_ie.search.bm25 import build_index

    build_index(args.kc_shards, args.out, threads=args.threads)


def cmd_bm25_merge(args: argparse.Namespace) -> None:
    from more_ie.search.bm25 import merge_indexes

    merge_indexes(args.indexes, args.out)


def cmd_retrieve_text(args: argparse.Namespace) -> None:
    from more_ie.search.bm25 import Bm25Settings, retrieve_text

    settings = Bm25Settings(k=args.k, k1=args.k1, b=args.b, threads=args.threads)
    retrieve_text(args.split, args.index, args.kc_dir, args.out, settings)


def cmd_retrieve_random(args: argparse.Namespace) -> None:
    from more_ie.search.random_kc import retrieve_random

    retrieve_random(args.split, args.kc, args.out, k=args.k, seed=args.seed, view=args.view)


def _clip_spec(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from more_ie.search.clip import ClipSpec

    return ClipSpec(arch=args.clip_arch, pretrained=args.clip_pretrained, device=args.device)


def cmd_download_images(args: argparse.Namespace) -> None:
    from more_ie.download import DownloadSettings, download_images, update_local_paths

    download_images(args.image_kc, args.images_dir, args.manifest, DownloadSettings(max_in_flight=args.max_in_flight))
    update_local_paths(args.image_kc, args.manifest, args.out)


def cmd_clip_encode_kc(args: argparse.Namespace) -> None:
    from more_ie.search.image_index import encode_kc_images

    encode_kc_images(args.image_kc, args.shard, args.shards, args.emb_out, args.ids_out, _clip_spec(args),
                     batch_size=args.batch_size, workers=args.workers)


def cmd_image_index(args: argparse.Namespace) -> None:
    from more_ie.search.image_index import build_image_index

    n = len(args.inputs) // 2
    build_image_index(args.inputs[:n], args.inputs[n:], args.factory, args.out, args.ids_out)


def cmd_retrieve_image(args: argparse.Namespace) -> None:
    from more_ie.search.image_index import retrieve_images

    retrieve_images(args.split, args.images_dir, args.index, args.ids, args.image_kc, args.out, _clip_spec(args),
                    k=args.k, batch_size=args.batch_size, workers=args.workers)


def cmd_train_expert(args: argparse.Namespace) -> None:
    import torch

    from more_ie.experts.train import ExpertTrainer, TrainConfig

    torch.set_num_threads(args.threads)  # the rule's `threads`: no oversubscription beside other jobs
    config = TrainConfig(
        encoder=args.encoder, max_subtokens=args.max_subtokens, lr=args.lr, head_lr=args.head_lr,
        batch_size=args.batch_size, grad_accum=args.grad_accum, epochs=args.epochs, cva_weight=args.cva_weight,
        seed=args.seed, device=args.device,
    )
    splits = {"train": Path(args.train), "dev": Path(args.dev), "test": Path(args.test)}
    retrieval = {name: (Path(p) if p else None) for name, p in
                 (("train", args.train_retrieval), ("dev", args.dev_retrieval), ("test", args.test_retrieval))}
    ExpertTrainer(args.task, args.view, config).run(splits, retrieval, Path(args.out_dir))


def cmd_gate_features(args: argparse.Namespace) -> None:
    from more_ie.moe.features import compute_gate_features

    compute_gate_features(args.split, args.images_dir, args.out, _clip_spec(args), args.batch_size, args.workers)


def _pairs(items: Sequence[str], what: str) -> dict[str, str]:
    try:
        return dict(item.split("=", 1) for item in items)
    except ValueError as err:
        raise ValueError(f"{what}: expected NAME=VALUE items, got {list(items)}") from err


def cmd_moe(args: argparse.Namespace) -> None:
    from more_ie.moe import MoeConfig, run_moe

    experts = {name: Path(folder) for name, folder in _pairs(args.expert, "--expert").items()}
    variants = {name: tuple(pair.split(",")) for name, pair in _pairs(args.variant, "--variant").items()}
    for name, pair in variants.items():
        if len(pair) != 2 or not set(pair) <= set(experts):
            raise ValueError(f"--variant {name}: needs two of the --expert names {sorted(experts)}, got {pair}")
    cfg = MoeConfig(gate=args.gate, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    run_moe(args.task, experts, variants, {"dev": Path(args.dev), "test": Path(args.test)},
            {"dev": Path(args.dev_features), "test": Path(args.test_features)}, Path(args.out), cfg,
            args.config_hash, args.dataset)


def cmd_summary(args: argparse.Namespace) -> None:
    from more_ie.moe.summary import write_summary

    write_summary(args.results, args.csv, args.md, args.html, args.plots_dir)


# ---------------------------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------------------------


def _add(sub: argparse._SubParsersAction, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--log", help="also write the log to this file")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    COMMANDS[name] = handler
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="more-ie", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"more-ie {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _add(sub, "check-config", cmd_check_config, "Validate a config file against the schema.")
    p.add_argument("config")

    p = _add(sub, "demo-world", cmd_demo_world, "Write the deterministic offline demo world (made-up data).")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--pages-per-stream", type=int, default=10, help="pages per bz2 stream of the dump")
    p.add_argument("--image-size", type=int, default=64, help="side of generated images (px)")
    p.add_argument("--ner-sizes", type=int, nargs=3, default=[240, 60, 60], help="MNER train/valid/test tweets")
    p.add_argument("--re-sizes", type=int, nargs=3, default=[300, 80, 80], help="MNRE train/val/test lines")

    p = _add(sub, "download", cmd_download, "Download one file with resume, retries and a checksum.")
    p.add_argument("--url", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--sha256", type=_optional_path, default=None)

    p = _add(sub, "corpus-shard", cmd_corpus_shard, "Parse one shard of a knowledge source into page rows.")
    p.add_argument("--kind", choices=["dump", "docs"], default="dump")
    p.add_argument("--source", required=True, help="dump (.xml, .xml.bz2, multistream .bz2) or document file")
    p.add_argument("--index", type=_optional_path, default=None, help="multistream index (.txt or .txt.bz2)")
    p.add_argument("--shard", type=int, required=True, help="0-based shard number")
    p.add_argument("--shards", type=int, required=True, help="number of shards")
    p.add_argument("--out", required=True, help="output Parquet file")
    p.add_argument("--max-page-chars", type=int, default=5_000_000, help="skip (and count) larger pages")
    p.add_argument("--title-field", default="title", help="docs: title field")
    p.add_argument("--text-field", default="text", help="docs: text field")
    p.add_argument("--images-field", default="images", help="docs: image list field")

    p = _add(sub, "redirects", cmd_redirects, "Collect the redirect map from all corpus shards.")
    p.add_argument("--out", required=True)
    p.add_argument("shard_files", nargs="+")

    p = _add(sub, "text-kc", cmd_text_kc, "Build one shard of the text KC (sentence -> paragraph).")
    p.add_argument("--shard-file", required=True)
    p.add_argument("--redirects", required=True)
    p.add_argument("--shard", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--include-disambiguation", action="store_true")
    p.add_argument("--min-sentence-chars", type=int, default=10)

    p = _add(sub, "image-kc", cmd_image_kc, "Build the image KC (image -> title + introduction).")
    p.add_argument("--redirects", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--include-disambiguation", action="store_true")
    p.add_argument("--upload-base", default="https://upload.wikimedia.org/wikipedia/commons")
    p.add_argument("--thumb-width", type=_optional_int, default=320, help="thumbnail width, or 'none' for originals")
    p.add_argument("shard_files", nargs="+")
    p = _add(sub, "prepare-dataset", cmd_prepare_dataset, "Normalize one dataset split to Parquet.")
    p.add_argument("--source", required=True, help="the split's text file")
    p.add_argument("--format", required=True, choices=["conll_imgid", "mnre_dict"])
    p.add_argument("--label-map", nargs="*", default=[], metavar="OLD=NEW", help="entity-type renames")
    p.add_argument("--out", required=True)

    p = _add(sub, "check-images", cmd_check_images, "List the images a dataset names but the images folder lacks.")
    p.add_argument("--images-dir", type=_optional_path, default=None)
    p.add_argument("--out", required=True, help="TSV of missing image names")
    p.add_argument("splits", nargs="+", help="normalized split files")
    p = _add(sub, "bm25-index", cmd_bm25_index, "Build a Lucene BM25 index over text-KC sentence keys.")
    p.add_argument("--out", required=True, help="index folder")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("kc_shards", nargs="+", help="text-KC shard files")

    p = _add(sub, "bm25-merge", cmd_bm25_merge, "Merge shard indexes into one (exact global BM25 statistics).")
    p.add_argument("--out", required=True)
    p.add_argument("indexes", nargs="+")

    p = _add(sub, "retrieve-text", cmd_retrieve_text, "Top-k BM25 retrieval for one dataset split.")
    p.add_argument("--split", required=True, help="normalized split (Parquet)")
    p.add_argument("--index", required=True)
    p.add_argument("--kc-dir", required=True, help="folder of the text-KC shards")
    p.add_argument("--out", required=True)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--k1", type=float, default=0.9)
    p.add_argument("--b", type=float, default=0.4)
    p.add_argument("--threads", type=int, default=1)

    p = _add(sub, "retrieve-random", cmd_retrieve_random, "Random KC rows per sample (Table 5 ablation).")
    p.add_argument("--split", required=True)
    p.add_argument("--view", required=True, choices=["random_text", "random_image"])
    p.add_argument("--out", required=True)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("kc", nargs="+", help="text-KC shards (random_text) or the image KC (random_image)")
    p = _add(sub, "download-images", cmd_download_images, "Fetch the image KC's files (resumable, failures recorded).")
    p.add_argument("--image-kc", required=True)
    p.add_argument("--images-dir", required=True, help="folder the files are saved in (kept across runs)")
    p.add_argument("--manifest", required=True, help="per-file outcome table (Parquet)")
    p.add_argument("--out", required=True, help="the image KC with local_path filled in")
    p.add_argument("--max-in-flight", type=int, default=8, help="cap on concurrent requests")

    def clip_args(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--clip-arch", default="ViT-B-32")
        parser.add_argument("--clip-pretrained", type=_optional_path, default="openai",
                            help="pretrained tag, checkpoint path, or 'none' (seeded random weights: demo only)")
        parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument("--workers", type=int, default=2, help="image decoding processes")

    p = _add(sub, "clip-encode-kc", cmd_clip_encode_kc, "CLIP-encode one shard of the image KC.")
    p.add_argument("--image-kc", required=True, help="image KC with local_path (from download-images)")
    p.add_argument("--shard", type=int, required=True)
    p.add_argument("--shards", type=int, required=True)
    p.add_argument("--emb-out", required=True)
    p.add_argument("--ids-out", required=True)
    clip_args(p)

    p = _add(sub, "image-index", cmd_image_index, "Build the Faiss inner-product index over CLIP shards.")
    p.add_argument("--factory", default="Flat", help="Faiss index-factory string")
    p.add_argument("--out", required=True)
    p.add_argument("--ids-out", required=True)
    p.add_argument("inputs", nargs="+", help="the .npy shards, then the same number of ids Parquet shards")

    p = _add(sub, "retrieve-image", cmd_retrieve_image, "Top-k image-KC rows for each dataset image.")
    p.add_argument("--split", required=True)
    p.add_argument("--images-dir", type=_optional_path, default=None)
    p.add_argument("--index", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--image-kc", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--k", type=int, default=10)
    clip_args(p)
    p = _add(sub, "train-expert", cmd_train_expert, "Train one expert (dataset x view x seed) and export marginals.")
    p.add_argument("--task", required=True, choices=["ner", "re"])
    p.add_argument("--view", required=True, choices=["none", "text", "image", "random_text", "random_image"])
    for split in ("train", "dev", "test"):
        p.add_argument(f"--{split}", required=True, help=f"normalized {split} split")
        p.add_argument(f"--{split}-retrieval", type=_optional_path, default=None, help=f"{split} retrieval cache")
    p.add_argument("--out-dir", required=True, help="gets model/, metrics.json, {dev,test}.marginals.parquet")
    p.add_argument("--encoder", default="xlm-roberta-large", help="HF name, local folder or model package")
    p.add_argument("--max-subtokens", type=int, default=512)
    p.add_argument("--lr", type=float, default=5e-6, help="encoder learning rate")
    p.add_argument("--head-lr", type=float, default=5e-3, help="emission/CRF/RE-head learning rate")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--cva-weight", type=float, default=1.0, help="cross-view alignment KL weight")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch")

    p = _add(sub, "gate-features", cmd_gate_features, "CLIP text and image features of each sample (MoE gate input).")
    p.add_argument("--split", required=True)
    p.add_argument("--images-dir", type=_optional_path, default=None)
    p.add_argument("--out", required=True)
    clip_args(p)

    p = _add(sub, "moe", cmd_moe, "Train the gate over frozen experts; write moe_f1.json.")
    p.add_argument("--task", required=True, choices=["ner", "re"])
    p.add_argument("--dataset", required=True)
    p.add_argument("--expert", nargs="+", required=True, metavar="NAME=DIR", help="e.g. text-s1=results/x/experts/text-s1")
    p.add_argument("--variant", nargs="+", required=True, metavar="NAME=A,B", help="e.g. text+image=text-s1,image-s1")
    p.add_argument("--dev", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--dev-features", required=True)
    p.add_argument("--test-features", required=True)
    p.add_argument("--gate", default="per_label", choices=["per_label", "scalar"])
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config-hash", default="unknown", help="hash of the config this result depends on")
    p.add_argument("--out", required=True)

    p = _add(sub, "summary", cmd_summary, "The paper's Tables 2-6 across datasets, and the report's plots.")
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)
    p.add_argument("--html", required=True)
    p.add_argument("--plots-dir", required=True)
    p.add_argument("results", nargs="+", help="moe_f1.json files")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log, logging.DEBUG if args.verbose else logging.INFO)
    try:
        COMMANDS[args.command](args)
    except (ValueError, OSError, RuntimeError) as err:
        # Known failure kinds carry a message naming the file/line/key; show it without a traceback
        # unless --verbose asks for one.
        logger.error("%s failed: %s", args.command, err, exc_info=args.verbose)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
