"""``python -m more_ie predict``: the arguments and the command (registered by ``more_ie.cli``).

Exit status: 0 when every post was predicted; 2 when some input lines were malformed (each is
logged with its line number, and every other post is still predicted and written); 1 when
nothing could be done (no such run, an empty input file, every line malformed).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from more_ie.predict.settings import BatchSettings, CaseStudySettings, PredictSettings
from more_ie.utils.settings import add_dataclass_arguments, settings_from_args

logger = logging.getLogger(__name__)

EXIT_SOME_LINES_FAILED = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    run = parser.add_argument_group("the trained run")
    run.add_argument("--run-dir", default="results", help="the run folder Snakemake wrote (default: results)")
    run.add_argument("--dataset", required=True, help="the dataset the run was trained on, e.g. twitter2017")
    io = parser.add_argument_group("posts")
    io.add_argument("--input", help="JSONL of posts {id, text|tokens, image?, head?, tail?}")
    io.add_argument(
        "--images-dir",
        default=None,
        help="relative image paths are under this folder (default: the input file's folder)",
    )
    io.add_argument("--out", default="-", help="JSONL of predictions (default: stdout)")
    io.add_argument(
        "--case-study",
        type=int,
        nargs="?",
        const=CaseStudySettings.posts,
        default=None,
        metavar="N",
        help="instead of --input: N seeded test posts of the dataset (default N: "
        f"{CaseStudySettings.posts}), as an HTML page written to --out",
    )
    add_dataclass_arguments(parser, PredictSettings)
    add_dataclass_arguments(parser, BatchSettings)
    add_dataclass_arguments(parser, CaseStudySettings, skip=("posts",))


def run(args: argparse.Namespace) -> None:
    import torch
    from tqdm import tqdm

    from more_ie.predict.api import MoRe
    from more_ie.predict.io import read_posts, write_jsonl
    from more_ie.utils import atomic_open

    if (args.input is None) == (args.case_study is None):
        raise ValueError(
            "give --input FILE (predictions) or --case-study N (the HTML page), not both or neither"
        )
    settings = settings_from_args(PredictSettings, args)
    batching = settings_from_args(BatchSettings, args)
    if batching.batch_size < 1 or batching.chunk < 1:
        raise ValueError("--batch-size and --chunk must be at least 1")
    torch.set_num_threads(settings.threads)
    if args.case_study is not None:
        from more_ie.predict.case_study import write_case_study

        if args.out == "-":
            raise ValueError("--case-study writes an HTML page: name it with --out")
        case = settings_from_args(CaseStudySettings, args, posts=args.case_study)
        write_case_study(args.run_dir, args.dataset, args.out, case, settings)
        return
    posts, errors = read_posts(args.input, args.images_dir)
    if not posts:
        raise ValueError(
            f"{args.input}: none of its {len(errors)} lines could be read (see the errors above)"
        )
    model = MoRe.load(args.run_dir, args.dataset, settings)
    start = time.perf_counter()

    def predictions():  # type: ignore[no-untyped-def]
        # tqdm draws only on a terminal (disable=None); the log gets one summary line at the end
        with tqdm(total=len(posts), unit="post", desc="predict", disable=None, file=sys.stderr) as bar:
            for first in range(0, len(posts), batching.chunk):
                chunk = posts[first : first + batching.chunk]
                yield from model.predict(chunk, batch_size=batching.batch_size)
                bar.update(len(chunk))

    if args.out == "-":
        written = write_jsonl(predictions(), sys.stdout)
        sys.stdout.flush()
    else:
        with atomic_open(args.out) as handle:
            written = write_jsonl(predictions(), handle)
    elapsed = time.perf_counter() - start
    logger.info(
        "predicted %d posts in %.1fs (%.1f posts/s; %s); stage seconds %s%s",
        written,
        elapsed,
        written / max(elapsed, 1e-9),
        model.mode,
        model.timings.as_dict(),
        f"; wrote {args.out}" if args.out != "-" else "",
    )
    if errors:
        logger.error(
            "%s: %d malformed lines were skipped (line numbers above); the other %d posts were predicted",
            args.input,
            len(errors),
            written,
        )
        raise SystemExit(EXIT_SOME_LINES_FAILED)
