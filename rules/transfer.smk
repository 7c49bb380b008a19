# Transfer learning: pretrain a ResNet-34 body on source classes, fine-tune on target classes.
TRANSFER = config["transfer"]
TRANSFER_DATA = image_npz(TRANSFER["dataset"])
TRANSFER_RUNS = [
    dict(strategy=s, seed=seed) for s in TRANSFER["strategies"] for seed in TRANSFER["seeds"]
]
CLASS_NAMES = {
    "fashion_mnist": "T-shirt/top Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag Ankle-boot".split(),
    "mnist": [str(d) for d in range(10)],
}


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
        mem_mb=6000,
        gpu=1 if TRANSFER["device"] == "cuda" else 0,
    params:
        transfer={k: TRANSFER[k] for k in ("source_classes", "size", "device", "pretrain")},
        ps=TRANSFER["finetune"]["ps"],
        seed=config["seed"],
        dataset=TRANSFER["dataset"],
    script:
        "../workflow/scripts/pretrain_body.py"


rule finetune:
    input:
        data=TRANSFER_DATA,
        body=rules.pretrain_body.output.body if TRANSFER["weights"] == "pretrained" else [],
    output:
        history="results/transfer/runs/{strategy}/seed~{seed}/history.tsv",
        confusion="results/transfer/runs/{strategy}/seed~{seed}/confusion.tsv",
    log:
        "logs/finetune/{strategy}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/finetune/{strategy}/seed~{seed}.tsv"
    wildcard_constraints:
        strategy="|".join(TRANSFER["strategies"]),
        seed=r"\d+",
    conda:
        "../environment.yml"
    threads: TRANSFER["threads"]
    resources:
        runtime=30,
        mem_mb=4000,
        gpu=1 if TRANSFER["device"] == "cuda" else 0,
    params:
        transfer=TRANSFER,
    script:
        "../workflow/scripts/finetune.py"


rule aggregate_transfer:
    input:
        histories=[
            f"results/transfer/runs/{r['strategy']}/seed~{r['seed']}/history.tsv"
            for r in TRANSFER_RUNS
        ],
        confusions=[
            f"results/transfer/runs/{r['strategy']}/seed~{r['seed']}/confusion.tsv"
            for r in TRANSFER_RUNS
        ],
    output:
        table=report(
            "results/transfer/strategies.tsv",
            caption="../workflow/report/transfer_table.rst",
            category="Transfer learning",
            labels={"figure": "error rate by strategy"},
        ),
        curves_table="results/transfer/curves.tsv",
        curves=report(
            "results/transfer/curves.png",
            caption="../workflow/report/transfer_curves.rst",
            category="Transfer learning",
            labels={"figure": "per-epoch error rate"},
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
        runs=TRANSFER_RUNS,
        class_names=[CLASS_NAMES[TRANSFER["dataset"]][k] for k in TRANSFER["target_classes"]],
        title=(
            f"ResNet-34 on {TRANSFER['dataset']} classes {TRANSFER['target_classes']}, "
            f"{TRANSFER['finetune']['per_class']} labels per class, {TRANSFER['size']} px"
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
    script:
        "../workflow/scripts/transfer_lesson.py"


rule transfer:
    input:
        rules.aggregate_transfer.output,
        rules.transfer_lesson.output if config["transfer_lesson"]["enabled"] else [],
