"""A retrieval-free student distilled from a MoE variant (more_ie.student; README "Distilled student").

Built on request (`snakemake ... results/{dataset}/student/summary.json`, or one student's
folder), or by the default target when `student.enabled` is true. The teacher table of a pair is its
own job, so that a change of `student.*` reruns the students only: the teacher depends on the
pair's experts, the MoE's gates and train's gate features, none of which a student setting touches
(but `student.teacher_fit` and `student.teacher_folds`, which choose the teacher). With
`teacher_fit: cross_fit` each expert of the pair is retrained once per fold without it
(train_fold_expert) and the teacher reads their held-out exports instead of running the experts.
"""


rule train_fold_expert:
    """One expert of a teaching pair retrained without one fold of train (student.teacher_fit:
    cross_fit); it exports its distributions on that fold only."""
    input:
        train=split_data("train"),
        dev=split_data("dev"),
        train_retrieval=lambda w: expert_retrieval(w, "train"),
        dev_retrieval=lambda w: expert_retrieval(w, "dev"),
    output:
        heldout=f"{RESULTS}/{{dataset}}/student/folds/{{view}}-s{{seed}}/fold{{fold}}-of{{folds}}/heldout.train.parquet",
        metrics=f"{RESULTS}/{{dataset}}/student/folds/{{view}}-s{{seed}}/fold{{fold}}-of{{folds}}/metrics.json",
    log:
        f"{LOGS}/{{dataset}}/student/folds/{{view}}-s{{seed}}-fold{{fold}}-of{{folds}}.log",
    benchmark:
        f"{BENCH}/{{dataset}}/student/folds/{{view}}-s{{seed}}-fold{{fold}}-of{{folds}}.tsv"
    wildcard_constraints:
        view=EXPERT_VIEW_PATTERN,
        seed=r"\d+",
        fold=r"\d+",
        folds=r"\d+",
    conda:
        ENV
    threads: 2
    resources:
        mem_mb=mem(16000),
        runtime=12 * 60,
        gpu=1,
    params:
        task=lambda w: dataset_config(w.dataset)["task"],
        out_dir=lambda w: fold_expert_dir(w.dataset, w.view, w.seed, w.fold, w.folds),
        retrieval=lambda w, input: " ".join(
            f"--{s}-retrieval {shlex.quote(input[f'{s}_retrieval'][0])}"
            for s in ("train", "dev")
            if input[f"{s}_retrieval"]
        ),
        # already quoted: inserted as is (the experts' own settings: the fold models are theirs)
        settings=lambda w: stage_settings.train_expert(config, w.dataset),
    shell:
        "$MORE_IE_PYTHON -m more_ie train-expert --task {params.task:q} --view {wildcards.view:q}"
        " --train {input.train:q} --dev {input.dev:q} {params.retrieval} --holdout-fold {wildcards.fold:q}"
        " --folds {wildcards.folds:q} --out-dir {params.out_dir:q} --settings {params.settings:q}"
        " --seed {wildcards.seed:q} --threads {threads} --log {log:q}"


rule student_teacher:
    input:
        unpack(teacher_inputs),
    output:
        teacher_file("{dataset}", "{variant}", "{pair}"),
    log:
        f"{LOGS}/{{dataset}}/student/teacher_{{variant}}-pair{{pair}}.log",
    benchmark:
        f"{BENCH}/{{dataset}}/student/teacher_{{variant}}-pair{{pair}}.tsv"
    wildcard_constraints:
        variant=VARIANT_PATTERN,
        pair=r"\d+",
    conda:
        ENV
    threads: 2
    resources:
        mem_mb=mem(8000),
        runtime=2 * 60,
        gpu=1,
    params:
        task=lambda w: dataset_config(w.dataset)["task"],
        experts=lambda w: [f"{n}={expert_dir(w.dataset, *n.rsplit('-s', 1))}" for n in teacher_experts(w)],
        # already quoted: inserted as is (nothing for a pair without retrieval views)
        retrieval=lambda w, input: " ".join(
            ["--retrieval"] + [shlex.quote(f"{path.rsplit('.', 2)[-2]}={path}") for path in input.retrieval]
        ),
        # already quoted: inserted as is (nothing for an in-sample teacher)
        heldout=lambda w: (
            " ".join(["--heldout"] + [shlex.quote(item) for item in teacher_heldout(w)])
            if teacher_heldout(w)
            else ""
        ),
        gate_dir=lambda w: f"{RESULTS}/{w.dataset}/moe/gates/{w.variant}/pair{w.pair}",
        settings=lambda w: stage_settings.student_teacher(config, w.dataset),
    shell:
        "$MORE_IE_PYTHON -m more_ie student-teacher --task {params.task:q} --variant {wildcards.variant:q}"
        " --pair {wildcards.pair:q} --expert {params.experts:q} {params.retrieval} {params.heldout}"
        " --train {input.train:q}"
        " --gate-dir {params.gate_dir:q} --features {input.features:q} --settings {params.settings:q}"
        " --threads {threads} --out {output:q} --log {log:q}"


rule train_student:
    input:
        train=split_data("train"),
        dev=split_data("dev"),
        test=split_data("test"),
        teacher=lambda w: teacher_file(w.dataset, w.variant, student_pair(w.dataset, w.seed)),
    output:
        model=directory(f"{RESULTS}/{{dataset}}/student/{{variant}}-s{{seed}}/model"),
        metrics=f"{RESULTS}/{{dataset}}/student/{{variant}}-s{{seed}}/metrics.json",
        dev=f"{RESULTS}/{{dataset}}/student/{{variant}}-s{{seed}}/dev.marginals.parquet",
        test=f"{RESULTS}/{{dataset}}/student/{{variant}}-s{{seed}}/test.marginals.parquet",
    log:
        f"{LOGS}/{{dataset}}/student/{{variant}}-s{{seed}}.log",
    benchmark:
        f"{BENCH}/{{dataset}}/student/{{variant}}-s{{seed}}.tsv"
    wildcard_constraints:
        variant=VARIANT_PATTERN,
        seed=r"\d+",
    conda:
        ENV
    threads: 2
    resources:
        mem_mb=mem(16000),
        runtime=12 * 60,
        gpu=1,
    params:
        task=lambda w: dataset_config(w.dataset)["task"],
        out_dir=lambda w: student_dir(w.dataset, w.variant, w.seed),
        # every student.* setting but the variant (the wildcard) and the seeds (one job each)
        settings=lambda w: stage_settings.train_student(config, w.dataset),
    shell:
        "$MORE_IE_PYTHON -m more_ie train-student --task {params.task:q} --variant {wildcards.variant:q}"
        " --train {input.train:q} --dev {input.dev:q} --test {input.test:q} --teacher {input.teacher:q}"
        " --out-dir {params.out_dir:q} --settings {params.settings:q} --seed {wildcards.seed:q}"
        " --threads {threads} --log {log:q}"


rule student_summary:
    input:
        students=lambda w: [
            f"{student_dir(w.dataset, student_variant(config, w.dataset), seed)}/metrics.json"
            for seed in student_seeds(w.dataset)
        ],
        moe=f"{RESULTS}/{{dataset}}/moe_f1.json",
    output:
        f"{RESULTS}/{{dataset}}/student/summary.json",
    log:
        f"{LOGS}/{{dataset}}/student/summary.log",
    localrule: True
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(1000),
        runtime=5,
    params:
        variant=lambda w: student_variant(config, w.dataset),
    shell:
        "$MORE_IE_PYTHON -m more_ie student-summary --variant {params.variant:q} --moe-result {input.moe:q}"
        " --out {output:q} --log {log:q} {input.students:q}"
