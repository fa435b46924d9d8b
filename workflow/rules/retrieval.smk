"""Retrieval caches per dataset/split/view: BM25 over the text KC, CLIP + Faiss over the image KC,
and random draws from either (the Table 5 ablation)."""


rule bm25_shard_index:
    input:
        f"{RESULTS}/knowledge/{{kc}}/text_kc/{{shard}}.parquet",
    output:
        directory(f"{RESULTS}/index/{{kc}}/bm25_shards/{{shard}}"),
    log:
        f"{LOGS}/index/{{kc}}/bm25_shards/{{shard}}.log",
    benchmark:
        f"{BENCH}/index/{{kc}}/bm25_shards/{{shard}}.tsv"
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 2
    resources:
        mem_mb=mem(6000),
        runtime=120,
    shell:
        "$MORE_IE_PYTHON -m more_ie bm25-index --threads {threads} --out {output:q} --log {log:q} {input:q}"


rule bm25_index:
    input:
        lambda w: expand(f"{RESULTS}/index/{w.kc}/bm25_shards/{{shard}}", shard=shard_ids(w.kc)),
    output:
        directory(f"{RESULTS}/index/{{kc}}/bm25"),
    log:
        f"{LOGS}/index/{{kc}}/bm25_merge.log",
    benchmark:
        f"{BENCH}/index/{{kc}}/bm25_merge.tsv"
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(6000),
        runtime=240,
    shell:
        "$MORE_IE_PYTHON -m more_ie bm25-merge --out {output:q} --log {log:q} {input:q}"


rule retrieve_text:
    input:
        split=split_data(),
        index=lambda w: f"{RESULTS}/index/{retrieval_kc('text')}/bm25",
        kc=lambda w: text_kc_shards(retrieval_kc("text")),
    output:
        f"{RESULTS}/{{dataset}}/retrieval/{{split}}.text.parquet",
    log:
        f"{LOGS}/{{dataset}}/retrieval/{{split}}.text.log",
    benchmark:
        f"{BENCH}/{{dataset}}/retrieval/{{split}}.text.tsv"
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 2
    resources:
        mem_mb=mem(6000),
        runtime=60,
    params:
        kc_dir=lambda w: f"{RESULTS}/knowledge/{retrieval_kc('text')}/text_kc",
        settings=stage_settings.retrieve_text(config),
    shell:
        "$MORE_IE_PYTHON -m more_ie retrieve-text --split {input.split:q} --index {input.index:q} --kc-dir {params.kc_dir:q}"
        " --settings {params.settings:q} --threads {threads} --out {output:q} --log {log:q}"


rule retrieve_random:
    input:
        split=split_data(),
        kc=lambda w: random_view_kc(w.view),
    output:
        f"{RESULTS}/{{dataset}}/retrieval/{{split}}.{{view}}.parquet",
    log:
        f"{LOGS}/{{dataset}}/retrieval/{{split}}.{{view}}.log",
    wildcard_constraints:
        view="random_text|random_image",
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(4000),
        runtime=20,
    params:
        settings=lambda w: stage_settings.retrieve_random(config, w.view),
    shell:
        "$MORE_IE_PYTHON -m more_ie retrieve-random --split {input.split:q} --view {wildcards.view:q}"
        " --settings {params.settings:q} --out {output:q} --log {log:q} {input.kc:q}"


rule import_contexts:
    # An imported view (datasets.<name>.contexts): knowledge computed elsewhere, joined to the split
    # and written as the same cache BM25 and CLIP write (more_ie.contexts).
    input:
        split=split_data(),
        source=context_source_file,
    output:
        f"{RESULTS}/{{dataset}}/retrieval/{{split}}.{{view}}.parquet",
    log:
        f"{LOGS}/{{dataset}}/retrieval/{{split}}.{{view}}.log",
    wildcard_constraints:
        view=IMPORTED_VIEW_PATTERN,
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(2000),
        runtime=20,
    params:
        settings=lambda w: stage_settings.import_contexts(config, w.dataset, w.view),
    shell:
        "$MORE_IE_PYTHON -m more_ie import-contexts --split {input.split:q} --file {input.source:q}"
        " --view {wildcards.view:q} --settings {params.settings:q} --out {output:q} --log {log:q}"


rule randomize_contexts:
    # random_<imported>: each sample gets another sample's imported contexts (the Table 5 ablation).
    input:
        lambda w: f"{RESULTS}/{w.dataset}/retrieval/{w.split}.{w.view[len('random_'):]}.parquet",
    output:
        f"{RESULTS}/{{dataset}}/retrieval/{{split}}.{{view}}.parquet",
    log:
        f"{LOGS}/{{dataset}}/retrieval/{{split}}.{{view}}.log",
    wildcard_constraints:
        view=RANDOM_IMPORTED_VIEW_PATTERN,
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(2000),
        runtime=20,
    params:
        settings=stage_settings.randomize_contexts(config),
    shell:
        "$MORE_IE_PYTHON -m more_ie randomize-contexts --cache {input:q} --view {wildcards.view:q}"
        " --settings {params.settings:q} --out {output:q} --log {log:q}"


# ----------------------------------------------------------------------------------------------
# image retrieval: download -> CLIP shards -> Faiss -> per-split queries
# ----------------------------------------------------------------------------------------------


