"""The distilled student (issue 23): the KD loss, the teacher table, a student pulled towards its
teacher, the settings that place it in the workflow, and prediction with it. Tiny local models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from fixtures import tiny_train_config
from more_ie.datasets.readers import NER_SCHEMA, RE_SCHEMA
from more_ie.utils import write_parquet
from tiny_models import make_tiny_bert

WORDS = ["Ada", "Lovelace", "visited", "Brimholt", "with", "Vantor", "Industries", "today"]
TAGS = ["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG", "O"]
NER_LABELS = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]  # read_labels' order
RE_LABELS = ["None", "/per/loc/lives_in", "/per/org/member_of"]


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = [" ".join(WORDS), "the town of brimholt lies on the river", "vantor industries makes tools"] * 20
    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert"), corpus)


# -- the loss ------------------------------------------------------------------------------------
def _kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return (p * (p.log() - q.log())).sum()


def test_kd_term_is_kl_teacher_to_student_per_sample() -> None:
    from more_ie.student.kd import kd_term

    teacher = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    student = torch.tensor([[0.3, 0.3, 0.4], [0.2, 0.5, 0.3]])
    got = kd_term(teacher, student, None, 1.0)
    assert got.item() == pytest.approx((_kl(teacher, student) / 2).item(), rel=1e-5)
    assert got.item() != pytest.approx((_kl(student, teacher) / 2).item(), rel=1e-2)  # not the reverse
    # NER: summed over the valid tokens of a sentence, padding ignored, divided by the batch size
    t3, s3 = teacher[None].repeat(2, 1, 1), student[None].repeat(2, 1, 1)
    mask = torch.tensor([[True, True], [True, False]])
    expected = (_kl(teacher, student) + _kl(teacher[:1], student[:1])) / 2
    assert kd_term(t3, s3, mask, 1.0).item() == pytest.approx(expected.item(), rel=1e-5)


def test_the_teacher_gets_no_gradient_and_alpha_weighs_the_two_losses() -> None:
    from more_ie.student.kd import kd_loss, kd_term

    teacher = torch.tensor([[0.7, 0.2, 0.1]], requires_grad=True)
    logits = torch.tensor([[0.1, 0.2, 0.3]], requires_grad=True)
    term = kd_term(teacher, torch.softmax(logits, -1), None, 2.0)
    term.backward()
    assert teacher.grad is None and logits.grad is not None and logits.grad.abs().sum() > 0

    gold, kd = torch.tensor(2.0, requires_grad=True), torch.tensor(5.0, requires_grad=True)
    assert kd_loss(gold, kd, 0.0) is gold  # alpha 0: the gold loss alone (no KD gradient)
    assert kd_loss(gold, None, 0.0) is gold
    assert kd_loss(gold, kd, 1.0) is kd  # alpha 1: the distillation term alone
    mixed = kd_loss(gold, kd, 0.25)
    assert mixed.item() == pytest.approx(0.75 * 2 + 0.25 * 5)
    mixed.backward()
    assert gold.grad.item() == pytest.approx(0.75) and kd.grad.item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="alpha"):
        kd_loss(gold, kd, 1.5)
    with pytest.raises(ValueError, match="needs the distillation term"):
        kd_loss(gold, None, 0.5)


def test_temperature_softens_both_sides_and_scales_the_kl_by_t_squared() -> None:
    from more_ie.student.kd import kd_term, temper

    p = torch.tensor([[0.7, 0.2, 0.1], [0.0, 0.0, 0.0]])  # the second row is padding
    assert torch.equal(temper(p, 1.0), p)
    soft, sharp = temper(p, 4.0), temper(p, 0.5)
    entropy = lambda q: -(q * q.clamp(min=1e-12).log()).sum()  # noqa: E731
    assert entropy(soft[0]) > entropy(p[0]) > entropy(sharp[0])
    assert soft[0].sum().item() == pytest.approx(1.0) and torch.equal(soft[1], p[1])  # padding stays 0
    assert soft[0].argmax() == 0  # the ranking is kept
    student = torch.tensor([[0.3, 0.3, 0.4]])
    t = 3.0
    expected = t**2 * _kl(temper(p[:1], t), student)
    assert kd_term(p[:1], student, None, t).item() == pytest.approx(expected.item(), rel=1e-5)


def test_tempered_student_divides_emissions_and_transitions_by_t() -> None:
    from more_ie.experts.crf import LinearChainCRF
    from more_ie.student.kd import tempered_crf_marginals

    torch.manual_seed(0)
    crf = LinearChainCRF(4)
    with torch.no_grad():
        crf.transitions.mul_(20)  # large enough for T to matter
    emissions = torch.randn(2, 5, 4) * 3
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    t = 2.5
    scaled = LinearChainCRF(4)
    with torch.no_grad():
        for name, param in scaled.named_parameters():
            param.copy_(getattr(crf, name) / t)
    got = tempered_crf_marginals(crf, emissions, mask, t)
    assert torch.allclose(got, scaled.marginals(emissions / t, mask), atol=1e-6)
    assert not torch.allclose(got, crf.marginals(emissions, mask), atol=1e-3)
    got[0, 1, 2].backward()  # gradients reach the CRF itself
    assert crf.transitions.grad is not None and crf.transitions.grad.abs().sum() > 0
    assert torch.equal(tempered_crf_marginals(crf, emissions, mask, 1.0), crf.marginals(emissions, mask))


# -- the teacher table ---------------------------------------------------------------------------
def _ner_split(path: Path, n: int, tags: list[str] = TAGS) -> None:
    rows = [{"sample_id": i, "tokens": WORDS, "image": None, "tags": tags} for i in range(n)]
    write_parquet(
        pa.Table.from_pylist(rows, schema=NER_SCHEMA),
        path,
        metadata={"more_ie.labels": json.dumps(["LOC", "ORG", "PER"]), "more_ie.task": "ner"},
    )


def _re_split(path: Path, n: int) -> None:
    rows = [
        {
            "sample_id": i,
            "tokens": WORDS,
            "image": None,
            "head": [0, 2],
            "tail": [5, 7] if i % 2 == 0 else [3, 4],
            "relation": RE_LABELS[2] if i % 2 == 0 else "None",
        }
        for i in range(n)
    ]
    write_parquet(
        pa.Table.from_pylist(rows, schema=RE_SCHEMA),
        path,
        metadata={"more_ie.labels": json.dumps(RE_LABELS), "more_ie.task": "re"},
    )


def _expert(folder: Path, encoder_dir: Path, labels: list[str], view: str, favour: int) -> None:
    """A random NER expert whose emissions strongly prefer label ``favour``."""
    from more_ie.experts.encoder import load_encoder, load_tokenizer
    from more_ie.experts.model import Expert, ExpertConfig

    tokenizer = load_tokenizer(str(encoder_dir), "ner")
    torch.manual_seed(favour)
    expert = Expert(
        ExpertConfig("ner", labels, str(encoder_dir), 48, view),
        load_encoder(str(encoder_dir), len(tokenizer)),
    )
    with torch.no_grad():
        expert.head.emissions.weight.mul_(0.01)
        expert.head.emissions.bias.zero_()
        expert.head.emissions.bias[favour] = 8.0
    expert.save(folder / "model", tokenizer)
    (folder / "metrics.json").write_text(json.dumps({"train_config": {"context_anchors": "surface"}}))


def _pair_run(root: Path, encoder_dir: Path, n: int = 5) -> dict:
    """A text+none pair on a train split of ``n`` posts, as the rules lay it out: two saved experts
    (text favours B-PER, none B-LOC), a text retrieval cache, train's gate features and a scalar
    gate that gives the text expert 0.75."""
    from more_ie.moe.features import SPEC_KEY
    from more_ie.moe.gate import Gate, save_gate
    from more_ie.search.bm25 import RETRIEVAL_SCHEMA

    splits = {s: root / f"{s}.parquet" for s in ("train", "dev", "test")}
    for path in splits.values():
        _ner_split(path, n)
    retrieval = root / "train.text.parquet"
    rows = [
        {"sample_id": i, "rank": 1, "kc_id": 0, "score": 1.0, "text": "Brimholt is a town"} for i in range(n)
    ]
    write_parquet(pa.Table.from_pylist(rows, schema=RETRIEVAL_SCHEMA), retrieval)
    experts = {"text-s1": root / "text-s1", "none-s1": root / "none-s1"}
    _expert(experts["text-s1"], encoder_dir, NER_LABELS, "text", favour=5)  # B-PER
    _expert(experts["none-s1"], encoder_dir, NER_LABELS, "none", favour=1)  # B-LOC
    spec = {"text": "encoder:x", "text_dim": 3, "image": None, "image_dim": 0, "has_image": False, "dim": 3}
    features = root / "features.parquet"
    write_parquet(
        pa.table({"sample_id": list(range(n)), "features": [np.ones(3, dtype=np.float32)] * n}),
        features,
        metadata={SPEC_KEY: json.dumps(spec)},
    )
    gate = Gate(3, len(NER_LABELS), "scalar")
    with torch.no_grad():
        gate.linear.bias.fill_(np.log(3.0))  # g = 0.75 for the first expert
    save_gate(gate, root / "gate", {"pair": list(experts), "labels": NER_LABELS, "feature_spec": spec})
    return {
        "splits": splits,
        "retrieval": retrieval,
        "experts": experts,
        "features": features,
        "gate": root / "gate",
    }


def test_the_teacher_mixes_the_pair_on_train_with_its_gate(encoder_dir: Path, tmp_path: Path) -> None:
    from more_ie.student.teacher import build_teacher, read_teacher

    run = _pair_run(tmp_path, encoder_dir)
    train, retrieval, experts, features = (
        run["splits"]["train"],
        run["retrieval"],
        run["experts"],
        run["features"],
    )
    out = tmp_path / "teacher.parquet"
    info = build_teacher(
        "ner", "text+none", 0, experts, {"text": retrieval}, train, tmp_path / "gate", features, out
    )
    assert info["in_sample"] is True and "in-sample" in info["note"]
    teacher = read_teacher(out)
    assert teacher.labels == NER_LABELS and sorted(teacher.dists) == list(range(5))
    dist = teacher.dists[0]
    assert dist.shape == (len(WORDS), len(NER_LABELS))
    assert np.allclose(dist.sum(-1), 1.0, atol=1e-5)
    # the mixture follows the gate: 0.75 of expert A's B-PER, 0.25 of expert B's B-LOC (about)
    assert dist[:, 5].mean() == pytest.approx(0.75, abs=0.05) and dist[:, 1].mean() == pytest.approx(
        0.25, abs=0.05
    )
    batch = teacher.batch([3, 0], width=10)
    assert batch.shape == (2, 10, len(NER_LABELS)) and batch[0, len(WORDS) :].abs().sum() == 0
    with pytest.raises(ValueError, match="the gate mixes"):
        build_teacher(
            "ner", "x", 0, dict(reversed(experts.items())), {}, train, tmp_path / "gate", features, out
        )


def test_folds_partition_train_the_same_way_for_every_caller() -> None:
    from more_ie.experts.data import fold_members

    ids = list(range(100, 137))
    folds = [fold_members(ids, f, 3) for f in range(3)]
    assert sorted(i for fold in folds for i in fold) == ids  # a partition: each post in one fold
    assert sorted(len(f) for f in folds) == [12, 12, 13]
    # the order the ids come in does not matter: both experts of a pair hold out the same posts
    assert fold_members(list(reversed(ids)), 1, 3) == folds[1]
    assert fold_members(ids, 0, 2) != fold_members(ids, 1, 2)
    with pytest.raises(ValueError, match="fold 2 of 2"):
        fold_members(ids, 2, 2)


def _heldout(path: Path, ids: list[int], favour: int) -> Path:
    """A held-out fold export as train-expert --holdout-fold writes it: ids -> one-hot-ish marginals."""
    dist = np.full((len(WORDS), len(NER_LABELS)), 0.01, dtype=np.float32)
    dist[:, favour] = 1.0 - 0.01 * (len(NER_LABELS) - 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_parquet(
        pa.table(
            {
                "sample_id": ids,
                "marginals": [dist.tolist()] * len(ids),
                "viterbi": [["O"] * len(WORDS)] * len(ids),
            }
        ),
        path,
        metadata={"more_ie.labels": json.dumps(NER_LABELS), "more_ie.task": "ner"},
    )
    return path


def test_a_cross_fitted_teacher_reads_the_held_out_folds_and_says_so(
    encoder_dir: Path, tmp_path: Path
) -> None:
    from more_ie.student.teacher import build_teacher, read_teacher

    run = _pair_run(tmp_path, encoder_dir)
    train, experts, features, gate = run["splits"]["train"], run["experts"], run["features"], run["gate"]
    # the text expert's folds favour B-PER (5), the none expert's B-LOC (1); the gate gives text 0.75
    heldout = {
        "text-s1": [
            _heldout(tmp_path / "t0.parquet", [0, 2, 4], 5),
            _heldout(tmp_path / "t1.parquet", [1, 3], 5),
        ],
        "none-s1": [
            _heldout(tmp_path / "n0.parquet", [0, 2, 4], 1),
            _heldout(tmp_path / "n1.parquet", [1, 3], 1),
        ],
    }
    out = tmp_path / "teacher.parquet"
    # no retrieval and no experts are run: the folds' exports are the distributions
    info = build_teacher("ner", "text+none", 0, experts, {}, train, gate, features, out, heldout=heldout)
    assert info["in_sample"] is False and "cross-fitted" in info["note"]
    assert info["folds"]["text-s1"] == [str(p) for p in heldout["text-s1"]]
    teacher = read_teacher(out)
    assert sorted(teacher.dists) == list(range(5))
    assert teacher.dists[3][:, 5].mean() == pytest.approx(0.75 * 0.94 + 0.25 * 0.01, abs=1e-4)
    # a training post in no fold, or in two, is an error naming it
    short = {name: files[:1] for name, files in heldout.items()}
    with pytest.raises(ValueError, match=r"no held-out distribution for training samples \[1, 3\]"):
        build_teacher("ner", "text+none", 0, experts, {}, train, gate, features, out, heldout=short)
    twice = {name: files + files[:1] for name, files in heldout.items()}
    with pytest.raises(ValueError, match="training sample 0 is in two folds"):
        build_teacher("ner", "text+none", 0, experts, {}, train, gate, features, out, heldout=twice)


@pytest.mark.slow
def test_the_commands_run_as_the_rules_call_them(encoder_dir: Path, tmp_path: Path) -> None:
    """student-teacher, train-student and student-summary, with the rules' argument shapes."""
    import subprocess
    import sys

    from conftest import REPO

    run = _pair_run(tmp_path, encoder_dir, n=8)
    splits = run["splits"]

    def more_ie(*args: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "more_ie", *args], capture_output=True, text=True, cwd=REPO, timeout=300
        )
        assert result.returncode == 0, result.stderr[-3000:]

    teacher = tmp_path / "student" / "teacher" / "text+none-pair0.train.parquet"
    more_ie(
        "student-teacher", "--task", "ner", "--variant", "text+none", "--pair", "0",
        "--expert", *(f"{name}={folder}" for name, folder in run["experts"].items()),
        "--retrieval", f"text={run['retrieval']}", "--train", str(splits["train"]),
        "--gate-dir", str(run["gate"]), "--features", str(run["features"]),
        "--settings", '{"device": "cpu", "eval_batch_size": 4}', "--threads", "1", "--out", str(teacher),
    )  # fmt: skip
    settings = {
        "encoder": str(encoder_dir), "max_subtokens": 48, "lr": 1e-3, "head_lr": 5e-2, "batch_size": 4,
        "epochs": 1, "device": "cpu", "cva": True, "alpha": 0.7, "temperature": 2.0,
    }  # fmt: skip
    out = tmp_path / "student" / "text+none-s1"
    log = tmp_path / "student.log"
    more_ie(
        "train-student", "--task", "ner", "--variant", "text+none",
        *(arg for split, path in splits.items() for arg in (f"--{split}", str(path))),
        "--teacher", str(teacher), "--out-dir", str(out), "--settings", json.dumps(settings),
        "--seed", "1", "--threads", "1", "--log", str(log),
    )  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["student"]["temperature"] == 2.0 and metrics["student"]["alpha"] == 0.7
    # cross-fitting: a fold expert trains without fold 0 and exports that fold only, as the rule calls it
    fold_dir = tmp_path / "folds" / "none-s1" / "fold0-of2"
    more_ie(
        "train-expert", "--task", "ner", "--view", "none", "--train", str(splits["train"]),
        "--dev", str(splits["dev"]), "--holdout-fold", "0", "--folds", "2", "--out-dir", str(fold_dir),
        "--settings", json.dumps({k: v for k, v in settings.items() if k not in ("alpha", "temperature")}),
        "--seed", "1", "--threads", "1", "--log", str(tmp_path / "fold.log"),
    )  # fmt: skip
    from more_ie.experts.data import fold_members

    exported = pq.read_table(fold_dir / "heldout.train.parquet").column("sample_id").to_pylist()
    assert exported == fold_members(list(range(8)), 0, 2)
    fold_metrics = json.loads((fold_dir / "metrics.json").read_text())
    assert fold_metrics["train_samples"] == 8 - len(exported) and not (fold_dir / "model").exists()
    assert metrics["student"]["variant"] == "text+none" and metrics["train_config"]["seed"] == 1
    assert "in-sample" in log.read_text()
    moe = tmp_path / "moe_f1.json"
    moe.write_text(
        json.dumps(
            {
                "variants": {"text+none": {"moe": {"test_f1_mean": 0.9, "test_f1_sd": None, "n": 1}}},
                "views": {"none": {"test_f1_mean": 0.1}, "text": {"test_alone_f1_mean": 0.2}},
            }
        )
    )
    summary = tmp_path / "student" / "summary.json"
    more_ie(
        "student-summary",
        "--variant",
        "text+none",
        "--moe-result",
        str(moe),
        "--out",
        str(summary),
        str(out / "metrics.json"),
    )
    result = json.loads(summary.read_text())
    assert result["test_f1"]["n"] == 1 and result["moe"]["mean"] == 0.9
    assert result["gap_to_moe"] == pytest.approx(0.9 - metrics["test"]["micro"]["f1"])
    assert result["baselines_test_f1"] == {"none": 0.1, "text (sentence alone)": 0.2}


