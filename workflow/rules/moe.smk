"""Mixture of experts: gate features (CLIP text + image) and the gate over frozen experts."""

import json

MOE = config["moe"]


def variant_experts(variant):
    """The two experts a variant combines, e.g. text+text -> text-s<seed1>, text-s<seed2>."""
    a, b = variant.split("+")
    seeds = config["experts"]["seeds"]
    return (f"{a}-s{seeds[0]}", f"{b}-s{seeds[1]}") if a == b else (f"{a}-s{seeds[0]}", f"{b}-s{seeds[0]}")


def dataset_experts(dataset):
    return {f"{view}-s{seed}": expert_dir(dataset, view, seed)
            for view in config["experts"]["views"] for seed in expert_seeds(view)}


def result_config_hash(dataset):
    """Hash of the config blocks a dataset's result depends on (recorded in moe_f1.json)."""
    from more_ie.moe import config_hash

    kcs = {retrieval_kc("text"), retrieval_kc("image")}
    return config_hash({
        "knowledge": {k: config["knowledge"][k] for k in sorted(kcs)},
        "dataset": config["datasets"][dataset],
        **{key: config[key] for key in ("retrieval", "experts", "moe")},
    })


rule gate_features:
    input:
        f"{RESULTS}/{{dataset}}/data/{{split}}.parquet",
    output:
        f"{RESULTS}/{{dataset}}/moe/features/{{split}}.parquet",
    wildcard_constraints:
        split="dev|test",
    params:
        images_dir=lambda w: dataset_config(w.dataset)["images_dir"] or "none",
        clip=clip_args(),
        batch_size=IMAGE["batch_size"],
    log:
        f"{LOGS}/{{dataset}}/moe/features_{{split}}.log",
    threads: 2
    resources:
        mem_mb=mem(6000),
        runtime=30,
        gpu=1,
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie gate-features --split {input:q} --images-dir {params.images_dir:q} {params.clip}"
        " --batch-size {params.batch_size} --workers {threads} --out {output:q} --log {log:q}"


rule moe:
    input:
        experts=lambda w: [f"{d}/{f}" for d in dataset_experts(w.dataset).values()
                           for f in ("metrics.json", "dev.marginals.parquet", "test.marginals.parquet")],
        dev=f"{RESULTS}/{{dataset}}/data/dev.parquet",
        test=f"{RESULTS}/{{dataset}}/data/test.parquet",
        dev_features=f"{RESULTS}/{{dataset}}/moe/features/dev.parquet",
        test_features=f"{RESULTS}/{{dataset}}/moe/features/test.parquet",
    output:
        report(
            f"{RESULTS}/{{dataset}}/moe_f1.json",
            caption="../report/moe_f1.rst",
            category="Results",
            subcategory="{dataset}",
        ),
    params:
        task=lambda w: dataset_config(w.dataset)["task"],
        experts=lambda w: " ".join(f"{name}={folder}" for name, folder in dataset_experts(w.dataset).items()),
        variants=" ".join(f"{v}={','.join(variant_experts(v))}" for v in MOE["variants"]),
        gate=MOE["gate"],
        epochs=MOE["epochs"],
        batch_size=MOE["batch_size"],
        lr=MOE["lr"],
        config_hash=lambda w: result_config_hash(w.dataset),
    log:
        f"{LOGS}/{{dataset}}/moe.log",
    threads: 1
    resources:
        mem_mb=mem(4000),
        runtime=30,
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie moe --task {params.task} --dataset {wildcards.dataset} --expert {params.experts}"
        " --variant {params.variants} --dev {input.dev:q} --test {input.test:q}"
        " --dev-features {input.dev_features:q} --test-features {input.test_features:q} --gate {params.gate}"
        " --epochs {params.epochs} --batch-size {params.batch_size} --lr {params.lr}"
        " --config-hash {params.config_hash} --out {output:q} --log {log:q}"


rule summary:
    input:
        lambda w: expand(f"{RESULTS}/{{dataset}}/moe_f1.json", dataset=config["datasets"]),
    output:
        csv=report(f"{RESULTS}/summary.csv", caption="../report/summary.rst", category="Tables"),
        md=f"{RESULTS}/summary.md",
        html=report(f"{RESULTS}/summary.html", caption="../report/summary.rst", category="Tables"),
        variants=report(f"{RESULTS}/plots/f1_variants.png", caption="../report/f1_variants.rst", category="Plots"),
        gate=report(f"{RESULTS}/plots/gate_weights.png", caption="../report/gate_weights.rst", category="Plots"),
        labelwise=report(f"{RESULTS}/plots/labelwise_f1.png", caption="../report/labelwise_f1.rst", category="Plots"),
    params:
        plots_dir=f"{RESULTS}/plots",
    log:
        f"{LOGS}/summary.log",
    threads: 1
    resources:
        mem_mb=mem(2000),
        runtime=10,
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie summary --csv {output.csv:q} --md {output.md:q} --html {output.html:q}"
        " --plots-dir {params.plots_dir:q} --log {log:q} {input:q}"
