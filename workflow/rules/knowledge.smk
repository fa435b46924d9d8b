"""Knowledge corpora: source -> corpus shards -> redirect map -> text KC shards + image KC."""


rule corpus_shard:
    input:
        source=lambda w: kc_source_file(w.kc, w.shard),
        index=lambda w: [kc_index_file(w.kc, w.shard)] if kc_index_file(w.kc, w.shard) else [],
    output:
        f"{RESULTS}/knowledge/{{kc}}/shards/{{shard}}.parquet",
    log:
        f"{LOGS}/knowledge/{{kc}}/shards/{{shard}}.log",
    benchmark:
        f"{BENCH}/knowledge/{{kc}}/shards/{{shard}}.tsv"
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(3000),
        runtime=120,
    params:
        # A KC shard is shard `local_shard` of `shards` of one of the KC's sources (see kc_sources).
        kind=lambda w: kc_shard_source(w.kc, w.shard)[1]["kind"],
        local_shard=lambda w: kc_shard_source(w.kc, w.shard)[2],
        shards=lambda w: kc_shard_source(w.kc, w.shard)[3],
        # Already shell-quoted (shlex.quote): an option that is there only with an index.
        index_arg=lambda w: (
            f"--index {shlex.quote(kc_index_file(w.kc, w.shard))}" if kc_index_file(w.kc, w.shard) else ""
        ),
        max_page_chars=lambda w: kc_config(w.kc)["max_page_chars"],
        title_field=lambda w: kc_shard_source(w.kc, w.shard)[1]["title_field"],
        text_field=lambda w: kc_shard_source(w.kc, w.shard)[1]["text_field"],
        images_field=lambda w: kc_shard_source(w.kc, w.shard)[1]["images_field"],
    shell:
        "$MORE_IE_PYTHON -m more_ie corpus-shard --kind {params.kind:q} --source {input.source:q} {params.index_arg}"
        " --shard {params.local_shard:q} --shards {params.shards:q} --max-page-chars {params.max_page_chars:q}"
        " --title-field {params.title_field:q} --text-field {params.text_field:q} --images-field {params.images_field:q}"
        " --out {output:q} --log {log:q}"


rule redirects:
    input:
        lambda w: expand(f"{RESULTS}/knowledge/{w.kc}/shards/{{shard}}.parquet", shard=shard_ids(w.kc)),
    output:
        f"{RESULTS}/knowledge/{{kc}}/redirects.parquet",
    log:
        f"{LOGS}/knowledge/{{kc}}/redirects.log",
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(4000),
        runtime=30,
    shell:
        "$MORE_IE_PYTHON -m more_ie redirects --out {output:q} --log {log:q} {input:q}"


rule text_kc:
    input:
        shard=f"{RESULTS}/knowledge/{{kc}}/shards/{{shard}}.parquet",
        redirects=f"{RESULTS}/knowledge/{{kc}}/redirects.parquet",
    output:
        f"{RESULTS}/knowledge/{{kc}}/text_kc/{{shard}}.parquet",
    log:
        f"{LOGS}/knowledge/{{kc}}/text_kc/{{shard}}.log",
    benchmark:
        f"{BENCH}/knowledge/{{kc}}/text_kc/{{shard}}.tsv"
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(4000),
        runtime=60,
    params:
        include_disambiguation=lambda w: (
            "--include-disambiguation" if kc_config(w.kc)["include_disambiguation"] else ""
        ),
        min_sentence_chars=lambda w: kc_config(w.kc)["min_sentence_chars"],
    shell:
        "$MORE_IE_PYTHON -m more_ie text-kc --shard-file {input.shard:q} --redirects {input.redirects:q}"
        " --shard $((10#{wildcards.shard})) {params.include_disambiguation}"
        " --min-sentence-chars {params.min_sentence_chars:q} --out {output:q} --log {log:q}"


rule image_kc:
    input:
        shards=lambda w: expand(f"{RESULTS}/knowledge/{w.kc}/shards/{{shard}}.parquet", shard=shard_ids(w.kc)),
        redirects=f"{RESULTS}/knowledge/{{kc}}/redirects.parquet",
    output:
        f"{RESULTS}/knowledge/{{kc}}/image_kc.parquet",
    log:
        f"{LOGS}/knowledge/{{kc}}/image_kc.log",
    priority: RETRIEVAL_PRIORITY
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(4000),
        runtime=30,
    params:
        include_disambiguation=lambda w: (
            "--include-disambiguation" if kc_config(w.kc)["include_disambiguation"] else ""
        ),
        upload_base=lambda w: kc_config(w.kc)["images"]["upload_base"],
        thumb_width=lambda w: kc_config(w.kc)["images"]["thumb_width"] or "none",
    shell:
        "$MORE_IE_PYTHON -m more_ie image-kc --redirects {input.redirects:q} {params.include_disambiguation}"
        " --upload-base {params.upload_base:q} --thumb-width {params.thumb_width:q}"
        " --out {output:q} --log {log:q} {input.shards:q}"
