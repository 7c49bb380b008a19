"""IDX parsing, the optimizer factory, cross-entropy and softmax as the lesson explains them."""


import numpy as np
import pytest
import torch

from lesson5.data.idx import IMAGES_MAGIC, LABELS_MAGIC, load_idx_dataset, read_idx, split_train_valid, \
    write_fake_idx_dataset, write_idx
from lesson5.errors import DataValidationError
from lesson5.experiments.sgd import Run, choose_lr, train_run
from lesson5.train.losses import cross_entropy, softmax


def test_idx_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    write_idx(tmp_path / "x", images)
    assert np.array_equal(read_idx(tmp_path / "x", IMAGES_MAGIC), images)


def test_idx_rejects_bad_magic_truncation_and_labels(tmp_path):
    write_idx(tmp_path / "labels", np.array([1, 2, 3], dtype=np.uint8))
    with pytest.raises(DataValidationError, match="magic number"):
        read_idx(tmp_path / "labels", IMAGES_MAGIC)
    data = (tmp_path / "labels").read_bytes()
    (tmp_path / "cut").write_bytes(data[:-1])
    with pytest.raises(DataValidationError, match="truncated"):
        read_idx(tmp_path / "cut", LABELS_MAGIC)
    write_idx(tmp_path / "bad", np.array([1, 12], dtype=np.uint8))
    with pytest.raises(DataValidationError, match="label 12 at index 1"):
        read_idx(tmp_path / "bad", LABELS_MAGIC)


def test_image_count_must_match_labels(tmp_path):
    folder = write_fake_idx_dataset(tmp_path / "f", n_train=30, n_test=10, gz=False)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(9, dtype=np.uint8))
    with pytest.raises(DataValidationError, match="10 test images but 9 labels"):
        load_idx_dataset(folder)


def test_train_valid_split_is_seeded_and_disjoint(tmp_path):
    folder = write_fake_idx_dataset(tmp_path / "f", n_train=100, n_test=10, gz=False)
    data = load_idx_dataset(folder)
    a, b = split_train_valid(data, 20, 42), split_train_valid(data, 20, 42)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert len(a["x_train"]) == 80 and len(a["x_valid"]) == 20


def test_cross_entropy_is_minus_log_softmax_of_true_class_and_matches_torch():
    logits = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]])
    target = torch.tensor([0, 2])
    p = softmax(logits)
    expected = -(torch.log(p[0, 0]) + torch.log(p[1, 2])) / 2
    assert torch.allclose(cross_entropy(logits, target), expected)
    assert torch.allclose(cross_entropy(logits, target), torch.nn.functional.cross_entropy(logits, target))
    big = torch.randn(50, 10) * 30
    labels = torch.randint(0, 10, (50,))
    assert torch.allclose(cross_entropy(big, labels), torch.nn.functional.cross_entropy(big, labels), atol=1e-4)


def test_softmax_sums_to_one_and_ignores_a_constant_shift():
    z = torch.randn(4, 5)
    assert torch.allclose(softmax(z).sum(1), torch.ones(4))
    assert torch.allclose(softmax(z), softmax(z + 7.0))
    assert torch.allclose(softmax(z), torch.softmax(z, 1))


def tensors(tmp_path):
    folder = write_fake_idx_dataset(tmp_path / "f", n_train=300, n_test=50, gz=False)
    arrays = split_train_valid(load_idx_dataset(folder), 60, 0)
    out = {}
    for part in ("train", "valid", "test"):
        out[f"x_{part}"] = torch.tensor(arrays[f"x_{part}"].reshape(-1, 784), dtype=torch.float32) / 255
        out[f"y_{part}"] = torch.from_numpy(arrays[f"y_{part}"].astype(np.int64))
    return out


@pytest.mark.parametrize("opt", ["sgd", "momentum", "rmsprop", "adam", "adamw"])
def test_every_optimizer_learns_the_planted_classes(opt, tmp_path):
    lr = {"sgd": 0.3, "momentum": 0.05, "rmsprop": 3e-3, "adam": 3e-3, "adamw": 3e-3}[opt]
    _, record = train_run(Run("mlp", opt, "one_cycle", lr=lr, wd=1e-4,
                              wd_mode="decoupled" if opt == "adamw" else "l2", epochs=3, bs=16), tensors(tmp_path))
    assert record["valid_accuracy"] > 0.5  # 10 classes: chance is 0.1