# -- a student pulled towards its teacher -------------------------------------------------------------
def _config(encoder_dir: Path, epochs: int = 2):  # type: ignore[no-untyped-def]
    return tiny_train_config(encoder_dir, epochs, eval_batch_size=8)


def _teacher_table(path: Path, task: str, n: int, favour: int, labels: list[str]) -> None:
    """A teacher that always says ``labels[favour]`` (every token, or every pair)."""
    one_hot = np.full(len(labels), 0.001, dtype=np.float32)
    one_hot[favour] = 1.0
    one_hot /= one_hot.sum()
    column = "marginals" if task == "ner" else "probs"
    rows = [[one_hot.tolist()] * len(WORDS) if task == "ner" else one_hot.tolist() for _ in range(n)]
    write_parquet(
        pa.table({"sample_id": list(range(n)), column: rows}),
        path,
        metadata={
            "more_ie.task": task,
            "more_ie.labels": json.dumps(labels),
            "more_ie.teacher": json.dumps({"variant": "text+image", "pair_index": 0, "in_sample": True}),
        },
    )


def _student_inputs(tmp_path: Path, task: str, taught: int) -> tuple[dict[str, Path], Path]:
    """Splits of 24/4/4 posts and a teacher that always says label index ``taught``."""
    splits = {s: tmp_path / f"{s}.parquet" for s in ("train", "dev", "test")}
    for split, n in (("train", 24), ("dev", 4), ("test", 4)):
        (_ner_split if task == "ner" else _re_split)(splits[split], n)
    teacher = tmp_path / "teacher.parquet"
    _teacher_table(teacher, task, 24, taught, NER_LABELS if task == "ner" else RE_LABELS)
    return splits, teacher


