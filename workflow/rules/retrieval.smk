"""Retrieval caches per dataset/split/view: BM25 over the text KC, CLIP + Faiss over the image KC,
and random draws from either (the Table 5 ablation)."""


def retrieval_kc(view):
    """The knowledge corpus a retrieval view reads (the first configured one by default)."""
    return config["retrieval"][view]["kc"] or next(iter(config["knowledge"]))


def text_kc_shards(kc):
    return expand(f"{RESULTS}/knowledge/{kc}/text_kc/{{shard}}.parquet", shard=shard_ids(kc))


rule bm25_shard_index:
    input:
        f"{RESULTS}/knowledge/{{kc}}/text_kc/{{shard}}.parquet",
    output:
        directory(f"{RESULTS}/index/{{kc}}/bm25_shards/{{shard}}"),
    log:
        f"{LOGS}/index/{{kc}}/bm25_shards/{{shard}}.log",
    benchmark:
        f"{BENCH}/index/{{kc}}/bm25_shards/{{shard}}.tsv"
    threads: 2
    resources:
        mem_mb=mem(6000),
        runtime=120,
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie bm25-index --threads {threads} --out {output:q} --log {log:q} {input:q}"


rule bm25_index:
    input:
        lambda w: expand(f"{RESULTS}/index/{w.kc}/bm25_shards/{{shard}}", shard=shard_ids(w.kc)),
    output:
        directory(f"{RESULTS}/index/{{kc}}/bm25"),
    log:
        f"{LOGS}/index/{{kc}}/bm25_merge.log",
    benchmark:
        f"{BENCH}/index/{{kc}}/bm25_merge.tsv"
    threads: 1
    resources:
        mem_mb=mem(6000),
        runtime=240,
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie bm25-merge --out {output:q} --log {log:q} {input:q}"


rule retrieve_text:
    input:
        split=f"{RESULTS}/{{dataset}}/data/{{split}}.parquet",
        index=lambda w: f"{RESULTS}/index/{retrieval_kc('text')}/bm25",
        kc=lambda w: text_kc_shards(retrieval_kc("text")),
    output:
        f"{RESULTS}/{{dataset}}/retrieval/{{split}}.text.parquet",
    params:
        kc_dir=lambda w: f"{RESULTS}/knowledge/{retrieval_kc('text')}/text_kc",
        k=config["retrieval"]["text"]["k"],
        k1=config["retrieval"]["text"]["bm25_k1"],
        b=config["retrieval"]["text"]["bm25_b"],
    log:
        f"{LOGS}/{{dataset}}/retrieval/{{split}}.text.log",
    benchmark:
        f"{BENCH}/{{dataset}}/retrieval/{{split}}.text.tsv"
    threads: 2
    resources:
        mem_mb=mem(6000),
        runtime=60,
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie retrieve-text --split {input.split:q} --index {input.index:q} --kc-dir {params.kc_dir:q}"
        " --k {params.k} --k1 {params.k1} --b {params.b} --threads {threads} --out {output:q} --log {log:q}"


def random_view_kc(view):
    if view == "random_text":
        return text_kc_shards(retrieval_kc("text"))
    return [f"{RESULTS}/knowledge/{retrieval_kc('image')}/image_kc.parquet"]


rule retrieve_random:
    input:
        split=f"{RESULTS}/{{dataset}}/data/{{split}}.parquet",
        kc=lambda w: random_view_kc(w.view),
    output:
        f"{RESULTS}/{{dataset}}/retrieval/{{split}}.{{view}}.parquet",
    wildcard_constraints:
        view="random_text|random_image",
    params:
        k=lambda w: config["retrieval"]["text" if w.view == "random_text" else "image"]["k"],
        seed=config["retrieval"]["seed"],
    log:
        f"{LOGS}/{{dataset}}/retrieval/{{split}}.{{view}}.log",
    threads: 1
    resources:
        mem_mb=mem(4000),
        runtime=20,
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie retrieve-random --split {input.split:q} --view {wildcards.view} --k {params.k}"
        " --seed {params.seed} --out {output:q} --log {log:q} {input.kc:q}"


# ----------------------------------------------------------------------------------------------
# image retrieval: download -> CLIP shards -> Faiss -> per-split queries
# ----------------------------------------------------------------------------------------------

IMAGE = config["retrieval"]["image"]


def clip_args():
    return f"--clip-arch {IMAGE['clip_arch']} --clip-pretrained {IMAGE['clip_pretrained'] or 'none'}"


def clip_shard_ids():
    return [f"{i:05d}" for i in range(IMAGE["shards"])]


