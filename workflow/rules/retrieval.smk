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
        mem_mb=6000,
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
        mem_mb=6000,
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
        mem_mb=6000,
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
        mem_mb=4000,
        runtime=20,
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie retrieve-random --split {input.split:q} --view {wildcards.view} --k {params.k}"
        " --seed {params.seed} --out {output:q} --log {log:q} {input.kc:q}"
