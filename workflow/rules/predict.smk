"""Prediction on new posts: the run manifest `python -m more_ie predict` reads, and the case-study page."""


rule predict_manifest:
    output:
        f"{RESULTS}/{{dataset}}/predict/run.json",
    params:
        # a params value: editing any setting it holds rewrites the manifest
        manifest=lambda w: json.dumps(predict_manifest(w.dataset), sort_keys=True),
    log:
        f"{LOGS}/{{dataset}}/predict_manifest.log",
    threads: 1
    resources:
        mem_mb=mem(500),
        runtime=5,
    localrule: True
    run:
        from more_ie.utils import write_json

        write_json(output[0], json.loads(params.manifest))
        Path(log[0]).parent.mkdir(parents=True, exist_ok=True)
        Path(log[0]).write_text(f"wrote {output[0]}\n")


rule case_study:
    input:
        unpack(case_study_inputs),
    output:
        report(
            f"{RESULTS}/{{dataset}}/case_study.html",
            caption="../report/case_study.rst",
            category="Case study",
            subcategory="{dataset}",
        ),
    params:
        run_dir=RESULTS,
        posts=CASE_STUDY_POSTS,
        seed=CASE_STUDY_SEED,
    log:
        f"{LOGS}/{{dataset}}/case_study.log",
    threads: 2
    resources:
        mem_mb=mem(6000),
        runtime=30,
    conda:
        ENV
    shell:
        "{PYTHON} -m more_ie predict --run-dir {params.run_dir:q} --dataset {wildcards.dataset:q}"
        " --case-study {params.posts:q} --seed {params.seed:q} --threads {threads} --device cpu"
        " --out {output:q} --log {log:q}"
