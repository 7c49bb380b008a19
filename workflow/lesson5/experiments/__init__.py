"""The lesson's experiments, one module each, built on the library code in data/, models/, train/."""
