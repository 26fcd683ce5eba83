#!/usr/bin/env python3
"""PyTorch peer for bench/profile-native.ts: Piggyback mask training of Keras' MobileNetV2
(alpha 1.0, as nsfwjs ships it) cut at block_10_project_BN: every conv and depthwise conv masked
(binarizer, straight-through gradient), BN frozen (eval), ReLU6, residual adds, ZeroPadding before
the stride-2 depthwise convs as Keras does, global average pooling and a new 10-way head; Adam on
scores and head. Random weights (speed only). Prints one JSON line.

  /usr/bin/python3 bench/torch_mnv2_mask.py --hw 32 --batch 16 --threads 2
"""
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
    def __init__(self, cin, cout, k, stride=1, groups=1, padding=0, threshold=5e-3, scale=1e-2):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin // groups, k, k) * (2.0 / (k * k * cin / groups)) ** 0.5, requires_grad=False)
        self.scores = nn.Parameter(torch.full_like(self.weight, scale))
        self.stride, self.groups, self.padding, self.threshold = stride, groups, padding, threshold

    def forward(self, x):
        w = self.weight * Binarize.apply(self.scores, self.threshold)
        return F.conv2d(x, w, stride=self.stride, padding=self.padding, groups=self.groups)


def bn(c):
    b = nn.BatchNorm2d(c, eps=1e-3)
    b.requires_grad_(False)
    return b


class Block(nn.Module):
    """Keras MobileNetV2 inverted residual: [expand 1x1] -> depthwise 3x3 -> project 1x1."""

    def __init__(self, cin, cout, expansion, stride):
        super().__init__()
        mid = cin * expansion
        self.expand = None if expansion == 1 else nn.Sequential(MaskedConv(cin, mid, 1), bn(mid))
        # Keras: 'same' padding for stride 1, ZeroPadding2D((0,1),(0,1)) + 'valid' for stride 2.
        self.stride = stride
        self.dw = MaskedConv(mid, mid, 3, stride=stride, groups=mid, padding=1 if stride == 1 else 0)
        self.dw_bn = bn(mid)
        self.project = MaskedConv(mid, cout, 1)
        self.project_bn = bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        h = x if self.expand is None else F.relu6(self.expand(x))
        if self.stride == 2:
            h = F.pad(h, (0, 1, 0, 1))
        h = F.relu6(self.dw_bn(self.dw(h)))
        h = self.project_bn(self.project(h))
        return x + h if self.residual else h


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = MaskedConv(3, 32, 3, stride=2)
        self.conv1_bn = bn(32)
        # (cin, cout, expansion, stride): expanded_conv, block_1 .. block_10
        cfg = [(32, 16, 1, 1), (16, 24, 6, 2), (24, 24, 6, 1), (24, 32, 6, 2), (32, 32, 6, 1), (32, 32, 6, 1),
               (32, 64, 6, 2), (64, 64, 6, 1), (64, 64, 6, 1), (64, 64, 6, 1), (64, 96, 6, 1)]
        self.blocks = nn.Sequential(*[Block(*c) for c in cfg])
        self.head = nn.Linear(96, 10)

    def forward(self, x):
        x = F.relu6(self.conv1_bn(self.conv1(F.pad(x, (0, 1, 0, 1)))))
        x = self.blocks(x)
        return self.head(x.mean((2, 3)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hw", type=int, default=32)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    net = Net()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()  # frozen BN
    masked = [m for m in net.modules() if isinstance(m, MaskedConv)]
    opt_mask = torch.optim.Adam([m.scores for m in masked], lr=1e-4)
    opt_head = torch.optim.Adam(net.head.parameters(), lr=1e-4)
    x = torch.rand(a.batch, 3, a.hw, a.hw)
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
    print(json.dumps({
        "torchMaskImgPerSec": a.steps * a.batch / dt, "hw": a.hw, "batch": a.batch, "threads": torch.get_num_threads(),
        "torch": torch.__version__, "maskedLayers": len(masked), "maskedWeights": sum(m.weight.numel() for m in masked),
        "loadavg": os.getloadavg(),
    }))


if __name__ == "__main__":
    main()
