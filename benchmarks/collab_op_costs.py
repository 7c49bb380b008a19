"""What the fast collab step's op choices cost alone, at ml-100k's sizes (no data needed).

    python benchmarks/collab_op_costs.py [--threads N]

Times (best and median of 5 loops, microseconds a call, warm caches) each choice the step made and
the alternative it was measured against:
  * the gradient of both sides: two index_add_ over table rows vs one elementwise scatter_add_;
  * a batch's flat-buffer index: an integer addcmul over the batch vs a lookup in the step's
    position table;
  * biases exempt from decay: one fused AdamW call plus a rescale of a strided bias column (the
    two-table layout) vs two calls over contiguous factors and biases (the packed layout).
Warm-cache figures: inside a training the same ops also pay cache misses (collab_speed.py's
profiler table shows them in place).
"""

import argparse
import time

import torch

N_USERS, N_ITEMS, K, BS = 944, 1654, 40, 64  # ml-100k's tables (items keyed by title), main config
ADAM = dict(lr=1e-3, beta1=0.9, beta2=0.99, eps=1e-8, amsgrad=False, maximize=False)


def bench(name: str, fn, calls: int = 5000):
    for _ in range(300):
        fn()
    per_call = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        per_call.append(1e6 * (time.perf_counter() - start) / calls)
    per_call.sort()
    print(f"  {name:58s} best {per_call[0]:6.1f}  median {per_call[2]:6.1f} us")


def gradient_scatter():
    print("gradient rows of a batch into the tables' gradient:")
    width = K + 1
    grad = torch.zeros((N_USERS + N_ITEMS) * width)
    users_grad, items_grad = grad[: N_USERS * width].view(N_USERS, width), grad[N_USERS * width:].view(N_ITEMS, width)
    users, items = torch.randint(0, N_USERS, (BS,)), torch.randint(0, N_ITEMS, (BS,))
    rows = torch.randn(2, BS, width)
    bench("2 x index_add_ (one per table)", lambda: (users_grad.index_add_(0, users, rows[0]),
                                                    items_grad.index_add_(0, items, rows[1])))
    index = torch.cat([users * width, N_USERS * width + items * width])[:, None] + torch.arange(width)
    flat_index, flat_rows = index.view(-1), rows.view(-1)
    bench("1 x scatter_add_ (elementwise, flat buffer)", lambda: grad.scatter_add_(0, flat_index, flat_rows))


def batch_index():
    print("a batch's [3 n, k + 1] index into the flat buffer:")
    ids = torch.cat([torch.randint(0, N_USERS, (BS,)), torch.randint(0, N_ITEMS, (BS,)),
                     torch.randint(0, N_USERS, (BS,))])
    out = torch.empty(3 * BS, K + 1, dtype=torch.long)
    base = torch.randint(0, 1000, (3, 1, K + 1))
    stride = torch.randint(1, K + 1, (3, 1, K + 1))
    bench("integer addcmul (start + id * stride)", lambda: torch.addcmul(base, ids.view(3, BS, 1), stride,
                                                                           out=out.view(3, BS, K + 1)))
    positions = torch.randint(0, 100_000, (N_USERS + N_ITEMS, K + 1))
    bench("index_select from the position table", lambda: torch.index_select(positions, 0, ids, out=out))


def bias_exemption():
    print("one Adam update with the biases exempt from decay:")
    size = (N_USERS + N_ITEMS) * (K + 1)
    p, g, m = (torch.randn(size) * 0.01 for _ in range(3))
    v = torch.rand(size) * 1e-4
    step = torch.ones(())

    def adam(region, wd):
        torch._fused_adamw_([p[region]], [g[region]], [m[region]], [v[region]], [], [step], weight_decay=wd, **ADAM)

    everything, factors, biases = slice(None), slice(0, size - N_USERS - N_ITEMS), slice(size - N_USERS - N_ITEMS, None)
    bias_column = p.view(-1, K + 1)[:, K]
    bench("1 call, every parameter decayed (no exemption)", lambda: adam(everything, 0.1))
    bench("1 call + rescale a strided bias column (two-table layout)",
          lambda: (bias_column.mul_(1 / (1 - 1e-4)), adam(everything, 0.1)))
    bench("2 calls: factors decayed, biases not (packed layout)", lambda: (adam(factors, 0.1), adam(biases, 0.0)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {BS}, {K} factors")
    gradient_scatter()
    batch_index()
    bias_exemption()


if __name__ == "__main__":
    main()
