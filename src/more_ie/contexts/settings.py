"""An imported context view's settings (import-light: the commands build their flags from them)."""

from __future__ import annotations

from dataclasses import dataclass

from more_ie.utils.settings import setting

FORMATS = ("adaseq_eos", "per_image", "jsonl")


@dataclass
class ImportSettings:
    """How one imported view's file is read and joined to a split (the schema's
    ``datasets.<name>.contexts.<view>`` block names them the same; tests/test_settings.py checks it)."""

    format: str = setting(
        "adaseq_eos",
        "adaseq_eos: AdaSeq CoNLL, the sentence, a `<EOS>` line, then the context (the MoRe authors' "
        "and PGIM's files), aligned by order and verified token by token; per_image: one text per "
        "image (`IMGID.jpg :caption` lines or JSONL {image, text}), joined by image name; jsonl: "
        '{"sample_id" or "line": ..., "contexts": [...]} per sample.',
        choices=list(FORMATS),
    )
    max_missing_share: float = setting(
        0.01,
        "Largest share of a split's samples that may get no context (a file short of blocks, unmatched "
        "ids or images) before it is an error; per_image counts only samples that have an image.",
    )
    source: str = setting(
        "", "Where the texts come from (a paper, a model, a commit): shown in the summary and the report."
    )


@dataclass
class RandomContextSettings:
    """The ``random_<view>`` ablation of an imported view: each sample gets another sample's contexts."""

    seed: int = setting(0, "Seed of the random-retrieval caches (Table 5 ablation).")
