# MoRe: named entity and relation extraction with multi-modal retrieval.
# Stages live in workflow/rules/ (one file per stage); helpers and config validation in common.smk.
# Paper setup: `snakemake --cores 8`; offline demo: see README.md.


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/knowledge.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/retrieval.smk"
include: "workflow/rules/experts.smk"
include: "workflow/rules/moe.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/student.smk"


rule all:
    default_target: True
    input:
        all_targets(),
        # the distilled students, only where student.enabled (default false) asks for them
        student_targets(),
