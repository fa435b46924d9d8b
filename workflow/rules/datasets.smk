"""Datasets: source text files (local or downloaded) -> normalized Parquet splits; image check."""


rule prepare_dataset:
    input:
        lambda w: dataset_source_file(w.dataset, w.split),
    output:
        split_data(),
    log:
        f"{LOGS}/{{dataset}}/data/{{split}}.log",
    wildcard_constraints:
        split="train|dev|test",
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(2000),
        runtime=10,
    params:
        format=lambda w: dataset_config(w.dataset)["format"],
        # PrepareSettings as flags, not --settings (stage_settings.prepare_dataset says why)
        label_map=lambda w: stage_settings.prepare_dataset(config, w.dataset)["label_map"],
        no_relation_labels=lambda w: stage_settings.prepare_dataset(config, w.dataset)["no_relation_labels"],
    shell:
        "$MORE_IE_PYTHON -m more_ie prepare-dataset --source {input:q} --format {params.format:q}"
        " --label-map {params.label_map:q} --no-relation-labels {params.no_relation_labels:q}"
        " --out {output:q} --log {log:q}"


rule check_images:
    input:
        [split_data(split) for split in SPLITS],
    output:
        f"{RESULTS}/{{dataset}}/data/missing_images.tsv",
    log:
        f"{LOGS}/{{dataset}}/data/check_images.log",
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(1000),
        runtime=10,
    params:
        images_dir=lambda w: dataset_config(w.dataset)["images_dir"] or "none",
    shell:
        "$MORE_IE_PYTHON -m more_ie check-images --images-dir {params.images_dir:q} --out {output:q} --log {log:q} {input:q}"