@pytest.mark.slow
def test_a_student_taught_always_per_moves_towards_per(encoder_dir: Path, tmp_path: Path) -> None:
    from more_ie.experts.model import Expert
    from more_ie.student.settings import StudentSettings
    from more_ie.student.train import train_student

    splits, teacher = _student_inputs(tmp_path, "ner", NER_LABELS.index("B-PER"))

    def per_mass(alpha: float) -> tuple[float, dict]:
        out = tmp_path / f"alpha{alpha}"
        metrics = train_student(
            "ner",
            splits,
            teacher,
            out,
            _config(encoder_dir),
            StudentSettings(alpha=alpha),
            {"variant": "t+i"},
        )
        table = pq.read_table(out / "test.marginals.parquet")
        marginals = np.concatenate([np.asarray(m) for m in table.column("marginals").to_pylist()])
        per = [NER_LABELS.index("B-PER"), NER_LABELS.index("I-PER")]
        return float(marginals[:, per].sum(-1).mean()), metrics

    gold_only, gold_metrics = per_mass(0.0)
    taught, metrics = per_mass(1.0)
    assert taught > 0.6 and taught > gold_only + 0.3, (taught, gold_only)
    assert gold_metrics["history"][0]["train_kd"] == 0.0 and metrics["history"][0]["train_kd"] > 0
    student = metrics["student"]
    assert student["teacher_in_sample"] is True and student["alpha"] == 1.0 and student["pair_index"] == 0
    assert "in-sample" in metrics["note"] and metrics["view"] == "none"
    assert metrics["test_alone"] == metrics["test"] and metrics["test"]["inference_sentences_per_s"] > 0
    model, _ = Expert.load(tmp_path / "alpha1.0" / "model")
    assert model.config.view == "none" and model.config.labels == NER_LABELS


