"""``MoRe.load(run_dir, dataset).predict(posts)``: a trained run applied to new posts.

Per batch of posts: the images are decoded and CLIP-encoded once (image retrieval and the gate
share the embedding), BM25 retrieves from the text KC, each expert of the chosen pair reads the
sentence with its view's retrieved values, the gate mixes the two experts' distributions (CRF
marginals for NER, class probabilities for RE) exactly as the MoE stage does, and the mixture is
decoded: NER by the run's ``moe.decode`` (the decoder its MoE and average pooling were scored
with: constrained BIO decoding, or the paper's per-token argmax; a manifest without the key is an
older run, decoded by argmax) and spans are read with the seqeval-compatible reader; an entity's
confidence is the mean mixture probability of its decoded tags.

``no_retrieval=True`` is the fast path: one CVA-trained expert reading the sentence alone (its
sentence-alone view, scored as ``test_alone`` in its ``metrics.json``); no BM25, no CLIP, no
gate. NER then decodes with Viterbi, as the expert's own scores do. ``student=True`` is the same
fast path with the distilled student (``{dataset}/student/{variant}-s{seed}/model``,
:mod:`more_ie.student`): a model trained on the sentence alone to match the MoE's mixture.

A post whose image is missing or undecodable gets no image retrieval and a zero image feature
with ``has_image = 0``, the same treatment the training stages gave such posts, so it is
predicted from the text view; ``image.status`` records it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from more_ie.moe.gate import average, mix
from more_ie.predict.experts import ExpertRunner, Item, Output, resolve_device
from more_ie.predict.features import GateFeaturizer
from more_ie.predict.io import Post, post_from_record
from more_ie.predict.layout import RETRIEVAL_VIEWS, RunError, RunLayout, SavedGate, imported_views
from more_ie.predict.records import PostBatch, assemble_records, decoded_path, entity_records
from more_ie.predict.retrieval import Hit, ImageRetriever, TextRetriever, clip_spec_of, load_images
from more_ie.predict.selection import ALONE_MODES, select_models
from more_ie.predict.settings import BatchSettings, PredictSettings
from more_ie.utils.precision import setup_precision

logger = logging.getLogger(__name__)


@dataclass
class Timings:
    """Seconds spent per stage over all ``predict`` calls (the benchmark's time shares)."""

    retrieval: float = 0.0  # image decoding, CLIP image encoding, Faiss, BM25, KC rows
    experts: float = 0.0  # input building, encoder forward, CRF marginals / softmax, Viterbi
    gate: float = 0.0  # CLIP text feature, gate, mixing
    decode: float = 0.0  # spans, confidences, output records
    posts: int = 0

    def as_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


class MoRe:
    def __init__(
        self,
        layout: RunLayout,
        experts: list[ExpertRunner],
        gate: SavedGate | None,
        mode: str,
        variant: str | None,
        device: torch.device,
        threads: int,
        ner: "MoRe | None" = None,
        precision: str = "auto",
    ):
        self.layout, self.experts, self.gate, self.mode, self.variant = layout, experts, gate, mode, variant
        self.device, self.ner, self.precision = device, ner, precision
        self.task = layout.task
        self.decode = layout.decode() if self.task == "ner" else "argmax"  # RE: argmax over relations
        self.labels = experts[0].labels
        for runner in experts[1:]:
            if runner.labels != self.labels:
                raise RunError(f"experts {experts[0].name} and {runner.name} have different label sets")
        if gate is not None and gate.labels != self.labels:
            raise RunError(f"{gate.folder}: gate labels {gate.labels} differ from the experts' {self.labels}")
        views = {r.view for r in experts} if mode not in ALONE_MODES else set()
        # imported views cannot be computed for a new post: their texts come with the post
        sources = layout.manifest.get("imported_views", {})
        self.imported = {v: sources[v] for v in sorted(views & imported_views(layout))}
        self.views = sorted(views & (set(RETRIEVAL_VIEWS) | set(self.imported)))
        self.text = TextRetriever(layout, threads) if "text" in views else None
        self.images = ImageRetriever(layout) if "image" in views else None
        spec = gate.feature_spec if gate is not None else None
        clip_in_spec = spec is None or any(
            str(spec.get(k) or "").startswith("clip:") for k in ("text", "image")
        )
        self.clip = None
        if self.images is not None or (gate is not None and clip_in_spec):
            from more_ie.search.clip import ClipEncoder

            self.clip = ClipEncoder(clip_spec_of(layout, str(device), precision))
        self.featurizer = (
            None
            if gate is None
            else GateFeaturizer(spec, self.clip, gate.gate.linear.in_features, str(gate.folder))
        )
        # image embeddings feed image retrieval and, when the gate takes them, the gate
        self.encode_images = self.images is not None or (
            self.featurizer is not None and self.featurizer.uses_images
        )
        self.timings = Timings()

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        run_dir: str | Path = "results",
        dataset: str | None = None,
        settings: PredictSettings | None = None,
        **overrides: Any,
    ) -> "MoRe":
        """Everything a trained run left behind for ``dataset`` (see :mod:`more_ie.predict.layout`).

        ``settings`` (or keywords naming its fields, e.g. ``variant="text+image"``): see
        :class:`more_ie.predict.settings.PredictSettings`. ``mixing``: ``moe`` (the saved gate of
        ``variant`` / ``pair``) or ``average`` (average pooling of the pair, no gate).
        ``no_retrieval``: the sentence-alone view of ``expert`` (default: the pair's first expert
        that has a retrieval view). ``student``: the distilled student of ``variant`` (default: the
        one variant with students, else the headline) and ``student_seed`` (default: the lowest).
        ``ner_dataset``: for RE posts without head/tail, the NER dataset (same run) whose predicted
        entities are paired.
        """
        chosen = replace(settings or PredictSettings(), **overrides)
        no_retrieval, device, threads = chosen.no_retrieval, chosen.device, chosen.threads
        ner_dataset = chosen.ner_dataset
        if dataset is None:
            raise RunError("name the dataset of the trained run (e.g. demo_mner)")
        layout = RunLayout.open(run_dir, dataset)
        torch_device = resolve_device(device)
        precision = setup_precision(chosen.precision, torch_device, "predict (experts and CLIP)")
        selected = select_models(layout, chosen)
        mode, names = selected.mode, selected.names
        alone = mode in ALONE_MODES
        runners = [
            ExpertRunner(layout, n, torch_device, alone=alone, folder=selected.folder, precision=precision)
            for n in names
        ]
        ner = None
        if ner_dataset is not None:
            if layout.task != "re":
                raise RunError(f"ner_dataset is for RE runs; {dataset} is {layout.task}")
            ner = cls.load(
                run_dir,
                ner_dataset,
                device=device,
                threads=threads,
                precision=chosen.precision,
                no_retrieval=no_retrieval,
                mixing=chosen.mixing,
                student=chosen.student,
            )  # the NER run's own headline variant and first pair (or its student)
            if ner.task != "ner":
                raise RunError(f"{ner_dataset} is not an NER dataset")
        logger.info(
            "MoRe %s/%s: %s of %s%s on %s",
            run_dir,
            dataset,
            mode,
            ", ".join(names),
            f" (variant {selected.variant}, pair {chosen.pair})"
            if not alone
            else " (sentence alone, no retrieval)",
            torch_device,
        )
        return cls(
            layout,
            runners,
            selected.gate,
            mode,
            selected.variant if mode != "no_retrieval" else None,  # a student's: the variant that taught it
            torch_device,
            threads,
            ner,
            precision,
        )

    def describe(self) -> dict:
        return {
            "dataset": self.layout.dataset,
            "task": self.task,
            "mode": self.mode,
            "variant": self.variant,
            "decode": self.decode if self.mode not in ALONE_MODES else "viterbi",
            "experts": [r.name for r in self.experts],
            "views": self.views,
        } | (
            {
                "student": "distilled from the MoE of this variant; it reads the sentence alone: no "
                "retrieval, no gate, one model (its teacher was the mixture on train, in-sample)"
            }
            if self.mode == "student"
            else {}
        )

    # -- prediction ------------------------------------------------------------------------------
    def predict(
        self, posts: Sequence[Post | dict], batch_size: int = BatchSettings.batch_size, details: bool = False
    ) -> list[dict]:
        """One output record per post, in order (see ``predict/io.py`` for the input fields)."""
        parsed = [p if isinstance(p, Post) else post_from_record(p) for p in posts]
        if not parsed:
            return []
        if self.task == "re" and self.ner is not None:
            self._pairs_from_ner(parsed, batch_size)
        elif self.task == "re":
            bare = [p.id for p in parsed if not p.pairs]
            if bare:
                raise ValueError(
                    f"RE posts {bare[:5]} have no head/tail (or pairs); give them, or load with "
                    "ner_dataset= to pair the entities an NER run predicts"
                )
        batch = self._retrieve(parsed)
        items, owners = self._items(batch)
        start = time.perf_counter()
        outputs = [runner.run(items, batch_size) for runner in self.experts]
        self.timings.experts += time.perf_counter() - start
        start = time.perf_counter()
        mixed, weights = self._mix(batch, owners, outputs)
        self.timings.gate += time.perf_counter() - start
        start = time.perf_counter()
        records = assemble_records(self, batch, items, owners, outputs, mixed, weights, details)
        self.timings.decode += time.perf_counter() - start
        self.timings.posts += len(parsed)
        return records

    def _pairs_from_ner(self, posts: list[Post], batch_size: int) -> None:
        """Posts without pairs get every ordered pair of the entities the NER run predicts (copies:
        the caller's posts are left as they are)."""
        assert self.ner is not None
        need = [i for i, p in enumerate(posts) if not p.pairs]
        for i, record in zip(need, self.ner.predict([posts[i] for i in need], batch_size)):
            spans = [(e["start"], e["end"]) for e in record["entities"]]
            posts[i] = replace(posts[i], pairs=[(h, t) for h in spans for t in spans if h != t])

    def _retrieve(self, posts: list[Post]) -> PostBatch:
        batch = PostBatch(posts, image_status=["none" if p.image is None else "skipped" for p in posts])
        if self.mode in ALONE_MODES:
            return batch
        start = time.perf_counter()
        embeddings: dict[int, np.ndarray] = {}
        if self.encode_images:
            assert self.clip is not None
            batch.image_status, tensors = load_images([p.image for p in posts], self.clip.preprocess)
            if tensors:
                keys = sorted(tensors)
                vectors = self.clip.encode_image_tensors(torch.stack([tensors[i] for i in keys]))
                embeddings = dict(zip(keys, vectors))
        if self.images is not None:
            keys = sorted(embeddings)
            found = self.images.search(np.stack([embeddings[i] for i in keys])) if keys else []
            by_post = dict(zip(keys, found))
            batch.hits["image"] = [by_post.get(i, []) for i in range(len(posts))]
        if self.text is not None:
            batch.hits["text"] = self.text.search([p.tokens for p in posts])
        for view, source in self.imported.items():
            batch.hits[view] = [self._imported_hits(post, view, source) for post in posts]
        self.timings.retrieval += time.perf_counter() - start
        if self.featurizer is not None:
            start = time.perf_counter()
            batch.features = self.featurizer.features([p.tokens for p in posts], embeddings)
            self.timings.gate += time.perf_counter() - start
        return batch

    @staticmethod
    def _imported_hits(post: Post, view: str, source: dict) -> list[Hit]:
        """An imported view's texts as the post brought them; a post without them is an error,
        never a silent fall-back to the sentence alone."""
        if view not in post.contexts:
            where = f"post {post.id!r}" + (f" (line {post.line})" if post.line else "")
            raise ValueError(
                f"{where}: the {view!r} view is imported ({source.get('format')}: "
                f"{source.get('source') or 'computed outside this pipeline'}) and cannot be computed for a "
                f'new post; give its text in the input as "contexts": {{"{view}": ["..."]}}, or predict '
                "with --no-retrieval or a --variant without it"
            )
        return [Hit(-1, 0.0, f"imported:{view}", text) for text in post.contexts[view]]

    def _items(self, batch: PostBatch) -> tuple[list[Item], list[tuple[int, int]]]:
        """Expert inputs and their owners (post index, pair index); one per post for NER."""
        items: list[Item] = []
        owners: list[tuple[int, int]] = []
        for i, post in enumerate(batch.posts):
            # view -> retrieved values; each expert reads its own view's
            contexts = {view: [h.text for h in hits[i]] for view, hits in batch.hits.items()}
            where = f"post {post.id!r}" + (f" (line {post.line})" if post.line else "")
            pairs = [None] if self.task == "ner" else post.pairs
            for j, pair in enumerate(pairs):
                items.append(Item(post.tokens, contexts, pair, where))
                owners.append((i, j))
        return items, owners

    def _mix(
        self, batch: PostBatch, owners: list[tuple[int, int]], outputs: list[list[Output]]
    ) -> tuple[list[np.ndarray], np.ndarray | None]:
        if self.mode in ALONE_MODES:
            return [o.dist for o in outputs[0]], None
        a, b = outputs
        if self.gate is None:
            return [average(torch.tensor(x.dist), torch.tensor(y.dist)).numpy() for x, y in zip(a, b)], None
        assert batch.features is not None
        with torch.no_grad():
            g = self.gate.gate(torch.tensor(batch.features)).numpy()  # [P, L|1]
        mixed = [
            mix(torch.tensor(g[i][None]), torch.tensor(x.dist[None]), torch.tensor(y.dist[None]))[0].numpy()
            for (i, _), x, y in zip(owners, a, b)
        ]
        return mixed, g

    # decoding and entity reading live in records.py; these stay as methods for callers that
    # decode a single distribution with the model's labels and current ``decode``
    def _path(self, dist: np.ndarray, single: Output | None) -> list[int]:
        """The tags a mixture (or a single model's output) decodes to: :func:`records.decoded_path`."""
        return decoded_path(dist, single, self.labels, self.decode)

    def _entities(self, words: list[str], dist: np.ndarray, path: list[int]) -> list[dict]:
        return entity_records(words, dist, path, self.labels)
