"""One training step of an XLM-R-large-shaped NER expert, fp32 against bf16 autocast (issue 22).

The paper's expert: XLM-R large (24 layers, hidden 1024, 16 heads, FFN 4096, a 250,002-word
vocabulary, 514 positions), a linear emission layer and this project's CRF
(``more_ie.experts.crf.LinearChainCRF``), at the authors' batch of 4 inputs of 512 subtokens.
The encoder is built from an ``XLMRobertaConfig`` with those sizes and random weights: nothing is
downloaded, and a step costs the same with any weights. A step is what ``experts/train.py`` does:
the encoder and emissions under autocast, the CRF's NLL in fp32 (emissions cast to float), the
backward pass, fused AdamW over every parameter (the word embeddings included, as the paper).

    python bench/xlmr_step_bench.py [--device auto|cpu|cuda] [--steps 3] [--batch 4] [--seq 512]
    python bench/xlmr_step_bench.py --layers 2 --hidden 128 --heads 2 --intermediate 256 --vocab 1000  # a check

Prints one row per precision with forward / backward / optimizer / step seconds and the ratio to
fp32 side by side, the peak memory, and with ``--json`` writes the rows. Memory for the full size
on a CPU: ~9 GB of weights, gradients and AdamW state, plus the activations of 4 x 512.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from more_ie.experts.crf import LinearChainCRF  # noqa: E402
from more_ie.utils.precision import autocast, grad_scaler, resolve_precision  # noqa: E402

XLMR_LARGE = {
    "layers": 24,
    "hidden": 1024,
    "heads": 16,
    "intermediate": 4096,
    "vocab": 250002,
    "positions": 514,
}


class Expert(torch.nn.Module):
    def __init__(self, args: argparse.Namespace):
        super().__init__()
        from transformers import XLMRobertaConfig, XLMRobertaModel

        config = XLMRobertaConfig(
            vocab_size=args.vocab,
            hidden_size=args.hidden,
            num_hidden_layers=args.layers,
            num_attention_heads=args.heads,
            intermediate_size=args.intermediate,
            max_position_embeddings=args.positions,
            type_vocab_size=1,
            layer_norm_eps=1e-5,
        )
        self.encoder = XLMRobertaModel(config, add_pooling_layer=False)
        self.emissions = torch.nn.Linear(args.hidden, args.labels)
        self.crf = LinearChainCRF(args.labels)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def measure(model: Expert, args: argparse.Namespace, device: torch.device, precision: str) -> dict:
    """Forward, backward and optimizer seconds per step over ``args.steps`` steps after warm-up."""
    vocab, batch, seq, words = args.vocab, args.batch, args.seq, args.words
    ids = torch.randint(5, vocab, (batch, seq), device=device)
    attention = torch.ones(batch, seq, dtype=torch.long, device=device)
    # the sentence's words sit at the start of the input (the retrieved contexts follow)
    starts = torch.arange(1, words + 1, device=device).expand(batch, words)
    mask = torch.ones(batch, words, dtype=torch.bool, device=device)
    tags = torch.randint(0, args.labels, (batch, words), device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-6, fused=True)
    scaler = grad_scaler(precision, device)
    times: dict[str, list[float]] = {"forward": [], "backward": [], "optimizer": [], "step": [], "cpu": []}
    for step in range(args.warmup + args.steps):
        _sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        with autocast(precision, device):
            hidden = model.encoder(input_ids=ids, attention_mask=attention).last_hidden_state
            index = starts.unsqueeze(-1).expand(-1, -1, hidden.size(-1))
            emissions = model.emissions(torch.gather(hidden, 1, index))
        loss = model.crf.nll(emissions.float(), tags, mask)  # the CRF in fp32, as in training
        _sync(device)
        t1 = time.perf_counter()
        scaler.scale(loss).backward()
        _sync(device)
        t2 = time.perf_counter()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        _sync(device)
        t3 = time.perf_counter()
        if step >= args.warmup:
            # process CPU time (all threads): on a shared CPU, CPU s / threads is what that many
            # otherwise idle cores would take, far less inflated by other jobs than the wall time
            for key, value in (
                ("forward", t1 - t0),
                ("backward", t2 - t1),
                ("optimizer", t3 - t2),
                ("step", t3 - t0),
                ("cpu", time.process_time() - c0),
            ):
                times[key].append(value)
        print(f"  {precision} step {step + 1}/{args.warmup + args.steps}: {t3 - t0:.2f} s", flush=True)
    row = {key: statistics.mean(values) for key, values in times.items()}
    row["step_sd"] = statistics.stdev(times["step"]) if len(times["step"]) > 1 else 0.0
    row["sentences_per_s"] = batch / row["step"]
    row["peak_memory_gb"] = _peak_memory_gb(device)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per precision")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=512, help="subtokens per input")
    parser.add_argument("--words", type=int, default=32, help="words (CRF positions) per input")
    parser.add_argument("--labels", type=int, default=9, help="BIO labels of 4 entity types")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    for key, value in XLMR_LARGE.items():
        parser.add_argument(f"--{key}", type=int, default=value, help=f"default: xlm-roberta-large's {value}")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    name = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # as the experts allow it (fp32 rows are TF32)
    torch.manual_seed(0)
    model = Expert(args).to(device).train()
    params = sum(p.numel() for p in model.parameters())
    machine = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} threads, {torch.backends.cpu.get_cpu_capability()}"
    )
    print(
        f"# {params / 1e6:.0f}M parameters ({args.layers} layers, hidden {args.hidden}, vocab {args.vocab}), "
        f"batch {args.batch} x {args.seq}, {args.words} words; {device}: {machine}; torch {torch.__version__}; "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    rows = {}
    for name in args.precisions:
        precision = resolve_precision(name, device)
        rows[name] = measure(model, args, device, precision)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
    base = rows.get("fp32")
    print(
        "\n| precision | forward s | backward s | optimizer s | step s (sd) | CPU s / thread | sentences/s "
        "| peak GB | vs fp32 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        ratio = f"{base['step'] / row['step']:.2f}x" if base else "-"  # fp32's step time / this one's
        print(
            f"| {name} | {row['forward']:.3f} | {row['backward']:.3f} | {row['optimizer']:.3f} | "
            f"{row['step']:.3f} ({row['step_sd']:.3f}) | {row['cpu'] / torch.get_num_threads():.3f} | "
            f"{row['sentences_per_s']:.2f} | {row['peak_memory_gb']:.1f} | "
            f"{ratio} |"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": vars(args) | {"json": str(args.json)},
                    "device": machine,
                    "params": params,
                    "rows": rows,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
