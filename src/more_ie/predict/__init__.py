"""Apply a trained run to new posts: ``MoRe.load(run_dir, dataset).predict(posts)``, the
``predict`` command, its retrieval-free fast path and the case-study page.

Names are imported lazily (PEP 562) so that registering the command does not import torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MoRe", "Post", "read_posts", "RunLayout", "RunError", "load_gate"]
_WHERE = {
    "MoRe": "api",
    "Post": "io",
    "read_posts": "io",
    "RunLayout": "layout",
    "RunError": "layout",
    "load_gate": "layout",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"more_ie.predict.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
