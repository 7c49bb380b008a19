"""ResNet-34 transfer learner: head, layer groups, freezing, lr specs, checkpoints, offline ImageNet, centre taps."""

import copy
import pytest
import torch
from torch import nn

from lesson5.errors import PipelineError
from lesson5.models.vision import (CentreTapConv2d, cnn_model, create_head, layer_groups, resnet34_body, save_body,
                                   use_centre_tap)
from lesson5.train.loop import Learner, Tensors
from lesson5.train.lr import expand_lr_spec
from lesson5.train.metrics import error_rate


@pytest.mark.parametrize("n_classes", [5, 10, 37])
def test_head_layout_and_shapes(n_classes):
    head = create_head(1024, n_classes)
    kinds = [type(m).__name__ for m in head]
    assert kinds == ["AdaptiveConcatPool2d", "Flatten", "BatchNorm1d", "Dropout", "Linear", "ReLU",
                     "BatchNorm1d", "Dropout", "Linear"]
    assert head[3].p == 0.25 and head[7].p == 0.5
    assert (head[4].in_features, head[4].out_features, head[8].out_features) == (1024, 512, n_classes)
    assert torch.all(head[4].bias == 0)
    head.eval()
    assert head(torch.randn(2, 512, 2, 2)).shape == (2, n_classes)


def test_concat_pool_is_max_then_avg():
    x = torch.arange(8.0).reshape(1, 2, 2, 2)
    out = create_head(4, 3)[0](x).flatten()
    assert out.tolist() == [3.0, 7.0, 1.5, 5.5]


def test_body_and_layer_groups():
    model = cnn_model(5)
    body = model[0]
    assert [type(m).__name__ for m in body[:4]] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    groups = layer_groups(model)
    assert len(groups) == 3
    assert groups[0][4] is body[4] and groups[0][5] is body[5]  # layer1, layer2
    assert groups[1] == [body[6], body[7]]  # layer3, layer4
    assert groups[2] == [model[1]]
    assert sum(p.numel() for g in groups for m in g for p in m.parameters()) == sum(
        p.numel() for p in model.parameters())
    model.eval()
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 5)


@pytest.mark.parametrize("cut, first, second", [("layer3", [64, 128], [256]), ("layer2", [64], [128])])
def test_a_cut_body_ends_early_and_splits_its_stages_as_fastai_splits_the_whole(tmp_path, cut, first, second):
    whole = cnn_model(5)
    save_body(whole, tmp_path / "body.pt")
    model = cnn_model(5, str(tmp_path / "body.pt"), cut=cut)
    body, groups = model[0], layer_groups(model)

    def widths(stages):  # a ResNet stage by the channels it puts out: 64 (layer1), 128, 256, 512 (layer4)
        return [stage[-1].conv2.out_channels for stage in stages]

    assert [type(m).__name__ for m in groups[0][:4]] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    assert widths(groups[0][4:]) == first and widths(groups[1]) == second and groups[2] == [model[1]]
    assert len(body) == 4 + len(first) + len(second)
    assert model[1][2].num_features == 2 * second[-1]  # the head sees the cut's channels
    kept = body.state_dict()  # the checkpoint's weights of the stages kept, every one
    assert all(torch.equal(v, whole[0].state_dict()[k]) for k, v in kept.items()) and len(kept) > 0
    model.eval()
    assert model(torch.randn(2, 3, 28, 28)).shape == (2, 5)


def test_an_unknown_cut_names_the_choices():
    with pytest.raises(PipelineError, match="cut 'layer5'.*layer2"):
        resnet34_body(cut="layer5")


def forward_backward(conv, x):
    """conv(x), and the gradients of x and of every parameter, for a fixed random weighting of the output."""
    x = x.clone().requires_grad_(True)
    out = conv(x)
    (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
    return out.detach(), x.grad, [p.grad for p in conv.parameters()]


@pytest.mark.parametrize("bias", [False, True])
def test_centre_tap_convolution_is_the_plain_one_on_a_1x1_map(bias):
    torch.manual_seed(0)
    plain = nn.Conv2d(16, 8, 3, padding=1, bias=bias)
    fast = use_centre_tap(nn.Sequential(copy.deepcopy(plain)))[0]
    assert type(fast) is CentreTapConv2d
    x = torch.randn(4, 16, 1, 1)
    for got, want in zip(*(forward_backward(conv, x) for conv in (fast, plain))):
        for g, w in zip(*((got, want) if isinstance(got, list) else ([got], [want]))):
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)
    # the eight off-centre taps get no gradient: only the centre ever meets the 1x1 map
    off_centre = forward_backward(fast, x)[2][0].clone()
    off_centre[:, :, 1, 1] = 0
    assert off_centre.abs().max() == 0
    # a larger map is computed by nn.Conv2d itself, bit for bit
    big = torch.randn(4, 16, 5, 5)
    assert torch.equal(fast(big), plain(big))


