"""The case-study page (the paper's Figure 2 and Table 7, for any run): a seeded sample of test
posts, each with its image, the top retrieved values of each view, each expert's prediction, the
gate weights, the MoE prediction and the gold, errors highlighted.

One self-contained HTML file (images inlined as data URIs), so that ``snakemake --report`` can
embed it and it opens anywhere.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import random
from pathlib import Path

import pyarrow.parquet as pq

from more_ie.experts.spans import bio_to_spans
from more_ie.predict.api import MoRe
from more_ie.predict.io import Post
from more_ie.predict.settings import CaseStudySettings, PredictSettings
from more_ie.utils import atomic_open
from more_ie.wiki.sentences import strip_anchors

logger = logging.getLogger(__name__)

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1100px}
h1{font-size:1.4em} h2{font-size:1.1em;margin:0 0 .4em}
.post{border:1px solid #ccc;border-radius:6px;padding:1em;margin:1em 0;display:flex;gap:1em}
.post img{width:160px;height:160px;object-fit:cover;border:1px solid #999}
.noimg{width:160px;height:160px;border:1px dashed #999;display:flex;align-items:center;justify-content:center;
color:#777;font-size:.85em;text-align:center}
.body{flex:1;min-width:0}
table{border-collapse:collapse;margin:.4em 0;font-size:.92em} td,th{border:1px solid #ddd;padding:3px 6px;
text-align:left;vertical-align:top}
.ent{padding:0 2px;border-radius:3px} .ok{background:#c8efc8} .bad{background:#f6b8b8}
.miss{border-bottom:3px dashed #d33} .gold{background:#dde8ff}
.type{font-size:.7em;vertical-align:super;color:#444}
.err{color:#b00;font-weight:bold} .good{color:#070;font-weight:bold}
.views li{margin:.15em 0;font-size:.88em} .kc{color:#666}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:.5em;border-radius:4px}
.bar{display:inline-block;height:.7em;background:#4a7bd0;vertical-align:middle}
"""


def _image_tag(path: Path | None, status: str) -> str:
    if status != "ok" or path is None:
        return f'<div class="noimg">image: {html.escape(status)}<br>(text view only)</div>'
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((320, 320))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="post image" src="data:image/png;base64,{data}">'


def _sentence(
    tokens: list[str], spans: list[tuple[int, int, str]], gold: set[tuple[int, int, str]] | None
) -> str:
    """Tokens with entity spans marked; against gold: green correct, red wrong; gold spans the
    system missed are underlined in the gold row (gold=None marks the gold row itself)."""
    starts = {s: (e, t) for s, e, t in spans}
    out, i = [], 0
    while i < len(tokens):
        if i in starts:
            end, kind = starts[i]
            css = "gold" if gold is None else ("ok" if (i, end, kind) in gold else "bad")
            text = html.escape(" ".join(tokens[i:end]))
            out.append(f'<span class="ent {css}">{text}<span class="type">{html.escape(kind)}</span></span>')
            i = end
        else:
            out.append(html.escape(tokens[i]))
            i += 1
    return " ".join(out)


def _gold_row(tokens: list[str], gold: set, predicted: set) -> str:
    starts = {s: (e, t) for s, e, t in gold}
    out, i = [], 0
    while i < len(tokens):
        if i in starts:
            end, kind = starts[i]
            miss = " miss" if (i, end, kind) not in predicted else ""
            out.append(
                f'<span class="ent gold{miss}">{html.escape(" ".join(tokens[i:end]))}'
                f'<span class="type">{html.escape(kind)}</span></span>'
            )
            i = end
        else:
            out.append(html.escape(tokens[i]))
            i += 1
    return " ".join(out)


def _short(text: str, limit: int = 220) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def _retrieved(record: dict) -> str:
    parts = []
    for view, hits in record.get("retrieved", {}).items():
        values = record.get("retrieved_values", {}).get(view, [])
        items = "".join(
            f'<li><b>{html.escape(h["title"])}</b> <span class="kc">(id {h["kc_id"]}, score {h["score"]:.3g})</span>: '
            f'{html.escape(_short(strip_anchors(v)))}</li>'
            for h, v in zip(hits[:3], values)
        )
        parts.append(
            f"<p><b>{html.escape(view)} view</b></p><ul class='views'>{items or '<li>(nothing)</li>'}</ul>"
        )
    return "".join(parts)


def _gate(record: dict, labels: list[str]) -> str:
    gate = record.get("gate")
    if not gate:
        return ""
    a, b = gate["experts"]
    names = labels if len(gate["per_label"]) > 1 else ["all labels"]
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    cells = "".join(
        f"<td><span class='bar' style='width:{40 * w:.0f}px'></span> {w:.2f}</td>" for w in gate["per_label"]
    )
    return (
        f"<p>Gate g = weight of <b>{html.escape(a)}</b> (1 - g: {html.escape(b)}); mean {gate['weight_first']:.3f}"
        f"</p><table><tr><th>label</th>{head}</tr><tr><th>g</th>{cells}</tr></table>"
    )


def _ner_post(record: dict, gold_tags: list[str], model: MoRe) -> tuple[str, int]:
    tokens = record["tokens"]
    gold = set(bio_to_spans(gold_tags))
    rows, errors = [], 0
    systems = [(name, tags) for name, tags in record["experts"].items()] + [
        (f"MoE ({model.mode})", record["mixed_tags"])
    ]
    for name, tags in systems:
        spans = set(bio_to_spans(tags))
        wrong = len(spans ^ gold)
        mark = (
            "<span class='good'>correct</span>" if wrong == 0 else f"<span class='err'>{wrong} errors</span>"
        )
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{_sentence(tokens, sorted(spans), gold)}</td><td>{mark}</td></tr>"
        )
    moe_spans = set(bio_to_spans(record["mixed_tags"]))
    errors = len(moe_spans ^ gold)
    rows.append(f"<tr><th>gold</th><td>{_gold_row(tokens, gold, moe_spans)}</td><td></td></tr>")
    return "<table><tr><th>system</th><th>prediction</th><th></th></tr>" + "".join(rows) + "</table>", errors