@pytest.mark.slow
def test_an_re_student_follows_its_teacher_class(encoder_dir: Path, tmp_path: Path) -> None:
    from more_ie.student.settings import StudentSettings
    from more_ie.student.train import train_student

    splits, teacher = _student_inputs(tmp_path, "re", 1)  # always lives_in, which gold never says

    def lives_in(alpha: float) -> float:
        out = tmp_path / f"alpha{alpha}"
        kd = StudentSettings(alpha=alpha, temperature=2.0)
        train_student("re", splits, teacher, out, _config(encoder_dir), kd)
        probs = np.asarray(pq.read_table(out / "test.marginals.parquet").column("probs").to_pylist())
        return float(probs[:, 1].mean())

    assert lives_in(1.0) > lives_in(0.0) + 0.3


def test_a_teacher_with_other_labels_is_refused(encoder_dir: Path, tmp_path: Path) -> None:
    from more_ie.student.settings import StudentSettings
    from more_ie.student.train import train_student

    splits = {s: tmp_path / f"{s}.parquet" for s in ("train", "dev", "test")}
    for path in splits.values():
        _ner_split(path, 2)
    teacher = tmp_path / "teacher.parquet"
    _teacher_table(teacher, "ner", 2, 0, ["O", "B-X", "I-X"])
    with pytest.raises(ValueError, match="teacher's labels"):
        train_student("ner", splits, teacher, tmp_path / "s", _config(encoder_dir, 1), StudentSettings())


