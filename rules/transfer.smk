# Transfer learning: generate a fractal source, pretrain a ResNet-34 body on each body's sources, fine-tune
# every body (and scratch) on the target classes at several label budgets, probe the bodies, aggregate.
TRANSFER = config["transfer"]
TRANSFER_DATA = image_npz(TRANSFER["dataset"])
FAMILIES = transfer_families(TRANSFER)
JOB_FAMILIES, JOB_BUDGETS = transfer_job_columns(
    TRANSFER
)  # (family, budget) of every fine-tuning job
OWN = [b for b in TRANSFER["bodies"] if b in OWN_BODIES]  # the bodies this pipeline pretrains
BUDGET_DIR = f"{OUT}/transfer/finetune/{{family}}/budget~{{budget}}"
FRACTALS = f"{OUT}/transfer/fractal/images.npz"
# the bodies and their probe first (a body's fine-tuning jobs wait on it), then fine-tuning by budget,
# largest first: the longest jobs start early and the stage ends on short ones, so no core idles at its end;
# other stages keep priority 0 and, on few cores, run after this one, the longest path of the pipeline
BODIES_FIRST = max(TRANSFER["budgets"]) + 1


rule fractal_images:
    output:
        images=FRACTALS,
        samples=report(
            f"{OUT}/transfer/fractal/samples.png",
            caption="../workflow/report/transfer_fractals.rst",
            category="Transfer learning",
            labels={"figure": "fractal source: sample classes"},
        ),
    log:
        f"{LOGS}/fractal_images.log",
    benchmark:
        f"{BENCH}/fractal_images.tsv"
    priority: BODIES_FIRST
    conda:
        "../environment.yml"
    resources:
        runtime=20,
        mem_mb=2000,
    params:
        fractal=TRANSFER["fractal"],
        size=TRANSFER["size"],
        seed=config["seed"],
    script:
        "../workflow/scripts/fractal_images.py"


rule pretrain_body:
    input:
        fractals=lambda wc: FRACTALS if FRACTAL_SOURCE in BODY_SOURCES[wc.source] else [],
        dataset=lambda wc: TRANSFER_DATA if CLASS_SOURCE in BODY_SOURCES[wc.source] else [],
    output:
        body=f"{BODY_DIR}/body.pt",
        history=f"{BODY_DIR}/history.tsv",
    log:
        f"{LOGS}/pretrain_body/{{source}}.log",
    benchmark:
        f"{BENCH}/pretrain_body/{{source}}.tsv"
    wildcard_constraints:
        source="|".join(OWN_BODIES),
    priority: BODIES_FIRST
    conda:
        "../environment.yml"
    threads: TRANSFER["threads"]
    resources:
        runtime=60,
        mem_mb=4000,
        gpu=1 if TRANSFER["device"] == "cuda" else 0,
    params:
        job=lambda wc: pretrain_params(TRANSFER, wc.source),
        seed=config["seed"],
        checkpoints=lambda wc: f"{CKPT}/pretrain_body/{wc.source}",
    script:
        "../workflow/scripts/pretrain_body.py"


rule finetune:
    input:
        data=TRANSFER_DATA,
        body=lambda wc: body_file(wc.family),
    output:
        runs=f"{BUDGET_DIR}/runs.tsv",
        lr_find=f"{BUDGET_DIR}/lr_find.tsv",
        iterations=f"{BUDGET_DIR}/iterations.parquet",
        confusion=f"{BUDGET_DIR}/confusion.tsv",
        lr_select=f"{BUDGET_DIR}/lr_select.tsv",
    log:
        f"{LOGS}/finetune/{{family}}/budget~{{budget}}.log",
    benchmark:
        f"{BENCH}/finetune/{{family}}/budget~{{budget}}.tsv"
    wildcard_constraints:
        family="|".join(FAMILIES),
        budget=r"\d+",
    priority: lambda wc: int(wc.budget)
    conda:
        "../environment.yml"
    threads: TRANSFER["threads"]
    resources:
        runtime=60,
        mem_mb=3000,
        gpu=1 if TRANSFER["device"] == "cuda" else 0,
    params:
        job=lambda wc: transfer_finetune_params(TRANSFER, wc.family, int(wc.budget)),
        valid_seed=config["seed"],
        checkpoints=lambda wc: f"{CKPT}/finetune/{wc.family}/budget~{wc.budget}",
    script:
        "../workflow/scripts/finetune.py"


rule transfer_probe:
    input:
        data=TRANSFER_DATA,
        bodies=[body_file(b) for b in OWN],
    output:
        f"{OUT}/transfer/probe.tsv",
    log:
        f"{LOGS}/transfer_probe.log",
    benchmark:
        f"{BENCH}/transfer_probe.tsv"
    priority: BODIES_FIRST
    conda:
        "../environment.yml"
    threads: TRANSFER["threads"]
    resources:
        runtime=20,
        mem_mb=3000,
    params:
        probe=probe_params(TRANSFER),
        valid_seed=config["seed"],
        seed=config["seed"],
    script:
        "../workflow/scripts/transfer_probe.py"


