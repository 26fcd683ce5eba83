#!/usr/bin/env python3
"""PyTorch peer for `piggyback bench`: the same Piggyback mask-training step on the same
reference CNN (4 conv 3x3 32-32-64-64 with frozen BN + ReLU, max-pool after conv 2 and 4,
dense 128, new head), batch 64, 28x28x1, Adam on scores and head, as in Mallya et al.'s code
(binarizer with a straight-through gradient). Prints one JSON line."""
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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    net = Net()
    net.bns.eval()  # frozen BN, as in the engine's default
    scores = [m.scores for m in list(net.convs) + [net.fc1]]
    opt_mask = torch.optim.Adam(scores, lr=1e-4)
    opt_head = torch.optim.Adam(net.head.parameters(), lr=1e-4)
    x = torch.rand(a.batch, 1, 28, 28)
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
    print(json.dumps({"torchMaskImgPerSec": a.steps * a.batch / dt, "threads": torch.get_num_threads(), "torch": torch.__version__, "blas": blas}))


if __name__ == "__main__":
    main()