rule download_kc_images:
    # The image folder itself is not a declared output: Snakemake would delete it before a rerun,
    # and the downloader resumes from what is there. Each shard job fetches every
    # `download_shards`-th image into the shared folder and records every file's outcome.
    input:
        f"{RESULTS}/knowledge/{{kc}}/image_kc.parquet",
    output:
        f"{RESULTS}/knowledge/{{kc}}/images_manifest/{{shard}}.parquet",
    log:
        f"{LOGS}/knowledge/{{kc}}/download_images/{{shard}}.log",
    benchmark:
        f"{BENCH}/knowledge/{{kc}}/download_images/{{shard}}.tsv"
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 2
    resources:
        mem_mb=mem(2000),
        runtime=24 * 60,
    params:
        images_dir=f"{RESULTS}/knowledge/{{kc}}/images",
        shards=lambda w: kc_config(w.kc)["images"]["download_shards"],
        settings=lambda w: stage_settings.download_images(config, w.kc),
    shell:
        "$MORE_IE_PYTHON -m more_ie download-images --log {log:q} --image-kc {input:q} --images-dir {params.images_dir:q}"
        " --shard $((10#{wildcards.shard})) --shards {params.shards:q} --settings {params.settings:q} --manifest {output:q}"


rule merge_kc_images_manifests:
    input:
        kc=f"{RESULTS}/knowledge/{{kc}}/image_kc.parquet",
        manifests=lambda w: expand(
            f"{RESULTS}/knowledge/{w.kc}/images_manifest/{{shard}}.parquet",
            shard=image_download_shard_ids(w.kc),
        ),
    output:
        manifest=f"{RESULTS}/knowledge/{{kc}}/images_manifest.parquet",
        kc=f"{RESULTS}/knowledge/{{kc}}/image_kc.local.parquet",
    log:
        f"{LOGS}/knowledge/{{kc}}/download_images.log",
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(2000),
        runtime=30,
    shell:
        "$MORE_IE_PYTHON -m more_ie merge-image-manifests --log {log:q} --image-kc {input.kc:q} --manifest-out {output.manifest:q}"
        " --out {output.kc:q} {input.manifests:q}"


rule clip_encode_kc:
    input:
        f"{RESULTS}/knowledge/{{kc}}/image_kc.local.parquet",
    output:
        emb=f"{RESULTS}/index/{{kc}}/clip/emb/{{shard}}.npy",
        ids=f"{RESULTS}/index/{{kc}}/clip/ids/{{shard}}.parquet",
    log:
        f"{LOGS}/index/{{kc}}/clip/{{shard}}.log",
    benchmark:
        f"{BENCH}/index/{{kc}}/clip/{{shard}}.tsv"
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 2
    resources:
        mem_mb=mem(8000),
        runtime=12 * 60,
        gpu=1,
    params:
        shards=IMAGE["shards"],
        settings=stage_settings.clip_encode_kc(config),
    shell:
        "$MORE_IE_PYTHON -m more_ie clip-encode-kc --image-kc {input:q} --shard $((10#{wildcards.shard}))"
        " --shards {params.shards:q} --settings {params.settings:q} --workers {threads}"
        " --emb-out {output.emb:q} --ids-out {output.ids:q} --log {log:q}"


rule image_index:
    input:
        emb=lambda w: expand(f"{RESULTS}/index/{w.kc}/clip/emb/{{shard}}.npy", shard=clip_shard_ids()),
        ids=lambda w: expand(f"{RESULTS}/index/{w.kc}/clip/ids/{{shard}}.parquet", shard=clip_shard_ids()),
    output:
        index=f"{RESULTS}/index/{{kc}}/clip/faiss.index",
        ids=f"{RESULTS}/index/{{kc}}/clip/faiss_ids.parquet",
    log:
        f"{LOGS}/index/{{kc}}/clip/faiss.log",
    benchmark:
        f"{BENCH}/index/{{kc}}/clip/faiss.tsv"
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 2
    resources:
        mem_mb=mem(32000),
        runtime=4 * 60,
        # Faiss builds on the GPU where faiss_device lets it (auto: with the GPU wheel, pip install .[gpu])
        gpu=0 if IMAGE["faiss_device"] == "cpu" else 1,
    params:
        settings=stage_settings.image_index(config),
    shell:
        "$MORE_IE_PYTHON -m more_ie image-index --settings {params.settings:q} --out {output.index:q} --ids-out {output.ids:q}"
        " --log {log:q} --emb {input.emb:q} --ids {input.ids:q}"


rule retrieve_image:
    input:
        split=split_data(),
        index=lambda w: f"{RESULTS}/index/{retrieval_kc('image')}/clip/faiss.index",
        ids=lambda w: f"{RESULTS}/index/{retrieval_kc('image')}/clip/faiss_ids.parquet",
        kc=lambda w: f"{RESULTS}/knowledge/{retrieval_kc('image')}/image_kc.parquet",
    output:
        f"{RESULTS}/{{dataset}}/retrieval/{{split}}.image.parquet",
    log:
        f"{LOGS}/{{dataset}}/retrieval/{{split}}.image.log",
    benchmark:
        f"{BENCH}/{{dataset}}/retrieval/{{split}}.image.tsv"
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 2
    resources:
        mem_mb=mem(8000),
        runtime=60,
        gpu=1,
    params:
        images_dir=lambda w: dataset_config(w.dataset)["images_dir"] or "none",
        settings=stage_settings.retrieve_image(config),
    shell:
        "$MORE_IE_PYTHON -m more_ie retrieve-image --split {input.split:q} --images-dir {params.images_dir:q}"
        " --index {input.index:q} --ids {input.ids:q} --image-kc {input.kc:q} --settings {params.settings:q}"
        " --workers {threads} --out {output:q} --log {log:q}"
