"""Which experts a MoE variant combines: one pair per seed, and one gate per pair.

A variant is ``A+B`` with A and B any configured views. With seeds s_0..s_{n-1}:

- A != B (Text+Image, Text+None...): seed i of A with seed i of B, so that a pair never mixes
  two training runs that differ in more than the view;
- A == B (Text+Text, Image+Image): seed i with seed i+1, cyclically, so that the two experts of a
  pair are distinct runs of the same view (the paper's Text+Text). This needs two seeds at least.

The pair's seed (the first expert's, s_i) also seeds its gate and its dev 80/20 split.
"""

from __future__ import annotations

import re
from typing import Sequence

_EXPERT_NAME = re.compile(r"^(?P<view>.+)-s(?P<seed>-?\d+)$")


def parse_variant(variant: str) -> tuple[str, str]:
    """``"text+image"`` -> ``("text", "image")``; anything but two non-empty views is an error."""
    parts = variant.split("+")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"variant {variant!r}: expected VIEW+VIEW, e.g. text+image")
    return parts[0], parts[1]


def expert_name(view: str, seed: int) -> str:
    return f"{view}-s{seed}"


def expert_seed(name: str) -> int:
    """The seed in an expert name ``VIEW-sSEED``."""
    match = _EXPERT_NAME.match(name)
    if match is None:
        raise ValueError(f"expert name {name!r}: expected VIEW-sSEED, e.g. text-s1")
    return int(match.group("seed"))


def expert_view(name: str) -> str:
    match = _EXPERT_NAME.match(name)
    if match is None:
        raise ValueError(f"expert name {name!r}: expected VIEW-sSEED, e.g. text-s1")
    return match.group("view")


HEADLINE_VARIANT = "text+image"


def headline_variant(variants: Sequence[str]) -> str:
    """The variant ``moe_f1.json`` reports as its headline MoE (``moe.variant``): Text+Image, the
    paper's, when configured, else the first. The student stage takes the same default teacher, and
    needs it while Snakemake builds the DAG (before any ``moe_f1.json`` exists), hence one rule here."""
    if not variants:
        raise ValueError("no MoE variants")
    return HEADLINE_VARIANT if HEADLINE_VARIANT in variants else variants[0]


def variant_pairs(variant: str, seeds: Sequence[int]) -> list[tuple[str, str]]:
    """The expert pairs of ``variant`` over ``seeds`` (see the module docstring)."""
    a, b = parse_variant(variant)
    seeds = list(seeds)
    if not seeds:
        raise ValueError(f"variant {variant!r}: no seeds")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"variant {variant!r}: repeated seeds in {seeds}")
    if a != b:
        return [(expert_name(a, s), expert_name(b, s)) for s in seeds]
    if len(seeds) < 2:
        raise ValueError(f"variant {variant!r} pairs two seeds of one view; got only {seeds}")
    n = len(seeds)
    return [(expert_name(a, seeds[i]), expert_name(a, seeds[(i + 1) % n])) for i in range(n)]


def disjoint_pairs(pairs: Sequence[Sequence[str]]) -> list[int]:
    """Indices of the pairs, in order, that share no expert with an earlier kept pair.

    The pair scores of an ``A+A`` variant are not independent: its cyclic pairs put every expert
    in two pairs. A test that treats pair scores as independent draws must use pairs that share
    no expert: text+text over seeds 1..4 keeps (s1, s2) and (s3, s4). ``A != B`` pairs share
    none, so all are kept. Taken from the pairs themselves, not from the variant's name.
    """
    used: set[str] = set()
    kept = []
    for i, pair in enumerate(pairs):
        if used.isdisjoint(pair):
            kept.append(i)
            used.update(pair)
    return kept
