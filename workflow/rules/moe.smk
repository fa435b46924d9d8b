"""Mixture of experts: gate features (a text feature + the CLIP image feature) and one gate per expert pair."""


rule gate_features:
    input:
        split_data(),
    output:
        f"{RESULTS}/{{dataset}}/moe/features/{{split}}.parquet",
    log:
        f"{LOGS}/{{dataset}}/moe/features_{{split}}.log",
    wildcard_constraints:
        # train: only for the student's teacher (the gate is fit on dev and scored on test)
        split="train|dev|test",
    conda:
        ENV
    threads: 2
    resources:
        mem_mb=mem(6000),
        runtime=30,
        gpu=1,
    params:
        images_dir=lambda w: dataset_config(w.dataset)["images_dir"] or "none",
        settings=stage_settings.gate_features(config),
    shell:
        "$MORE_IE_PYTHON -m more_ie gate-features --split {input:q} --images-dir {params.images_dir:q}"
        " --settings {params.settings:q} --workers {threads} --out {output:q} --log {log:q}"


rule moe:
    input:
        experts=lambda w: [
            f"{d}/{f}"
            for d in dataset_experts(w.dataset).values()
            for f in ("metrics.json", "dev.marginals.parquet", "test.marginals.parquet")
        ],
        dev=split_data("dev"),
        test=split_data("test"),
        dev_features=f"{RESULTS}/{{dataset}}/moe/features/dev.parquet",
        test_features=f"{RESULTS}/{{dataset}}/moe/features/test.parquet",
    output:
        result=report(
            f"{RESULTS}/{{dataset}}/moe_f1.json",
            caption="../report/moe_f1.rst",
            category="Results",
            subcategory="{dataset}",
        ),
        gates=directory(f"{RESULTS}/{{dataset}}/moe/gates"),
    log:
        f"{LOGS}/{{dataset}}/moe.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(4000),
        runtime=30,
    params:
        task=lambda w: dataset_config(w.dataset)["task"],
        experts=lambda w: [f"{name}={folder}" for name, folder in dataset_experts(w.dataset).items()],
        variants=lambda w: moe_variant_args(w.dataset),
        settings=stage_settings.moe(config),
        config_hash=lambda w: result_config_hash(w.dataset),
        imported_views=lambda w: json.dumps(
            config_views.imported_view_sources(config, w.dataset), sort_keys=True
        ),
    shell:
        "$MORE_IE_PYTHON -m more_ie moe --task {params.task:q} --dataset {wildcards.dataset:q} --expert {params.experts:q}"
        " --variant {params.variants:q} --dev {input.dev:q} --test {input.test:q}"
        " --dev-features {input.dev_features:q} --test-features {input.test_features:q} --settings {params.settings:q}"
        " --config-hash {params.config_hash:q} --imported-views {params.imported_views:q} --out {output.result:q} --gates-dir {output.gates:q} --log {log:q}"


rule summary:
    input:
        lambda w: expand(f"{RESULTS}/{{dataset}}/moe_f1.json", dataset=config["datasets"]),
    output:
        csv=report(f"{RESULTS}/summary.csv", caption="../report/summary.rst", category="Tables"),
        md=f"{RESULTS}/summary.md",
        html=report(f"{RESULTS}/summary.html", caption="../report/summary.rst", category="Tables"),
        variants=report(
            f"{RESULTS}/plots/f1_variants.png", caption="../report/f1_variants.rst", category="Plots"
        ),
        gate=report(
            f"{RESULTS}/plots/gate_weights.png", caption="../report/gate_weights.rst", category="Plots"
        ),
        labelwise=report(
            f"{RESULTS}/plots/labelwise_f1.png", caption="../report/labelwise_f1.rst", category="Plots"
        ),
    log:
        f"{LOGS}/summary.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(2000),
        runtime=10,
    params:
        plots_dir=lambda w, output: os.path.dirname(output.variants),
    shell:
        "$MORE_IE_PYTHON -m more_ie summary --csv {output.csv:q} --md {output.md:q} --html {output.html:q}"
        " --plots-dir {params.plots_dir:q} --log {log:q} {input:q}"