def _re_post(record: dict, gold_relation: str, model: MoRe) -> tuple[str, int]:
    relation = record["relations"][0]
    tokens = list(record["tokens"])
    head, tail = relation["head"], relation["tail"]
    marked = [html.escape(t) for t in tokens]
    marked[head[0]] = "<span class='ent gold'>[S " + marked[head[0]]
    marked[head[1] - 1] += "]</span>"
    marked[tail[0]] = "<span class='ent ok'>[O " + marked[tail[0]]
    marked[tail[1] - 1] += "]</span>"
    rows = []
    for name, label in list(relation["experts"].items()) + [(f"MoE ({model.mode})", relation["label"])]:
        css = "good" if label == gold_relation else "err"
        rows.append(f"<tr><td>{html.escape(name)}</td><td class='{css}'>{html.escape(label)}</td></tr>")
    rows.append(f"<tr><th>gold</th><td>{html.escape(gold_relation)}</td></tr>")
    errors = int(relation["label"] != gold_relation)
    return f"<p>{' '.join(marked)}</p><table>{''.join(rows)}</table>", errors


def cached_contexts(path: Path) -> dict[int, list[str]]:
    """sample_id -> an imported view's texts in rank order, from a split's cache (a new post brings
    them itself; the test posts of a run have them here)."""
    if not path.is_file():
        raise ValueError(f"{path}: the imported view's test cache is missing")
    out: dict[int, list[str]] = {}
    for row in pq.read_table(path, columns=["sample_id", "rank", "text"]).sort_by("rank").to_pylist():
        out.setdefault(row["sample_id"], []).append(row["text"])
    return out


def write_case_study(
    run_dir: str | Path,
    dataset: str,
    out: str | Path,
    case: CaseStudySettings = CaseStudySettings(),
    settings: PredictSettings = PredictSettings(),
) -> dict:
    n, seed = case.posts, case.seed
    if n < 1:
        raise ValueError("the case study needs at least one post")
    model = MoRe.load(run_dir, dataset, settings)
    layout = model.layout
    split = layout.run_dir / dataset / "data" / "test.parquet"
    if not split.is_file():
        raise ValueError(f"{split}: the test split is missing")
    rows = pq.read_table(split).to_pylist()
    if not rows:
        raise ValueError(f"{split}: no test posts")
    chosen = sorted(random.Random(seed).sample(range(len(rows)), min(n, len(rows))))
    images = layout.images_dir()
    # imported views: the test posts' texts from the run's own caches (they have no retriever)
    contexts = {
        view: cached_contexts(layout.run_dir / dataset / "retrieval" / f"test.{view}.parquet")
        for view in model.imported
    }
    posts = []
    for i in chosen:
        row = rows[i]
        pairs = [] if model.task == "ner" else [(tuple(row["head"]), tuple(row["tail"]))]
        image = images / row["image"] if images is not None and row.get("image") else None
        texts = {view: by_id.get(row["sample_id"], []) for view, by_id in contexts.items()}
        posts.append(
            Post(str(row["sample_id"]), list(row["tokens"]), image, row.get("image"), pairs, 0, texts)
        )
    records = model.predict(posts, details=True)
    sections, total_errors = [], 0
    for i, record, post in zip(chosen, records, posts):
        if model.task == "ner":
            table, errors = _ner_post(record, rows[i]["tags"], model)
        else:
            table, errors = _re_post(record, rows[i]["relation"], model)
        total_errors += errors
        sections.append(
            f"<div class='post'>{_image_tag(post.image, record['image']['status'])}<div class='body'>"
            f"<h2>test post {html.escape(record['id'])} "
            f"{'<span class=good>MoE correct</span>' if errors == 0 else '<span class=err>MoE wrong</span>'}</h2>"
            f"{table}{_gate(record, model.labels)}{_retrieved(record)}</div></div>"
        )
    info = model.describe()
    clip = layout.manifest["image"]
    warning = (
        "<p class='warn'>This run's CLIP has <b>random weights</b> (no pretrained CLIP was configured): image "
        "retrieval and the gate's image features are meaningless beyond exercising the pipeline.</p>"
        if not clip.get("clip_pretrained")
        else ""
    )
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Case study: {html.escape(dataset)}</title>"
        f"<style>{STYLE}</style></head><body><h1>Case study: {html.escape(dataset)} ({model.task.upper()})</h1>"
        f"<p>{len(chosen)} test posts drawn with seed {seed}; {html.escape(info['mode'])} of "
        f"{html.escape(' + '.join(info['experts']))} "
        f"(variant {html.escape(str(info['variant']))}, pair {settings.pair}). "
        "Entities: <span class='ent ok'>correct</span> <span class='ent bad'>wrong</span> "
        "<span class='ent gold miss'>missed by the MoE</span>. Retrieved: the top 3 of each view.</p>"
        f"{warning}{''.join(sections)}</body></html>"
    )
    with atomic_open(out) as handle:
        handle.write(page)
    summary = {"posts": len(chosen), "moe_errors": total_errors, **info}
    logger.info("case study %s: %s", out, summary)
    return summary
