"""fastai 2019 Lesson 5, as a tested library behind a Snakemake pipeline."""