rule download_kc_images:
    # The image folder itself is not a declared output: Snakemake would delete it before a rerun,
    # and the downloader resumes from what is there. The manifest records every file's outcome.
    input:
        f"{RESULTS}/knowledge/{{kc}}/image_kc.parquet",
    output:
        manifest=f"{RESULTS}/knowledge/{{kc}}/images_manifest.parquet",
        kc=f"{RESULTS}/knowledge/{{kc}}/image_kc.local.parquet",
    params:
        images_dir=f"{RESULTS}/knowledge/{{kc}}/images",
        max_in_flight=IMAGE["max_in_flight"],
    log:
        f"{LOGS}/knowledge/{{kc}}/download_images.log",
    benchmark:
        f"{BENCH}/knowledge/{{kc}}/download_images.tsv"
    threads: 2
    resources:
        mem_mb=mem(2000),
        runtime=24 * 60,
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie download-images --image-kc {input:q} --images-dir {params.images_dir:q}"
        " --max-in-flight {params.max_in_flight} --manifest {output.manifest:q} --out {output.kc:q} --log {log:q}"


rule clip_encode_kc:
    input:
        f"{RESULTS}/knowledge/{{kc}}/image_kc.local.parquet",
    output:
        emb=f"{RESULTS}/index/{{kc}}/clip/emb/{{shard}}.npy",
        ids=f"{RESULTS}/index/{{kc}}/clip/ids/{{shard}}.parquet",
    params:
        shards=IMAGE["shards"],
        clip=clip_args(),
        batch_size=IMAGE["batch_size"],
    log:
        f"{LOGS}/index/{{kc}}/clip/{{shard}}.log",
    benchmark:
        f"{BENCH}/index/{{kc}}/clip/{{shard}}.tsv"
    threads: 2
    resources:
        mem_mb=mem(8000),
        runtime=12 * 60,
        gpu=1,
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie clip-encode-kc --image-kc {input:q} --shard $((10#{wildcards.shard}))"
        " --shards {params.shards} {params.clip} --batch-size {params.batch_size} --workers {threads}"
        " --emb-out {output.emb:q} --ids-out {output.ids:q} --log {log:q}"


rule image_index:
    input:
        emb=lambda w: expand(f"{RESULTS}/index/{w.kc}/clip/emb/{{shard}}.npy", shard=clip_shard_ids()),
        ids=lambda w: expand(f"{RESULTS}/index/{w.kc}/clip/ids/{{shard}}.parquet", shard=clip_shard_ids()),
    output:
        index=f"{RESULTS}/index/{{kc}}/clip/faiss.index",
        ids=f"{RESULTS}/index/{{kc}}/clip/faiss_ids.parquet",
    params:
        factory=IMAGE["faiss_factory"],
    log:
        f"{LOGS}/index/{{kc}}/clip/faiss.log",
    benchmark:
        f"{BENCH}/index/{{kc}}/clip/faiss.tsv"
    threads: 2
    resources:
        mem_mb=mem(32000),
        runtime=4 * 60,
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie image-index --factory {params.factory:q} --out {output.index:q} --ids-out {output.ids:q}"
        " --log {log:q} {input.emb:q} {input.ids:q}"


rule retrieve_image:
    input:
        split=f"{RESULTS}/{{dataset}}/data/{{split}}.parquet",
        index=lambda w: f"{RESULTS}/index/{retrieval_kc('image')}/clip/faiss.index",
        ids=lambda w: f"{RESULTS}/index/{retrieval_kc('image')}/clip/faiss_ids.parquet",
        kc=lambda w: f"{RESULTS}/knowledge/{retrieval_kc('image')}/image_kc.parquet",
    output:
        f"{RESULTS}/{{dataset}}/retrieval/{{split}}.image.parquet",
    params:
        images_dir=lambda w: dataset_config(w.dataset)["images_dir"] or "none",
        k=IMAGE["k"],
        clip=clip_args(),
        batch_size=IMAGE["batch_size"],
    log:
        f"{LOGS}/{{dataset}}/retrieval/{{split}}.image.log",
    benchmark:
        f"{BENCH}/{{dataset}}/retrieval/{{split}}.image.tsv"
    threads: 2
    resources:
        mem_mb=mem(8000),
        runtime=60,
        gpu=1,
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie retrieve-image --split {input.split:q} --images-dir {params.images_dir:q}"
        " --index {input.index:q} --ids {input.ids:q} --image-kc {input.kc:q} --k {params.k} {params.clip}"
        " --batch-size {params.batch_size} --workers {threads} --out {output:q} --log {log:q}"
