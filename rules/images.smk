# Image datasets (Fashion-MNIST, MNIST): fetch -> verify -> parse IDX -> seeded train/valid split.


rule fetch_images:
    output:
        expand("resources/{{dataset}}/{name}", name=IDX_NAMES),
    log:
        f"{SHARED_LOGS}/fetch_images/{{dataset}}.log",
    benchmark:
        f"{SHARED_BENCH}/fetch_images/{{dataset}}.tsv"
    wildcard_constraints:
        dataset="|".join(IMAGE_DATASETS),
    conda:
        "../environment.yml"
    resources:
        runtime=20,
        mem_mb=1000,
    params:
        fetch=lambda wc: fetch_params(wc.dataset, IDX_NAMES),
    script:
        "../workflow/scripts/fetch_dataset.py"


rule prepare_images:
    input:
        expand("resources/{{dataset}}/{name}", name=IDX_NAMES),
    output:
        "results/data/{dataset}/images.npz",
    log:
        f"{SHARED_LOGS}/prepare_images/{{dataset}}.log",
    benchmark:
        f"{SHARED_BENCH}/prepare_images/{{dataset}}.tsv"
    wildcard_constraints:
        dataset="|".join(IMAGE_DATASETS),
    conda:
        "../environment.yml"
    resources:
        runtime=10,
        mem_mb=3000,
    params:
        n_valid=lambda wc: config[wc.dataset]["n_valid"],
        seed=lambda wc: config[wc.dataset]["split_seed"],
    script:
        "../workflow/scripts/prepare_images.py"
