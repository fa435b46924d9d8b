"""The offline demo world: a made-up wiki dump, images and two datasets in the real formats."""


rule demo_world:
    output:
        manifest=f"{DEMO}/MANIFEST.json",
        truth=f"{DEMO}/world.json",
        dump=f"{DEMO}/wiki/demowiki-20260101-pages-articles-multistream.xml.bz2",
        index=f"{DEMO}/wiki/demowiki-20260101-pages-articles-multistream-index.txt.bz2",
        mner=expand(f"{DEMO}/mner/{{split}}.txt", split=["train", "valid", "test"]),
        mnre=[f"{DEMO}/mnre/mnre_train.txt", f"{DEMO}/mnre/mnre_val .txt", f"{DEMO}/mnre/mnre_test.txt"],
        wiki_upload=directory(f"{DEMO}/wiki_upload"),
        mner_images=directory(f"{DEMO}/mner_images"),
        mnre_images=directory(f"{DEMO}/mnre_images"),
    log:
        f"{LOGS}/demo_world.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem(1000),
        runtime=10,
    params:
        out_dir=lambda w, output: os.path.dirname(output.manifest),
        seed=config["demo"]["seed"],
        settings=stage_settings.demo_world(config),
    shell:
        "$MORE_IE_PYTHON -m more_ie demo-world --out {params.out_dir:q} --seed {params.seed:q}"
        " --settings {params.settings:q} --log {log:q}"
