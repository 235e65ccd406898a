"""End to end: small networks trained with the engine reach their targets."""

from __future__ import annotations

import numpy as np

import engine
import engine.functional as F
from engine import nn
from engine.optim import SGD, AdamW


def spirals(n: int, seed: int):
    """Two interleaved spirals: not linearly separable."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.25, 1.0, n) * 3 * np.pi
    label = rng.integers(0, 2, n)
    r = t / (3 * np.pi)
    angle = t + label * np.pi
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], 1) + rng.normal(0, 0.02, (n, 2))
    return x.astype(np.float32), label


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(2, 32)
        self.fc2 = nn.Linear(32, 32)
        self.norm = nn.LayerNorm(32)
        self.out = nn.Linear(32, 2)

    def forward(self, x):
        h = F.linear_gelu(x, self.fc1.weight, self.fc1.bias)
        h = self.norm(self.fc2(h)).tanh()
        return self.out(h)


def test_mlp_learns_two_spirals() -> None:
    engine.manual_seed(0)
    x, y = spirals(512, seed=1)
    xt, yt = engine.from_numpy(x), engine.tensor(y)
    model = MLP()
    opt = AdamW(model.parameters(), lr=0.01, weight_decay=1e-4)
    first = None
    for step in range(300):
        loss = F.cross_entropy(model(xt), yt)
        if first is None:
            first = loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    xv, yv = spirals(400, seed=2)
    with engine.no_grad():
        model.eval()
        pred = model(engine.from_numpy(xv)).argmax(-1).numpy()
    accuracy = (pred == yv).mean()
    assert loss.item() < 0.2 * first
    assert accuracy >= 0.95, accuracy


def bars(n: int, seed: int):
    """8x8 images with one horizontal or one vertical bar (label 0 / 1) plus noise."""
    rng = np.random.default_rng(seed)
    imgs = rng.normal(0, 0.3, (n, 1, 8, 8)).astype(np.float32)
    label = rng.integers(0, 2, n)
    pos = rng.integers(1, 7, n)
    for i in range(n):
        if label[i] == 0:
            imgs[i, 0, pos[i], 1:7] += 1.0
        else:
            imgs[i, 0, 1:7, pos[i]] += 1.0
    return imgs, label


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.drop = nn.Dropout(0.1)
        self.fc = nn.Linear(8 * 4 * 4, 2)

    def forward(self, x):
        h = self.conv1(x).relu()
        h = self.conv2(h).relu()
        return self.fc(self.drop(h.reshape(h.shape[0], -1)))


def test_conv_net_tells_horizontal_from_vertical_bars() -> None:
    engine.manual_seed(1)
    x, y = bars(256, seed=3)
    model = ConvNet()
    opt = SGD(model.parameters(), lr=0.2, momentum=0.9)
    losses = []
    for epoch in range(8):
        for i in range(0, 256, 32):
            xb = engine.from_numpy(x[i:i + 32])
            loss = F.cross_entropy(model(xb), engine.tensor(y[i:i + 32]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert np.mean(losses[-8:]) < 0.25 * np.mean(losses[:8])
    xv, yv = bars(200, seed=4)
    with engine.no_grad():
        model.eval()
        pred = model(engine.from_numpy(xv)).argmax(-1).numpy()
    assert (pred == yv).mean() >= 0.95
