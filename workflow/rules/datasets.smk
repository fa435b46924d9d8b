"""Datasets: source text files (local or downloaded) -> normalized Parquet splits; image check."""

SPLITS = ["train", "dev", "test"]


def dataset_config(dataset):
    return config["datasets"][dataset]


def dataset_source_file(dataset, split):
    spec = dataset_config(dataset)["splits"][split]
    if spec["path"]:
        return local_input(f"datasets.{dataset}.splits.{split}.path", spec["path"])
    return download_path("datasets", dataset, spec["url"])


rule prepare_dataset:
    input:
        lambda w: dataset_source_file(w.dataset, w.split),
    output:
        f"{RESULTS}/{{dataset}}/data/{{split}}.parquet",
    wildcard_constraints:
        split="train|dev|test",
    params:
        format=lambda w: dataset_config(w.dataset)["format"],
        label_map=lambda w: " ".join(f"{k}={v}" for k, v in sorted(dataset_config(w.dataset)["label_map"].items())),
    log:
        f"{LOGS}/{{dataset}}/data/{{split}}.log",
    threads: 1
    resources:
        mem_mb=mem(2000),
        runtime=10,
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie prepare-dataset --source {input:q} --format {params.format}"
        " --label-map {params.label_map} --out {output:q} --log {log:q}"


rule check_images:
    input:
        expand(f"{RESULTS}/{{{{dataset}}}}/data/{{split}}.parquet", split=SPLITS),
    output:
        f"{RESULTS}/{{dataset}}/data/missing_images.tsv",
    params:
        images_dir=lambda w: dataset_config(w.dataset)["images_dir"] or "none",
    log:
        f"{LOGS}/{{dataset}}/data/check_images.log",
    threads: 1
    resources:
        mem_mb=mem(1000),
        runtime=10,
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie check-images --images-dir {params.images_dir:q} --out {output:q} --log {log:q} {input:q}"
