"""The demo world's seed and size settings: the demo-world command builds its flags from them."""

from __future__ import annotations

from dataclasses import dataclass

from more_ie.utils.settings import setting

# The schema's demo.seed agrees (tests/test_settings.py).
DEMO_SEED = 13


@dataclass(frozen=True)
class DemoSeed:
    """Which made-up world: the rule passes it as --seed (apart from DemoScale's --settings)."""

    seed: int = setting(DEMO_SEED, "Seed of the deterministic generator.")


@dataclass(frozen=True)
class DemoScale:
    """The demo world's size: the single source of its defaults (the schema test checks it)."""

    per_type: int = setting(
        100,
        "Entities of each type (PER/LOC/ORG/MISC): half for train posts, a quarter each for dev and test.",
    )
    ner_sizes: tuple[int, int, int] = setting(
        (360, 80, 80), "Posts in the demo MNER train/valid/test splits."
    )
    re_sizes: tuple[int, int, int] = setting(
        (360, 80, 80), "Lines (one entity pair per post) in the demo MNRE train/val/test splits."
    )
    pages_per_stream: int = setting(
        10, "Pages per bz2 stream of the demo multistream dump (real dumps use 100)."
    )
    image_size: int = setting(32, "Side of the generated images in pixels.")

    def validate(self) -> None:
        if self.per_type < 8:
            raise ValueError(
                f"demo per_type must be at least 8 (every pool needs every type), got {self.per_type}"
            )
        if min(self.ner_sizes + self.re_sizes) < 1:
            raise ValueError(f"demo ner_sizes / re_sizes need at least one post per split: {self}")
        if self.pages_per_stream < 1 or self.image_size < 16:
            raise ValueError(f"demo pages_per_stream must be >= 1 and image_size >= 16: {self}")
