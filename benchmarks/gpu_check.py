"""One short check on a CUDA machine: the same training code runs on the GPU and gives sane numbers.

    python benchmarks/gpu_check.py          (needs torch + torchvision + pandas; no data download)

1. Transfer learning: the pretrained strategies (one frozen stage, then head_only / discriminative /
   unfrozen_high_lr) at 50 labels per class on generated 10-class images, on CUDA and on the CPU.
2. ResNet-34 training throughput on CUDA at 28 px (this pipeline's default) and 224 px (the lesson).
3. Collaborative filtering: three seeds of the dot-product model stacked, on generated
   ml-100k-sized ratings, cuda vs cpu.
4. The lesson-scale pets path (per-image augmentation, 224 px crops, frozen then slice(1e-6, 1e-4))
   on generated JPEGs of 37 "breeds", on CUDA.
Prints one line per measurement; the last line is `gpu_check ok`.
"""

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch._dynamo  # noqa: E402,F401  (lazy import of torch.optim, kept out of the timings)
from torch import nn  # noqa: E402

from lesson5.data.idx import load_idx_dataset, split_train_valid, write_fake_idx_dataset  # noqa: E402
from lesson5.data.image_tasks import target_tasks  # noqa: E402
from lesson5.experiments.transfer import Finetune, finetune_from_body  # noqa: E402
from lesson5.experiments.transfer_plan import FROM_BODY  # noqa: E402
from lesson5.models.collab import DotProductBias, StackedDotProductBias  # noqa: E402
from lesson5.models.vision import cnn_model  # noqa: E402
from lesson5.train.loop import Learner, Tensors  # noqa: E402
from lesson5.train.metrics import rmse  # noqa: E402


def transfer(device):
    with tempfile.TemporaryDirectory() as tmp:
        arrays = split_train_valid(load_idx_dataset(write_fake_idx_dataset(tmp, 3000, 200, gz=False)), 500, 0)
    data = target_tasks(arrays, [5, 6, 7, 8, 9], [50], [0], 40, 0, 28)[0][50]
    ft = Finetune(lr=3e-3, lr_slice=[1e-5, 1e-3])
    start = time.perf_counter()
    result = finetune_from_body(data, "scratch", ft, 50, 0, device, FROM_BODY)
    errors = {r["strategy"]: round(r["error_rate"], 4) for r in result.runs}
    print(f"transfer {device}: errors {errors}, {time.perf_counter() - start:.1f} s")
    return errors


def throughput(size, device, bs=64, steps=10):
    model = cnn_model(37).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    x = torch.randn(bs, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 37, (bs,), device=device)
    for i in range(steps + 3):
        if i == 3:
            torch.cuda.synchronize()
            start = time.perf_counter()
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.cuda.synchronize()
    rate = steps * bs / (time.perf_counter() - start)
    print(f"resnet34 train {size}px bs {bs} on {torch.cuda.get_device_name()}: {rate:.0f} images/s")


def collab(device):
    g = torch.Generator().manual_seed(0)
    n = 100_000
    x = torch.stack([torch.randint(1, 944, (n,), generator=g), torch.randint(1, 1654, (n,), generator=g)], 1)
    y = torch.randint(1, 6, (n,), generator=g).float()
    models = []
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        models.append(DotProductBias(944, 1654, 40))
    learner = Learner(StackedDotProductBias(models), Tensors(x[:90_000], y[:90_000], x[90_000:], y[90_000:]),
                      metrics={"valid_rmse": rmse}, wd=0.1, bs=64, device=device, seed=[0, 1, 2])
    start = time.perf_counter()
    history = learner.fit_one_cycle(5, 5e-3)
    print(f"collab {device}: 3 seeds stacked, 5 epochs in {time.perf_counter() - start:.2f} s, valid rmse "
          f"{history.valid_rmse.iloc[-1]:.4f} (random ratings carry no signal: ~1.41, their std, or worse)")
    return history


def pets_path(device):
    from torchvision.io import encode_jpeg, write_file

    from lesson5.data.pets import list_images, load_resized, random_valid_mask
    from lesson5.experiments.lesson_scale import lesson_scale

    g = torch.Generator().manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        for b in range(37):
            for k in range(1, 9):
                pixels = torch.randint(0, 90, (3, 260 + k, 300), generator=g, dtype=torch.uint8)
                pixels[b % 3, (b * 7) % 200:(b * 7) % 200 + 40] += 150
                write_file(f"{tmp}/breed{b:02d}_{k}.jpg", encode_jpeg(pixels))
        paths, breeds = list_images(tmp)
        images = load_resized(paths, 240)
    classes = sorted(set(breeds))
    arrays = {"images": images, "labels": np.array([classes.index(b) for b in breeds]),
              "classes": np.array(classes), "is_valid": random_valid_mask(len(paths), 0.2, 2)}
    cfg = dict(weights="scratch", ps=0.5, size=224, bs=64, frozen_epochs=2, unfrozen_epochs=1, lr=[3e-3],
               lr_slice=[1e-6, 1e-4], lr_div=10, wd=0.01)
    start = time.perf_counter()
    learner, history = lesson_scale(arrays, cfg, seed=0, device=device)
    print(f"pets path {device}: {len(paths)} images, stages {history.stage.tolist()}, "
          f"error {history.error_rate.iloc[-1]:.3f}, {time.perf_counter() - start:.1f} s, "
          f"params on {({p.device.type for p in learner.model.parameters()})}")


def main():
    assert torch.cuda.is_available(), "no CUDA device visible to torch"
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    gpu, cpu = transfer("cuda"), transfer("cpu")
    print(f"transfer errors cuda vs cpu: {gpu} vs {cpu}")
    throughput(28, "cuda")
    throughput(224, "cuda")
    a, b = collab("cuda"), collab("cpu")
    print(f"collab valid rmse cuda vs cpu: {a.valid_rmse.iloc[-1]:.5f} vs {b.valid_rmse.iloc[-1]:.5f}")
    pets_path("cuda")
    print("gpu_check ok")


if __name__ == "__main__":
    main()
