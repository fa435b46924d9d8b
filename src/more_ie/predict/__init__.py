"""Apply a trained run to new posts: ``MoRe.load(run_dir, dataset).predict(posts)``, the
``predict`` command, its retrieval-free fast path and the case-study page.

Names are imported lazily (PEP 562) so that registering the command does not import torch.
"""

from __future__ import annotations

from more_ie.lazy import lazy_exports

_EXPORTS = {
    "MoRe": "api",
    "Post": "io",
    "read_posts": "io",
    "RunLayout": "layout",
    "RunError": "layout",
    "load_gate": "layout",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
