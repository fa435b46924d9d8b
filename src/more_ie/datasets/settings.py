"""Dataset preparation's settings (import-light: prepare-dataset builds its flags from them).

The schema's ``datasets.<name>.label_map`` and ``no_relation_labels`` agree with
:class:`PrepareSettings` (tests/test_settings.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from more_ie.utils.settings import setting

# Spellings of "no relation" recognised by default, compared case-insensitively: MNRE writes
# ``None`` (forks and re-releases ``none``), NYT-style distantly supervised sets ``NA``, TACRED-
# style sets ``no_relation``. ``Other`` is left out on purpose: in some sets it is a real catch-all
# relation, and silently excluding it from scoring would hide errors; add it in the config if so.
DEFAULT_NO_RELATION_LABELS = ("None", "NA", "no_relation")


@dataclass(frozen=True)
class PrepareSettings:
    """Preparing one split: the single source of these defaults."""

    label_map: dict[str, str] = setting(
        {},
        "Entity-type renames, e.g. OTHER: MISC for Twitter-2015. Both sides are entity-type names "
        "(letters, digits, '_', '-', '.').",
        metavar="OLD=NEW",
    )
    no_relation_labels: list[str] = setting(
        list(DEFAULT_NO_RELATION_LABELS),
        'RE: the dataset\'s spelling(s) of "no relation", matched case-insensitively and renamed to '
        "None when the split is prepared (scores exclude None; a split without any is an error). The "
        "default covers MNRE (None/none), NYT-style NA and TACRED-style no_relation; add e.g. Other "
        "only where it means no relation.",
        metavar="LABEL",
    )
