#!/usr/bin/env python3
"""PyTorch peer for `piggyback bench`: the same Piggyback mask-training step as the engine,
Adam on scores and head, as in Mallya et al.'s code (binarizer with a straight-through
gradient), BN frozen. Architectures (--arch):
- reference: the reference CNN (4 conv 3x3 32-32-64-64 with BN + ReLU, max-pool after conv 2
  and 4, dense 128, new head), 28x28x1;
- resnet18: torchvision's resnet18 with random weights, fc replaced by a new head;
- mobilenet_v2: torchvision's mobilenet_v2().features[:12] (the nsfwjs cut at
  block_10_project_BN: 33 layers, 294,848 masked weights) + global average pooling + new head.
Every conv (and the reference CNN's dense layer) is masked. Prints one JSON line."""
import argparse, json, os, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Binarize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, scores, threshold):
        return (scores > threshold).float()

    @staticmethod
    def backward(ctx, grad):
        return grad, None  # straight-through


class MaskedConv(nn.Module):
    def __init__(self, cin, cout, threshold, scale):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, 3, 3) * (2.0 / (9 * cin)) ** 0.5, requires_grad=False)
        self.scores = nn.Parameter(torch.full_like(self.weight, scale))
        self.threshold = threshold

    def forward(self, x):
        return F.conv2d(x, self.weight * Binarize.apply(self.scores, self.threshold), padding=1)


class MaskedLinear(nn.Module):
    def __init__(self, fin, fout, threshold, scale):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fout, fin) * (2.0 / fin) ** 0.5, requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(fout), requires_grad=False)
        self.scores = nn.Parameter(torch.full_like(self.weight, scale))
        self.threshold = threshold

    def forward(self, x):
        return F.linear(x, self.weight * Binarize.apply(self.scores, self.threshold), self.bias)


class Net(nn.Module):
    def __init__(self, threshold=5e-3, scale=1e-2):
        super().__init__()
        chans = [(1, 32), (32, 32), (32, 64), (64, 64)]
        self.convs = nn.ModuleList([MaskedConv(a, b, threshold, scale) for a, b in chans])
        self.bns = nn.ModuleList([nn.BatchNorm2d(b) for _, b in chans])
        for bn in self.bns:
            bn.requires_grad_(False)
        self.fc1 = MaskedLinear(64 * 7 * 7, 128, threshold, scale)
        self.head = nn.Linear(128, 10)

    def forward(self, x):
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            x = F.relu(bn(conv(x)))
            if i % 2 == 1:
                x = F.max_pool2d(x, 2)
        return self.head(F.relu(self.fc1(x.flatten(1))))


class MaskedConv2d(nn.Module):
    """Wraps a torchvision Conv2d: frozen weight, real-valued scores, binarised mask."""

    def __init__(self, conv, threshold=5e-3, scale=1e-2):
        super().__init__()
        self.conv = conv
        conv.weight.requires_grad_(False)
        if conv.bias is not None:
            conv.bias.requires_grad_(False)
        self.scores = nn.Parameter(torch.full_like(conv.weight, scale))
        self.threshold = threshold

    def forward(self, x):
        c = self.conv
        w = c.weight * Binarize.apply(self.scores, self.threshold)
        return F.conv2d(x, w, c.bias, c.stride, c.padding, c.dilation, c.groups)


def mask_convs(module):
    for name, child in module.named_children():
        if isinstance(child, nn.Conv2d):
            setattr(module, name, MaskedConv2d(child))
        else:
            mask_convs(child)


class Torchvision(nn.Module):
    def __init__(self, arch):
        super().__init__()
        import torchvision

        if arch == "resnet18":
            m = torchvision.models.resnet18(weights=None)
            m.fc = nn.Identity()
            self.body, feat = m, 512
        else:
            self.body = nn.Sequential(torchvision.models.mobilenet_v2(weights=None).features[:12], nn.AdaptiveAvgPool2d(1), nn.Flatten())
            feat = 96
        mask_convs(self.body)
        for mod in self.body.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.requires_grad_(False)
        self.head = nn.Linear(feat, 10)

    def forward(self, x):
        return self.head(self.body(x))

    def bn_eval(self):
        for mod in self.body.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.eval()

    def scores(self):
        return [p for n, p in self.body.named_parameters() if n.endswith("scores")]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", choices=["reference", "resnet18", "mobilenet_v2"], default="reference")
    p.add_argument("--size", type=int, default=0, help="input height and width (default: 28 for reference, else 32)")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    if a.arch == "reference":
        net = Net()
        net.bns.eval()  # frozen BN, as in the engine's default
        scores = [m.scores for m in list(net.convs) + [net.fc1]]
        size, chans = a.size or 28, 1
    else:
        net = Torchvision(a.arch)
        net.bn_eval()
        scores = net.scores()
        size, chans = a.size or 32, 3
    masked = sum(s.numel() for s in scores)
    opt_mask = torch.optim.Adam(scores, lr=1e-4)
    opt_head = torch.optim.Adam(net.head.parameters(), lr=1e-4)
    x = torch.rand(a.batch, chans, size, size)
    y = torch.randint(0, 10, (a.batch,))

    def step():
        opt_mask.zero_grad()
        opt_head.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt_mask.step()
        opt_head.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    dt = time.perf_counter() - t0
    # Debian's torch calls whatever libblas.so.3 the alternatives system selects (OpenBLAS or
    # the 30x slower reference BLAS): report the one actually mapped into this process.
    blas = "unknown"
    try:
        with open("/proc/self/maps") as f:
            libs = {l.split()[-1] for l in f if "blas" in l.lower() and "/" in l}
        blas = ", ".join(sorted(libs)) or "none mapped"
    except OSError:
        pass
    print(json.dumps({"torchMaskImgPerSec": a.steps * a.batch / dt, "threads": torch.get_num_threads(), "torch": torch.__version__, "blas": blas,
                      "arch": a.arch, "size": size, "batch": a.batch, "steps": a.steps, "maskedWeights": masked}))


if __name__ == "__main__":
    main()
