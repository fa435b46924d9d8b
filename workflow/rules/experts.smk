"""Experts: one per dataset x view x seed; each writes its model, metrics and dev/test marginals."""


rule train_expert:
    input:
        train=split_data("train"),
        dev=split_data("dev"),
        test=split_data("test"),
        train_retrieval=lambda w: expert_retrieval(w, "train"),
        dev_retrieval=lambda w: expert_retrieval(w, "dev"),
        test_retrieval=lambda w: expert_retrieval(w, "test"),
    output:
        model=directory(f"{RESULTS}/{{dataset}}/experts/{{view}}-s{{seed}}/model"),
        metrics=f"{RESULTS}/{{dataset}}/experts/{{view}}-s{{seed}}/metrics.json",
        dev=f"{RESULTS}/{{dataset}}/experts/{{view}}-s{{seed}}/dev.marginals.parquet",
        test=f"{RESULTS}/{{dataset}}/experts/{{view}}-s{{seed}}/test.marginals.parquet",
    log:
        f"{LOGS}/{{dataset}}/experts/{{view}}-s{{seed}}.log",
    benchmark:
        f"{BENCH}/{{dataset}}/experts/{{view}}-s{{seed}}.tsv"
    wildcard_constraints:
        view=EXPERT_VIEW_PATTERN,
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
        out_dir=lambda w: expert_dir(w.dataset, w.view, w.seed),
        retrieval=lambda w, input: " ".join(
            f"--{s}-retrieval {shlex.quote(input[f'{s}_retrieval'][0])}"
            for s in ("train", "dev", "test")
            if input[f"{s}_retrieval"]
        ),
        # already quoted: inserted as is
        settings=lambda w: stage_settings.train_expert(config, w.dataset),
    shell:
        "$MORE_IE_PYTHON -m more_ie train-expert --task {params.task:q} --view {wildcards.view:q}"
        " --train {input.train:q} --dev {input.dev:q} --test {input.test:q} {params.retrieval}"
        " --out-dir {params.out_dir:q} --settings {params.settings:q} --seed {wildcards.seed:q}"
        " --threads {threads} --log {log:q}"
