"""fastai's cnn_learner in plain PyTorch: a torchvision ResNet-34 body, a new head, three layer groups."""

from __future__ import annotations

import logging
import math
import os
import urllib.error
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import ResNet34_Weights, resnet34

from lesson5.errors import PipelineError

log = logging.getLogger(__name__)

IMAGENET_STATS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
CONVS = ("centre_tap", "plain")  # how a body computes its 3x3 convolutions (config transfer.conv)
# where a body ends (config transfer.cut, fastai's create_body cut): after its last stage, or earlier
CUTS = ("layer2", "layer3", "layer4")
STEM = 4  # conv1, bn1, relu, maxpool: the body's children before layer1


class CentreTapConv2d(nn.Conv2d):
    """A 3x3 convolution with stride 1 and padding 1 that computes a 1x1 input map as a matrix product with
    its kernel's centre: the other eight taps only ever meet the zero padding, so the output and every
    gradient are nn.Conv2d's up to float rounding. A 28 px image leaves ResNet-34's layer4 with 1x1 maps,
    where oneDNN's convolution is slow (docs/benchmarks.md); larger maps take nn.Conv2d's own path."""

    def forward(self, x):
        if x.shape[-2:] != (1, 1):
            return super().forward(x)
        return F.linear(x.flatten(1), self.weight[:, :, 1, 1], self.bias)[:, :, None, None]


def use_centre_tap(model: nn.Module) -> nn.Module:
    """Turn every convolution that CentreTapConv2d computes exactly into one, in place: the same parameters,
    buffers and state_dict keys, so checkpoints load either way."""
    for module in model.modules():
        if (type(module) is nn.Conv2d and module.kernel_size == (3, 3) and module.stride == (1, 1)
                and module.padding == (1, 1) and module.dilation == (1, 1) and module.groups == 1
                and module.padding_mode == "zeros"):
            module.__class__ = CentreTapConv2d  # a subclass with no state of its own: swapping keeps the module
    return model


class AdaptiveConcatPool2d(nn.Module):
    """[max-pool, avg-pool] concatenated, in that order (fastai), so the head sees 2x the channels."""

    def __init__(self):
        super().__init__()
        self.max, self.avg = nn.AdaptiveMaxPool2d(1), nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return torch.cat([self.max(x), self.avg(x)], dim=1)


def create_head(n_features: int, n_classes: int, ps: float = 0.5, hidden: int = 512) -> nn.Sequential:
    """fastai's create_head: pool -> flatten -> BN -> dropout ps/2 -> Linear -> ReLU -> BN -> dropout ps -> Linear.

    Linear weights get kaiming_normal_ (fan_in, gain sqrt 2) and zero biases, as fastai's apply_init.
    """
    head = nn.Sequential(
        AdaptiveConcatPool2d(), nn.Flatten(),
        nn.BatchNorm1d(n_features), nn.Dropout(ps / 2), nn.Linear(n_features, hidden), nn.ReLU(inplace=True),
        nn.BatchNorm1d(hidden), nn.Dropout(ps), nn.Linear(hidden, n_classes),
    )
    for layer in head:
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
    return head


def resnet34_body(weights: str = "scratch", cache_dir: str | os.PathLike | None = None,
                  conv: str = "plain", cut: str = "layer4") -> nn.Sequential:
    """ResNet-34 without avgpool and fc: Sequential(conv1, bn1, relu, maxpool, layer1..layer4), ending at
    ``cut`` (layer2 or layer3 drop the stages after it, as fastai's create_body cut does).

    weights: "scratch" (random init), "imagenet" (torchvision's IMAGENET1K_V1, downloaded once into
    ``cache_dir`` and hash-checked by torchvision), or a path to a body checkpoint of this pipeline
    (a whole body: a cut keeps its first stages).
    conv: "centre_tap" computes 3x3 convolutions of 1x1 maps as CentreTapConv2d does; "plain" leaves
    torchvision's convolutions as they are.
    """
    if conv not in CONVS:
        raise PipelineError(f"conv {conv!r}: use one of {CONVS}")
    if cut not in CUTS:
        raise PipelineError(f"cut {cut!r}: use one of {CUTS}")
    body = _resnet34_body(weights, cache_dir)[:STEM + int(cut.removeprefix("layer"))]  # the stem, layer1..cut
    return use_centre_tap(body) if conv == "centre_tap" else body


def _resnet34_body(weights: str, cache_dir) -> nn.Sequential:
    if weights == "imagenet":
        if cache_dir is not None:
            torch.hub.set_dir(str(Path(cache_dir)))
        try:
            net = resnet34(weights=ResNet34_Weights.IMAGENET1K_V1, progress=False)
        except (urllib.error.URLError, OSError, RuntimeError) as error:
            raise PipelineError(
                f"could not load ImageNet weights for resnet34 ({error}). Offline, leave imagenet out of "
                "transfer.bodies (this pipeline pretrains its own fractal and classes bodies), or put "
                "resnet34-b627a593.pth under "
                f"{Path(cache_dir or torch.hub.get_dir()) / 'checkpoints'}") from error
        return nn.Sequential(*list(net.children())[:-2])
    body = nn.Sequential(*list(resnet34(weights=None).children())[:-2])
    if weights != "scratch":
        path = Path(weights)
        if not path.is_file():
            raise PipelineError(f"weights {weights!r}: not 'imagenet', 'scratch' or an existing checkpoint file")
        saved = torch.load(path, map_location="cpu", weights_only=True)
        body.load_state_dict(saved["body"])
        log.info("loaded body weights from %s (pretrained on %s)", path, saved.get("source", "?"))
    return body


def body_features(body: nn.Module) -> int:
    """Channels out of the body (512 for a whole resnet34, 256 after layer3, 128 after layer2)."""
    return [m for m in body.modules() if isinstance(m, nn.Conv2d)][-1].out_channels


def cnn_model(n_classes: int, weights: str = "scratch", ps: float = 0.5, cache_dir=None,
              conv: str = "plain", cut: str = "layer4") -> nn.Sequential:
    body = resnet34_body(weights, cache_dir, conv, cut)
    return nn.Sequential(body, create_head(2 * body_features(body), n_classes, ps))


def layer_groups(model: nn.Sequential) -> list[list[nn.Module]]:
    """fastai's resnet split: (stem, layer1, layer2), (layer3, layer4), (head); a cut body splits its
    stages the same way, the later half in the second group: (stem, layer1, layer2), (layer3), (head)
    after layer3, (stem, layer1), (layer2), (head) after layer2."""
    body, head = model[0], model[1]
    split = STEM + math.ceil((len(body) - STEM) / 2)
    return [list(body[:split]), list(body[split:]), [head]]


def save_body(model: nn.Sequential, path, **meta):
    torch.save({"body": model[0].state_dict(), **meta}, path)
