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
        settings=lambda w: stage_settings.corpus_shard(config, w.kc, kc_shard_source(w.kc, w.shard)[1]),
    shell:
        "$MORE_IE_PYTHON -m more_ie corpus-shard --kind {params.kind:q} --source {input.source:q} {params.index_arg}"
        " --shard {params.local_shard:q} --shards {params.shards:q} --settings {params.settings:q}"
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
        settings=lambda w: stage_settings.text_kc(config, w.kc),
    shell:
        "$MORE_IE_PYTHON -m more_ie text-kc --shard-file {input.shard:q} --redirects {input.redirects:q}"
        " --shard $((10#{wildcards.shard})) --settings {params.settings:q} --out {output:q} --log {log:q}"


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
        settings=lambda w: stage_settings.image_kc(config, w.kc),
    shell:
        "$MORE_IE_PYTHON -m more_ie image-kc --redirects {input.redirects:q} --settings {params.settings:q}"
        " --out {output:q} --log {log:q} {input.shards:q}"
