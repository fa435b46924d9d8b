"""Downloads of remote inputs (dumps, document files, dataset text files) with checksums."""


def _download_spec(wildcards):
    """Find the URL (and checksum) in the config that maps to this download path."""
    wanted = f"{RESULTS}/downloads/{wildcards.kind}/{wildcards.name}/{wildcards.file}"
    if wildcards.kind == "knowledge" and wildcards.name in config["knowledge"]:
        source = kc_config(wildcards.name)["source"]
        for url_key, sha_key in (("url", "sha256"), ("index_url", None)):
            url = source.get(url_key)
            if url and download_path("knowledge", wildcards.name, url) == wanted:
                return {"url": url, "sha256": source.get(sha_key) if sha_key else None}
    if wildcards.kind == "datasets" and wildcards.name in config["datasets"]:
        for spec in config["datasets"][wildcards.name]["splits"].values():
            if spec.get("url") and download_path("datasets", wildcards.name, spec["url"]) == wanted:
                return {"url": spec["url"], "sha256": spec.get("sha256")}
    raise WorkflowError(f"no URL in the config downloads to {wanted}")


rule download:
    output:
        f"{RESULTS}/downloads/{{kind}}/{{name}}/{{file}}",
    wildcard_constraints:
        kind="knowledge|datasets",
    params:
        url=lambda w: _download_spec(w)["url"],
        sha256=lambda w: _download_spec(w)["sha256"] or "none",
    log:
        f"{LOGS}/downloads/{{kind}}/{{name}}/{{file}}.log",
    threads: 1
    resources:
        mem_mb=mem(500),
        runtime=24 * 60,
    retries: 2
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie download --url {params.url:q} --out {output:q} --sha256 {params.sha256} --log {log:q}"