def test_choose_lr_prefers_the_lowest_valid_loss_and_survives_divergence(tmp_path, monkeypatch):
    import lesson5.experiments.sgd as optimizers

    real = optimizers.train_run

    def diverge_at_big_lr(run, data, device="cpu"):
        if run.lr > 1:
            raise optimizers.PipelineError("training diverged")
        return real(run, data, device)

    monkeypatch.setattr(optimizers, "train_run", diverge_at_big_lr)
    best, grid = choose_lr(Run("logistic", "sgd", epochs=1, bs=16), [1e-4, 0.3, 10.0], tensors(tmp_path))
    assert best == 0.3
    assert grid.set_index("lr").valid_loss[10.0] == float("inf")
    assert grid.set_index("lr").valid_loss[1e-4] > grid.set_index("lr").valid_loss[0.3]


def test_lesson_update_is_sgd_with_l2_of_twice_wd():
    """The lesson's update(): loss + wd·Σp², p -= lr·p.grad. d(wd·p²)/dp = 2·wd·p, so it is
    torch.optim.SGD with weight_decay = 2·wd, step for step."""
    import copy

    from lesson5.experiments.sgd import update
    from lesson5.models.mnist import mnist_mlp

    torch.manual_seed(0)
    manual = mnist_mlp()
    reference = copy.deepcopy(manual)
    opt = torch.optim.SGD(reference.parameters(), lr=0.02, weight_decay=2 * 1e-3)
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        x, y = torch.rand(16, 784, generator=g), torch.randint(0, 10, (16,), generator=g)
        update(manual, x, y, lr=0.02, wd=1e-3)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(reference(x), y).backward()
        opt.step()
    for a, b in zip(manual.parameters(), reference.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
        assert a.grad is not None and not a.grad.any()  # zeroed after each step, as the lesson does


def test_lesson_adam_update_restarts_adam_every_step():
    """The notebook makes a new Adam per call: two calls are two first steps (|step| = lr on every
    weight with a gradient), not a persistent Adam's second step."""
    import copy

    from lesson5.experiments.sgd import update_adam
    from lesson5.models.mnist import logistic_regression

    torch.manual_seed(0)
    model = logistic_regression()
    persistent = copy.deepcopy(model)
    opt = torch.optim.Adam(persistent.parameters(), 1e-3)
    g = torch.Generator().manual_seed(2)
    batches = [(torch.rand(8, 784, generator=g), torch.randint(0, 10, (8,), generator=g)) for _ in range(2)]
    before = model.weight.detach().clone()
    update_adam(model, *batches[0], lr=1e-3)
    moved = (model.weight - before).abs()
    assert torch.allclose(moved[moved > 0], torch.full_like(moved[moved > 0], 1e-3), rtol=1e-3)
    update_adam(model, *batches[1], lr=1e-3)
    for x, y in batches:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(persistent(x), y).backward()
        opt.step()
    assert not torch.allclose(model.weight, persistent.weight, atol=1e-6)


def test_optimizer_step_seconds_counts_only_time_inside_step(monkeypatch):
    """The benchmarks' timer, on a clock the test moves: a step's time shows, time outside steps does
    not, and the hooks go when the block ends (a leaked hook would count the last step too)."""
    import lesson5.train.optim as optim

    clock = {"now": 0.0}
    monkeypatch.setattr(optim.time, "perf_counter", lambda: clock["now"])

    class Timed(torch.optim.SGD):
        def step(self, closure=None):
            clock["now"] += 0.02  # what this step costs
            return super().step(closure)

    p = torch.nn.Parameter(torch.zeros(3))
    p.grad = torch.ones(3)
    opt = Timed([p], lr=0.1)
    with optim.optimizer_step_seconds() as timer:
        opt.step()
        clock["now"] += 0.05  # time between steps
        opt.step()
    assert timer["seconds"] == pytest.approx(0.04)
    opt.step()
    assert timer["seconds"] == pytest.approx(0.04)  # removed: later steps are not counted
