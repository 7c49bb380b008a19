"""The lesson-5 SGD notebook's models: logistic regression and a one-hidden-layer MLP on 784 pixels."""

from torch import nn


def logistic_regression(n_in: int = 784, n_classes: int = 10) -> nn.Module:
    return nn.Linear(n_in, n_classes)


def mnist_mlp(n_in: int = 784, n_hidden: int = 50, n_classes: int = 10) -> nn.Module:
    """Mnist_NN: Linear -> ReLU -> Linear, raw logits (nn.CrossEntropyLoss applies log-softmax)."""
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_classes))


MODELS = {"logistic": logistic_regression, "mlp": mnist_mlp}
