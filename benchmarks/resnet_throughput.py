"""ResNet-34 + fastai head training and evaluation speed on this CPU, by image size and batch size,
with the body unfrozen and frozen (BatchNorm trainable), in fp32 and under bf16 autocast, with torch's
convolutions or centre taps on 1x1 maps (transfer.conv), and the optimizer step alone, foreach vs fused
AdamW. The figures that chose the transfer stage's 28 px, batch 64, one thread per job, its precision
and its convolutions.

    python benchmarks/resnet_throughput.py [--threads 1 2] [--sizes 28 32 64] [--precisions fp32 bf16]
                                           [--convs plain centre_tap]
"""

import argparse
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

import torch  # noqa: E402
import torch._dynamo  # noqa: E402,F401  (imported on the first opt.step(); kept out of the timings)
from torch import nn  # noqa: E402

from lesson5.models.vision import CONVS, cnn_model  # noqa: E402


def images_per_second(size: int, bs: int, frozen: bool, bf16: bool, conv: str = "plain",
                      steps: int = 10) -> tuple[float, float]:
    torch.manual_seed(0)
    model = cnn_model(5, conv=conv).to(memory_format=torch.channels_last)
    if frozen:
        for module in model[0].modules():
            for p in module.parameters(recurse=False):
                p.requires_grad_(isinstance(module, nn.BatchNorm2d))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], 1e-3, fused=True)
    x = torch.randn(bs, 3, size, size).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 5, (bs,))

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)

    def step():
        with autocast():
            loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    train = bs * steps / (time.perf_counter() - start)
    model.eval()
    with torch.no_grad(), autocast():
        model(x)
        start = time.perf_counter()
        for _ in range(steps):
            model(x)
    return train, bs * steps / (time.perf_counter() - start)


def optimizer_step_ms(fused: bool, steps: int = 10) -> float:
    model = cnn_model(5)
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    opt = torch.optim.AdamW(model.parameters(), 1e-3, **({"fused": True} if fused else {"foreach": True}))
    for _ in range(3):
        opt.step()
    start = time.perf_counter()
    for _ in range(steps):
        opt.step()
    return 1e3 * (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sizes", type=int, nargs="+", default=[28, 32, 64])
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--convs", nargs="+", default=["plain"], choices=list(CONVS))
    parser.add_argument("--steps", type=int, default=10, help="timed steps of each measurement (after 3 untimed)")
    args = parser.parse_args()
    for threads in args.threads:
        torch.set_num_threads(threads)
        print(f"{threads} thread(s): AdamW step over ResNet-34's 21.8M parameters: foreach "
              f"{optimizer_step_ms(False, args.steps):.1f} ms, fused {optimizer_step_ms(True, args.steps):.1f} ms",
              flush=True)
        for size in args.sizes:
            for bs in args.batches:
                for frozen in (False, True):
                    # alternated, so a drift in speed hits every variant
                    for precision, conv in itertools.product(args.precisions, args.convs):
                        train, evaluate = images_per_second(size, bs, frozen, precision == "bf16", conv, args.steps)
                        print(f"{threads} thread(s), {size} px, batch {bs}, {'frozen' if frozen else 'unfrozen'}, "
                              f"{precision}, {conv}: train {train:.0f} images/s, eval {evaluate:.0f} images/s",
                              flush=True)


if __name__ == "__main__":
    main()