# -- settings and the workflow's answers ---------------------------------------------------------------
def test_student_seed_s_learns_from_the_pair_of_seed_s() -> None:
    from more_ie.student.settings import teacher_pair

    assert [teacher_pair([1, 2, 3], [1, 2, 3], s) for s in (1, 2, 3)] == [0, 1, 2]
    assert [teacher_pair([4, 5], [5, 4], s) for s in (5, 4)] == [1, 0]
    # a student seed that no pair has: pair j mod n, j its position among the student seeds
    assert [teacher_pair([1, 2], [1, 2, 3], s) for s in (1, 2, 3)] == [0, 1, 0]
    with pytest.raises(ValueError, match="not among student.seeds"):
        teacher_pair([1, 2], [1, 2], 9)


def test_student_settings_come_from_the_experts_then_the_student_block() -> None:
    from conftest import REPO
    from more_ie.config import ConfigError, load_config, validate_config
    from more_ie.config.stage_settings import train_student
    from more_ie.student.settings import student_variant

    config = load_config(REPO / "tests" / "config.tiny.yaml")
    assert config["student"]["enabled"] is False and config["student"]["seeds"] == [1, 2, 3]
    assert student_variant(config, "demo_mner") == "text+image"  # moe_f1.json's headline
    config["student"].update(encoder="tiny", train={"epochs": 4})
    config["datasets"]["demo_mnre"]["student"] = {"alpha": 0.9, "train": {"lr": 0.5}, "variant": "text+text"}
    ner, re_ = json.loads(train_student(config, "demo_mner")), json.loads(train_student(config, "demo_mnre"))
    assert ner["encoder"] == "tiny" and ner["epochs"] == 4 and ner["alpha"] == 0.5 and ner["batch_size"] == 2
    assert re_["alpha"] == 0.9 and re_["lr"] == 0.5 and re_["epochs"] == 4 and re_["max_subtokens"] == 40
    assert "seeds" not in ner and "variant" not in ner and "views" not in ner
    assert student_variant(config, "demo_mnre") == "text+text"
    config["student"]["variant"] = "text+none"
    with pytest.raises(ConfigError, match=r"student.variant: text\+none is not one of demo_mner's"):
        validate_config(config)


