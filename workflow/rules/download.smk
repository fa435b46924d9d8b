"""Downloads of remote inputs (dumps, document files, dataset text files) with checksums."""


rule download:
    output:
        f"{RESULTS}/downloads/{{kind}}/{{name}}/{{file}}",
    log:
        f"{LOGS}/downloads/{{kind}}/{{name}}/{{file}}.log",
    wildcard_constraints:
        kind="knowledge|datasets",
    retries: 2
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(500),
        runtime=24 * 60,
    params:
        url=lambda w: _download_spec(w)["url"],
        sha256=lambda w: _download_spec(w)["sha256"] or "none",
    shell:
        "$MORE_IE_PYTHON -m more_ie download --url {params.url:q} --out {output:q} --sha256 {params.sha256:q} --log {log:q}"