rule aggregate_transfer:
    input:
        runs=expand(f"{BUDGET_DIR}/runs.tsv", zip, family=JOB_FAMILIES, budget=JOB_BUDGETS),
        lr_find=expand(f"{BUDGET_DIR}/lr_find.tsv", zip, family=JOB_FAMILIES, budget=JOB_BUDGETS),
        iterations=expand(
            f"{BUDGET_DIR}/iterations.parquet", zip, family=JOB_FAMILIES, budget=JOB_BUDGETS
        ),
        confusions=expand(
            f"{BUDGET_DIR}/confusion.tsv", zip, family=JOB_FAMILIES, budget=JOB_BUDGETS
        ),
        lr_select=expand(
            f"{BUDGET_DIR}/lr_select.tsv", zip, family=JOB_FAMILIES, budget=JOB_BUDGETS
        ),
        probe=rules.transfer_probe.output[0],
        histories=expand(f"{BODY_DIR}/history.tsv", source=OWN),
    output:
        table=report(
            f"{OUT}/transfer/strategies.tsv",
            caption="../workflow/report/transfer_table.rst",
            category="Transfer learning",
            labels={"figure": "error by label budget and strategy"},
        ),
        paired=report(
            f"{OUT}/transfer/paired.tsv",
            caption="../workflow/report/transfer_paired.rst",
            category="Transfer learning",
            labels={"figure": "discriminative minus scratch, per seed"},
        ),
        curve=report(
            f"{OUT}/transfer/budget_curve.png",
            caption="../workflow/report/transfer_budget_curve.rst",
            category="Transfer learning",
            labels={"figure": "label-budget curve"},
        ),
        probe_paired=report(
            f"{OUT}/transfer/probe_paired.tsv",
            caption="../workflow/report/transfer_probe_paired.rst",
            category="Transfer learning",
            labels={"figure": "linear probes: each body minus the random one, per seed"},
        ),
        lr_select=report(
            f"{OUT}/transfer/lr_select.tsv",
            caption="../workflow/report/transfer_lr_select.rst",
            category="Transfer learning",
            labels={"figure": "lr scales tried on the dev set (table)"},
        ),
        lr_select_plot=report(
            f"{OUT}/transfer/lr_select.png",
            caption="../workflow/report/transfer_lr_select.rst",
            category="Transfer learning",
            labels={"figure": "lr scales tried on the dev set"},
        ),
        lr_find_frozen=report(
            f"{OUT}/transfer/lr_find_frozen.png",
            caption="../workflow/report/transfer_lr_find.rst",
            category="Transfer learning",
            labels={"figure": "lr finder: frozen"},
        ),
        lr_find_unfrozen=report(
            f"{OUT}/transfer/lr_find_unfrozen.png",
            caption="../workflow/report/transfer_lr_find.rst",
            category="Transfer learning",
            labels={"figure": "lr finder: unfrozen"},
        ),
        lr_find_scratch=report(
            f"{OUT}/transfer/lr_find_scratch.png",
            caption="../workflow/report/transfer_lr_find.rst",
            category="Transfer learning",
            labels={"figure": "lr finder: scratch"},
        ),
        probe_plot=report(
            f"{OUT}/transfer/probe.png",
            caption="../workflow/report/transfer_probe.rst",
            category="Transfer learning",
            labels={"figure": "linear probes by layer"},
        ),
        curves=report(
            f"{OUT}/transfer/curves.png",
            caption="../workflow/report/transfer_curves.rst",
            category="Transfer learning",
            labels={"figure": "training curves"},
        ),
        confusion=report(
            f"{OUT}/transfer/confusion.png",
            caption="../workflow/report/transfer_confusion.rst",
            category="Transfer learning",
            labels={"figure": "confusion matrix"},
        ),
    log:
        f"{LOGS}/aggregate_transfer.log",
    benchmark:
        f"{BENCH}/aggregate_transfer.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=5,
        mem_mb=1000,
    params:
        comparisons=transfer_comparisons(TRANSFER),
        class_names=[CLASS_NAMES[TRANSFER["dataset"]][k] for k in TRANSFER["target_classes"]],
        confusion_budget=TRANSFER["confusion_budget"],
        title=(
            f"ResNet-34 on {TRANSFER['dataset']} classes {TRANSFER['target_classes']}, "
            f"{TRANSFER['size']} px"
        ),
    script:
        "../workflow/scripts/aggregate_transfer.py"


rule prepare_pets:
    output:
        "results/data/pets/images.npz",
    log:
        f"{SHARED_LOGS}/prepare_pets.log",
    benchmark:
        f"{SHARED_BENCH}/prepare_pets.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=60,
        mem_mb=8000,
    params:
        pets=config["pets"],
    script:
        "../workflow/scripts/prepare_pets.py"


rule transfer_lesson:
    input:
        data=rules.prepare_pets.output[0],
        reference=workflow.source_path("../workflow/resources/reference_numbers.tsv"),
    output:
        history=f"{OUT}/transfer/lesson/history.tsv",
        comparison=report(
            f"{OUT}/transfer/lesson/comparison.tsv",
            caption="../workflow/report/transfer_lesson.rst",
            category="Transfer learning",
            labels={"figure": "lesson scale: pets"},
        ),
    log:
        f"{LOGS}/transfer_lesson.log",
    benchmark:
        f"{BENCH}/transfer_lesson.tsv"
    conda:
        "../environment.yml"
    threads: 8
    resources:
        runtime=120,
        mem_mb=24000,
        gpu=1 if config["transfer_lesson"]["device"] != "cpu" else 0,
    params:
        cfg=config["transfer_lesson"],
        seed=config["seed"],
        checkpoints=f"{CKPT}/transfer_lesson",
    script:
        "../workflow/scripts/transfer_lesson.py"


rule transfer:
    input:
        rules.aggregate_transfer.output,
        rules.transfer_lesson.output if config["transfer_lesson"]["enabled"] else [],
