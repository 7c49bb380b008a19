"""Linear probes: how much a frozen body's features alone tell the target classes apart.

Logistic regression (scikit-learn) on the pooled output of a layer group, standardised on the
training sample. A pretrained body whose probe is no better than a random body's has features that
do not transfer; a good probe with a poor fine-tuned result points at the fine-tuning protocol.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

# the ResNet body's children: stem (conv1, bn1, relu, maxpool), layer1 .. layer4
LAYER_ENDS = {"layer2": 6, "layer3": 7, "layer4": 8}


@torch.no_grad()
def pooled_features(body: nn.Sequential, x: torch.Tensor, layers=tuple(LAYER_ENDS), bs: int = 500) -> dict:
    """{layer: [n, 2 c] numpy array}: [max-pool, avg-pool] of the output of each layer (the head's
    AdaptiveConcatPool2d), with the body in eval mode."""
    body.eval()
    out = {layer: [] for layer in layers}
    for i in range(0, len(x), bs):
        h, done = x[i:i + bs], 0
        for layer in sorted(layers, key=LAYER_ENDS.get):
            for module in list(body.children())[done:LAYER_ENDS[layer]]:
                h = module(h)
            done = LAYER_ENDS[layer]
            out[layer].append(torch.cat([h.amax((2, 3)), h.mean((2, 3))], 1).cpu().numpy())
    return {layer: np.concatenate(parts) for layer, parts in out.items()}


def probe_error(train_x: np.ndarray, train_y: np.ndarray, valid_x: np.ndarray, valid_y: np.ndarray,
                c: float = 1.0) -> float:
    """Valid error of an L2-regularised logistic regression fitted on the training features."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    model.fit(train_x, train_y)
    return float((model.predict(valid_x) != valid_y).mean())
