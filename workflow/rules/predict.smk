"""Prediction on new posts: the run manifest `python -m more_ie predict` reads, and the case-study page."""


rule predict_manifest:
    output:
        f"{RESULTS}/{{dataset}}/predict/run.json",
    log:
        f"{LOGS}/{{dataset}}/predict_manifest.log",
    localrule: True
    threads: 1
    resources:
        mem_mb=mem(500),
        runtime=5,
    params:
        # a params value: editing any setting it holds rewrites the manifest
        manifest=lambda w: json.dumps(predict_manifest(w.dataset), sort_keys=True),
    run:
        write_manifest(output[0], params.manifest, log[0])


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
    log:
        f"{LOGS}/{{dataset}}/case_study.log",
    conda:
        ENV
    threads: 2
    resources:
        mem_mb=mem(6000),
        runtime=30,
    params:
        # the run folder: {run}/{dataset}/case_study.html
        run_dir=lambda w, output: os.path.dirname(os.path.dirname(output[0])),
        posts=CASE_STUDY.posts,
        seed=CASE_STUDY.seed,
    shell:
        "$MORE_IE_PYTHON -m more_ie predict --run-dir {params.run_dir:q} --dataset {wildcards.dataset:q}"
        " --case-study {params.posts:q} --seed {params.seed:q} --threads {threads} --device cpu"
        " --out {output:q} --log {log:q}"