# -- prediction -------------------------------------------------------------------------------------
def _run_with_student(root: Path, encoder_dir: Path) -> Path:
    from more_ie.predict.layout import build_manifest

    run = root / "results"
    config = {
        "knowledge": {"kb": {}},
        "datasets": {"toy": {"task": "ner", "images_dir": None}},
        "retrieval": {
            "text": {"kc": None, "k": 1, "bm25_k1": 0.9, "bm25_b": 0.4},
            "image": {
                "kc": None,
                "k": 1,
                "faiss_search": "",
                "clip_arch": "tiny-demo",
                "clip_pretrained": None,
            },
        },
        "experts": {"views": ["none", "text", "image"], "seeds": [1]},
        "moe": {"variants": ["text+image"], "gate": "per_label", "decode": "constrained"},
    }
    (run / "toy" / "predict").mkdir(parents=True)
    (run / "toy" / "predict" / "run.json").write_text(json.dumps(build_manifest(config, "toy", str(run))))
    _expert(run / "toy" / "student" / "text+image-s2", encoder_dir, NER_LABELS, "none", favour=5)
    return run


def test_predict_with_the_student_reads_the_sentence_alone(encoder_dir: Path, tmp_path: Path) -> None:
    from more_ie.cli import build_parser
    from more_ie.predict import MoRe, RunError
    from more_ie.predict.settings import PredictSettings
    from more_ie.utils.settings import settings_from_args

    run = _run_with_student(tmp_path, encoder_dir)
    model = MoRe.load(run, "toy", student=True, device="cpu")
    info = model.describe()
    assert model.mode == "student" and info["experts"] == ["student:text+image-s2"]
    assert info["variant"] == "text+image" and info["views"] == [] and "no retrieval" in info["student"]
    assert model.text is None and model.images is None and model.clip is None and model.gate is None
    records = model.predict([{"id": "a", "text": "Ada Lovelace visited Brimholt"}], details=True)
    assert records[0]["retrieved"] == {} and "gate" not in records[0]
    assert {e["type"] for e in records[0]["entities"]} == {"PER"}  # the saved model favours B-PER
    with pytest.raises(RunError, match="no trained student text\\+image-s7"):
        MoRe.load(run, "toy", student=True, student_seed=7, device="cpu")
    with pytest.raises(ValueError, match="choose one"):
        MoRe.load(run, "toy", student=True, no_retrieval=True, device="cpu")
    args = build_parser().parse_args(["predict", "--dataset", "toy", "--input", "x", "--student"])
    assert settings_from_args(PredictSettings, args).student is True
