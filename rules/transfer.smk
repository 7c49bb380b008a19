# Transfer learning: pretrain a ResNet-34 body on the source classes, then fine-tune on the target
# classes at several label budgets with every strategy; linear probes of the bodies; aggregation.
TRANSFER = config["transfer"]
TRANSFER_DATA = image_npz(TRANSFER["dataset"])
OWN_BODY = (
    TRANSFER["weights"] == "pretrained"
)  # the body this pipeline pretrains, else imagenet/scratch/a file
FAMILIES = [
    f for f in ("pretrained", "scratch") if set(TRANSFER_FAMILIES[f]) & set(TRANSFER["strategies"])
]
BUDGET_DIR = "results/transfer/finetune/{family}/budget~{budget}"


rule pretrain_body:
    input:
        data=TRANSFER_DATA,
    output:
        body="results/transfer/pretrained_body.pt",
        history="results/transfer/pretrain_history.tsv",
    log:
        "logs/pretrain_body.log",
    benchmark:
        "results/benchmarks/pretrain_body.tsv"
    conda:
        "../environment.yml"
    threads: TRANSFER["threads"]
    resources:
        runtime=60,
        mem_mb=4000,
        gpu=1 if TRANSFER["device"] == "cuda" else 0,
    params:
        transfer=TRANSFER,
        ps=TRANSFER["finetune"]["ps"],
        seed=config["seed"],
        dataset=TRANSFER["dataset"],
        checkpoints="checkpoints/pretrain_body",
    script:
        "../workflow/scripts/pretrain_body.py"


rule finetune:
    input:
        data=TRANSFER_DATA,
        body=transfer_body_input,
    output:
        runs=f"{BUDGET_DIR}/runs.tsv",
        lr_find=f"{BUDGET_DIR}/lr_find.tsv",
        iterations=f"{BUDGET_DIR}/iterations.parquet",
        confusion=f"{BUDGET_DIR}/confusion.tsv",
    log:
        "logs/finetune/{family}/budget~{budget}.log",
    benchmark:
        "results/benchmarks/finetune/{family}/budget~{budget}.tsv"
    wildcard_constraints:
        family="|".join(FAMILIES),
        budget=r"\d+",
    conda:
        "../environment.yml"
    threads: TRANSFER["threads"]
    resources:
        runtime=60,
        mem_mb=3000,
        gpu=1 if TRANSFER["device"] == "cuda" else 0,
    params:
        transfer=TRANSFER,
        valid_seed=config["seed"],
        checkpoints=lambda wc: f"checkpoints/finetune/{wc.family}/budget~{wc.budget}",
    script:
        "../workflow/scripts/finetune.py"


rule transfer_probe:
    input:
        data=TRANSFER_DATA,
        body=transfer_body_input,
    output:
        "results/transfer/probe.tsv",
    log:
        "logs/transfer_probe.log",
    benchmark:
        "results/benchmarks/transfer_probe.tsv"
    conda:
        "../environment.yml"
    threads: TRANSFER["threads"]
    resources:
        runtime=20,
        mem_mb=3000,
    params:
        transfer=TRANSFER,
        valid_seed=config["seed"],
        seed=config["seed"],
        c=TRANSFER["probe"]["c"],
    script:
        "../workflow/scripts/transfer_probe.py"


rule aggregate_transfer:
    input:
        runs=expand(f"{BUDGET_DIR}/runs.tsv", family=FAMILIES, budget=TRANSFER["budgets"]),
        lr_find=expand(f"{BUDGET_DIR}/lr_find.tsv", family=FAMILIES, budget=TRANSFER["budgets"]),
        iterations=expand(
            f"{BUDGET_DIR}/iterations.parquet", family=FAMILIES, budget=TRANSFER["budgets"]
        ),
        confusions=expand(
            f"{BUDGET_DIR}/confusion.tsv", family=FAMILIES, budget=TRANSFER["budgets"]
        ),
        probe=rules.transfer_probe.output[0],
        pretrain_history=rules.pretrain_body.output.history if OWN_BODY else [],
    output:
        table=report(
            "results/transfer/strategies.tsv",
            caption="../workflow/report/transfer_table.rst",
            category="Transfer learning",
            labels={"figure": "error by label budget and strategy"},
        ),
        paired=report(
            "results/transfer/paired.tsv",
            caption="../workflow/report/transfer_paired.rst",
            category="Transfer learning",
            labels={"figure": "discriminative minus scratch, per seed"},
        ),
        curve=report(
            "results/transfer/budget_curve.png",
            caption="../workflow/report/transfer_budget_curve.rst",
            category="Transfer learning",
            labels={"figure": "label-budget curve"},
        ),
        lr_find_frozen=report(
            "results/transfer/lr_find_frozen.png",
            caption="../workflow/report/transfer_lr_find.rst",
            category="Transfer learning",
            labels={"figure": "lr finder: frozen"},
        ),
        lr_find_unfrozen=report(
            "results/transfer/lr_find_unfrozen.png",
            caption="../workflow/report/transfer_lr_find.rst",
            category="Transfer learning",
            labels={"figure": "lr finder: unfrozen"},
        ),
        lr_find_scratch=report(
            "results/transfer/lr_find_scratch.png",
            caption="../workflow/report/transfer_lr_find.rst",
            category="Transfer learning",
            labels={"figure": "lr finder: scratch"},
        ),
        probe_plot=report(
            "results/transfer/probe.png",
            caption="../workflow/report/transfer_probe.rst",
            category="Transfer learning",
            labels={"figure": "linear probes by layer"},
        ),
        curves=report(
            "results/transfer/curves.png",
            caption="../workflow/report/transfer_curves.rst",
            category="Transfer learning",
            labels={"figure": "training curves"},
        ),
        confusion=report(
            "results/transfer/confusion.png",
            caption="../workflow/report/transfer_confusion.rst",
            category="Transfer learning",
            labels={"figure": "confusion matrix"},
        ),
    log:
        "logs/aggregate_transfer.log",
    benchmark:
        "results/benchmarks/aggregate_transfer.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=5,
        mem_mb=1000,
    params:
        strategies=TRANSFER["strategies"],
        class_names=[CLASS_NAMES[TRANSFER["dataset"]][k] for k in TRANSFER["target_classes"]],
        source_classes=TRANSFER["source_classes"],
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
        "logs/prepare_pets.log",
    benchmark:
        "results/benchmarks/prepare_pets.tsv"
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
        history="results/transfer/lesson/history.tsv",
        comparison=report(
            "results/transfer/lesson/comparison.tsv",
            caption="../workflow/report/transfer_lesson.rst",
            category="Transfer learning",
            labels={"figure": "lesson scale: pets"},
        ),
    log:
        "logs/transfer_lesson.log",
    benchmark:
        "results/benchmarks/transfer_lesson.tsv"
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
        checkpoints="checkpoints/transfer_lesson",
    script:
        "../workflow/scripts/transfer_lesson.py"


rule transfer:
    input:
        rules.aggregate_transfer.output,
        rules.transfer_lesson.output if config["transfer_lesson"]["enabled"] else [],