def test_centre_tap_swaps_only_the_convolutions_it_computes_exactly():
    torch.manual_seed(0)
    plain = resnet34_body("scratch")
    torch.manual_seed(0)
    fast = resnet34_body("scratch", conv="centre_tap")
    kinds = [type(m) for m in fast.modules() if isinstance(m, nn.Conv2d)]
    # ResNet-34's 3x3 stride-1 convolutions: 6 in layer1, 7 in layer2, 11 in layer3, 5 in layer4; not the
    # 7x7 stem, the stride-2 3x3s or the 1x1 downsamples
    assert kinds.count(CentreTapConv2d) == 29 and len(kinds) == 36
    assert fast.state_dict().keys() == plain.state_dict().keys()
    for a, b in zip(fast.state_dict().values(), plain.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(PipelineError, match="conv 'fast'"):
        resnet34_body("scratch", conv="fast")


def test_a_28px_resnet_trains_the_same_with_centre_taps():
    """The whole network at 28 px (layer4's maps are 1x1): outputs and gradients match the plain one."""
    torch.manual_seed(0)
    plain = cnn_model(5).to(memory_format=torch.channels_last)
    fast = use_centre_tap(copy.deepcopy(plain))
    x = torch.randn(8, 3, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 5, (8,))
    grads = []
    for model in (plain, fast):
        torch.manual_seed(1)  # the same dropout masks
        nn.functional.cross_entropy(model(x), y).backward()
        grads.append([p.grad for p in model.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4 * a.abs().max().item())


def tiny_learner(model):
    x = torch.randn(8, 3, 32, 32)
    return Learner(model, Tensors(x, torch.randint(0, 5, (8,)), x, torch.randint(0, 5, (8,))),
                   loss_func=nn.CrossEntropyLoss(), layer_groups=layer_groups(model), bs=4, device="cpu")


def test_freeze_keeps_only_batchnorm_and_head_trainable():
    model = cnn_model(5)
    learner = tiny_learner(model)
    learner.freeze()
    for name, module in model[0].named_modules():
        for p in module.parameters(recurse=False):
            assert p.requires_grad == isinstance(module, nn.BatchNorm2d), name
    assert all(p.requires_grad for p in model[1].parameters())
    before = {n: p.detach().clone() for n, p in model[0].named_parameters()}
    learner.fit(1, 1e-2)
    changed = {n for n, p in model[0].named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(".bn" in n or n.startswith("1.") or "downsample.1" in n for n in changed), changed
    learner.unfreeze()
    assert all(p.requires_grad for p in model.parameters())


def test_discriminative_lrs_reach_the_optimizer_groups():
    learner = tiny_learner(cnn_model(5))
    learner.unfreeze()
    opt = learner.optimizer(learner.lrs([1e-6, 1e-4]))
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-6, 1e-5, 1e-4])


@pytest.mark.parametrize("spec, n, div, expected", [
    (3e-3, 3, 10, [3e-3, 3e-3, 3e-3]),
    ([3e-3], 3, 10, [3e-4, 3e-4, 3e-3]),
    (slice(3e-3), 3, 3, [1e-3, 1e-3, 3e-3]),
    ([1e-6, 1e-4], 3, 10, [1e-6, 1e-5, 1e-4]),
    (slice(1e-6, 1e-4), 3, 10, [1e-6, 1e-5, 1e-4]),
    ([1e-4, 1e-2], 2, 10, [1e-4, 1e-2]),
    (5e-3, 1, 10, [5e-3]),
])
def test_lr_spec_expansion(spec, n, div, expected):
    assert expand_lr_spec(spec, n, div) == pytest.approx(expected)


def test_lr_slice_needs_two_groups():
    with pytest.raises(PipelineError, match="two layer groups"):
        expand_lr_spec([1e-6, 1e-4], 1)


def test_checkpoint_round_trip(tmp_path):
    model = cnn_model(5)
    path = tmp_path / "body.pt"
    save_body(model, path, source="test")
    body = resnet34_body(str(path))
    for (n, a), (_, b) in zip(model[0].state_dict().items(), body.state_dict().items()):
        assert torch.equal(a, b), n


def test_imagenet_offline_names_the_alternatives(tmp_path, monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(PipelineError) as info:
        resnet34_body("imagenet", cache_dir=tmp_path)
    # the alternatives a user has offline: the bodies this pipeline pretrains, or the file put in place
    for words in ("transfer.bodies", "fractal and classes bodies", "resnet34-b627a593.pth", str(tmp_path)):
        assert words in str(info.value)


def test_unknown_weights():
    with pytest.raises(PipelineError, match="not 'imagenet', 'scratch'"):
        resnet34_body("/no/such/file.pt")


def test_bf16_autocast_runs_the_forward_in_bf16_and_keeps_fp32_state(monkeypatch):
    from lesson5.train.device import resolve_precision

    torch.manual_seed(0)
    x = torch.randn(256, 8)
    y = (x[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    seen = []
    model[0].register_forward_hook(lambda module, inputs, out: seen.append(out.dtype))
    learner = Learner(model, Tensors(x, y, x, y), loss_func=nn.CrossEntropyLoss(),
                      metrics={"error_rate": error_rate}, bs=32, device="cpu", precision="bf16")
    history = learner.fit_one_cycle(4, 0.02)
    assert set(seen) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert learner.predict(x).dtype == torch.float32
    assert history.error_rate.iloc[-1] < 0.1
    assert resolve_precision("fp32", torch.device("cpu")) == "fp32"
    import lesson5.train.device as device

    monkeypatch.setattr(device, "cpu_flags", lambda: {"avx2", "avx512_bf16"})
    assert resolve_precision("auto", torch.device("cpu")) == "bf16"
    monkeypatch.setattr(device, "cpu_flags", lambda: {"avx2", "avx512f"})  # bf16 would be emulated
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    with pytest.raises(PipelineError, match="precision 'fp16'"):
        resolve_precision("fp16", torch.device("cpu"))


def bn_learner(precise_bn: bool, valid_every: int = 0, **options):
    """A BatchNorm between a convolution and the head, on 40 images in 4 batches, dropout after it."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Dropout(0.5), nn.Linear(4, 3))
    x = torch.randn(40, 3, 8, 8) * 3 + 1
    y = torch.randint(0, 3, (40,))
    return Learner(model, Tensors(x, y, x[:12], y[:12]), loss_func=nn.CrossEntropyLoss(),
                   metrics={"error_rate": error_rate}, bs=10, device="cpu", precise_bn=precise_bn,
                   valid_every=valid_every, **options)


def test_recalibrated_batchnorm_statistics_are_the_mean_of_the_training_batches():
    """Precise BN: the running mean and variance become the average over the fit's equal batches of
    each batch's mean and (unbiased) variance of the layer's input, whatever they were before."""
    learner = bn_learner(True)
    conv, bn = learner.model[0], learner.model[1]
    bn.running_mean.fill_(7.0), bn.running_var.fill_(0.01)
    learner.model.eval()
    with torch.no_grad():
        inputs = conv(learner.data.x_train).split(10)
    learner.recalibrate_bn()
    torch.testing.assert_close(bn.running_mean, torch.stack([b.mean((0, 2, 3)) for b in inputs]).mean(0))
    torch.testing.assert_close(bn.running_var,
                               torch.stack([b.transpose(0, 1).flatten(1).var(1) for b in inputs]).mean(0))
    assert bn.momentum == 0.1 and learner.model.training is False  # update_bn put both back


def test_precise_bn_changes_what_is_evaluated_and_nothing_that_trains():
    """The same fit with and without precise BN: the same weights (the recalibration's dropout draws do
    not move the global RNG), other running statistics, and the validation of the recalibrated model."""
    plain = bn_learner(False, valid_every=1)  # each seeds the global RNG as it is built: build, then fit
    plain_history = plain.fit_one_cycle(3, 0.3)
    precise = bn_learner(True, valid_every=1)  # recalibrated after every epoch, between the fit's steps
    precise_history = precise.fit_one_cycle(3, 0.3)
    for (name, a), b in zip(plain.model.named_parameters(), precise.model.parameters()):
        assert torch.equal(a, b), name
    assert not torch.equal(plain.model[1].running_mean, precise.model[1].running_mean)
    plain.recalibrate_bn()
    torch.testing.assert_close(plain.model[1].running_var, precise.model[1].running_var)
    assert plain.validate() == [precise_history.drop(columns=["epoch", "train_loss", "seconds"]).iloc[-1].to_dict()]
    assert plain_history.valid_loss.iloc[-1] != precise_history.valid_loss.iloc[-1]


def test_precise_bn_recalibrates_before_every_validation_and_only_then(monkeypatch):
    calls = []
    monkeypatch.setattr(Learner, "recalibrate_bn", lambda self: calls.append(len(self.iterations)))
    bn_learner(True, valid_every=2).fit(5, 0.01)
    assert calls == [8, 16, 20]  # after epochs 2, 4 and the last (4 batches an epoch)
    calls.clear()
    bn_learner(True).lr_find(num_it=6)
    assert calls == []


def test_precise_bn_is_for_one_model():
    with pytest.raises(PipelineError, match="precise_bn"):
        bn_learner(True, seed=[0, 1])
