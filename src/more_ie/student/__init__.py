"""A retrieval-free student distilled from a MoE variant (issue 23).

The teacher is the variant's mixture of its two experts' distributions on the training split
(in-sample: the experts trained on those posts); the student is an expert of the same head types
that reads the sentence alone and trains on ``(1 - alpha) * gold + alpha * T^2 * KL(teacher ||
student)``. Names are imported lazily (PEP 562): the workflow imports :mod:`more_ie.student.settings`
while Snakemake builds the DAG, which must not pay for importing torch.
"""

from __future__ import annotations

from more_ie.lazy import lazy_exports

_EXPORTS = {
    "StudentSettings": "settings",
    "student_variant": "settings",
    "teacher_pair": "settings",
    "build_teacher": "teacher",
    "read_teacher": "teacher",
    "train_student": "train",
    "StudentTrainer": "train",
    "summarize_students": "summary",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
