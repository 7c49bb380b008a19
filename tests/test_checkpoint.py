"""A fit killed part way continues from its last checkpoint and ends exactly as an uninterrupted one."""

import pytest
import torch
from torch import nn

from lesson5.train.loop import Learner, Tensors, autograd_step
from lesson5.train.metrics import accuracy


class Killed(Exception):
    pass


def learner(seed=0):
    """Dropout and a random augmentation: the global RNG matters as much as the shuffle."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 10, generator=g), torch.randint(0, 3, (64,), generator=g)
    return Learner(model, Tensors(x[:48], y[:48], x[48:], y[48:]), loss_func=nn.CrossEntropyLoss(),
                   metrics={"accuracy": accuracy}, bs=8, device="cpu", seed=seed,
                   transform=lambda xb: xb + 0.1 * torch.randn_like(xb))


def dies_after(n_steps):
    """A step factory that trains normally, then raises as a kill would, mid-epoch."""
    def make(learner, opt):
        step, taken = autograd_step(learner, opt), [0]

        def run(xb, yb):
            taken[0] += 1
            if taken[0] > n_steps:
                raise Killed
            return step(xb, yb)
        return run
    return make


@pytest.mark.parametrize("fit", ["one_cycle", "constant"])
def test_resumed_fit_ends_exactly_as_an_uninterrupted_one(tmp_path, fit):
    def train(lrn, path):
        return (lrn.fit_one_cycle(4, 1e-2, checkpoint=path) if fit == "one_cycle"
                else lrn.fit(4, 1e-2, checkpoint=path))

    reference = learner()
    expected = train(reference, None)
    path = tmp_path / "fit.pt"
    doomed = learner()
    doomed.make_step = dies_after(6 * 2 + 3)  # 6 batches an epoch: dies in epoch 3, after 2 checkpoints
    with pytest.raises(Killed):
        train(doomed, path)
    assert torch.load(path, weights_only=False)["epoch"] == 2
    resumed = learner()  # a new process: fresh model and RNGs, the same config
    history = train(resumed, path)
    assert history.drop(columns="seconds").equals(expected.drop(columns="seconds"))
    for a, b in zip(resumed.model.parameters(), reference.model.parameters()):
        assert torch.equal(a, b)
    assert [r["loss"] for r in resumed.iterations] == [r["loss"] for r in reference.iterations]


def test_a_finished_fit_is_not_trained_again(tmp_path):
    path = tmp_path / "fit.pt"
    first = learner()
    history = first.fit_one_cycle(2, 1e-2, checkpoint=path)
    again = learner()
    again.make_step = dies_after(0)  # any training step would raise
    assert again.fit_one_cycle(2, 1e-2, checkpoint=path).drop(columns="seconds").equals(
        history.drop(columns="seconds"))
    assert all(torch.equal(a, b) for a, b in zip(again.model.parameters(), first.model.parameters()))


def test_checkpoints_left_under_other_settings_are_discarded_not_resumed(tmp_path, caplog):
    from lesson5.train.checkpoint import checkpoints_for

    folder = checkpoints_for(tmp_path / "job", {"epochs": 4, "lr": 0.003})
    (folder / "seed~0.pt").write_bytes(b"progress")
    assert (checkpoints_for(tmp_path / "job", {"lr": 0.003, "epochs": 4}) / "seed~0.pt").exists()  # same settings
    with caplog.at_level("WARNING"):
        again = checkpoints_for(tmp_path / "job", {"epochs": 2, "lr": 0.003})
    assert again == folder and not (folder / "seed~0.pt").exists()
    assert "other settings" in caplog.text
    (folder / "settings.json").unlink()  # a folder from before settings were stamped: not trusted either
    (folder / "fit.pt").write_bytes(b"old")
    assert not (checkpoints_for(folder, {"epochs": 2}) / "fit.pt").exists()
