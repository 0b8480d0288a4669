# One training step of examples/fashion_mnist.c's convnet on a fixed batch in PyTorch, median
# time per step (bench/cnn_step.c is the C twin: conv 1->32 3x3, ReLU, pool 2, conv 32->64 3x3,
# ReLU, pool 2, flatten, linear -> 10; cross_entropy, backward, SGD lr 0.01 momentum 0.9).
# Run with Debian's python3-torch: /usr/bin/python3 bench/torch/cnn_step.py BATCH STEPS
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

WARMUP = 3
torch.set_num_threads(1)
batch = int(sys.argv[1]) if len(sys.argv) > 1 else 64
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(64 * 5 * 5, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
POOL = 8  # batches taken in turn, random labels: the loss stays near ln 10
xs, ys = [], []
for k in range(POOL):
    xs.append(torch.rand(batch, 1, 28, 28))
    ys.append(torch.randint(0, 10, (batch,)))
times, cpu = [], []
for s in range(-WARMUP, steps):
    t0, c0 = time.perf_counter(), time.process_time()
    opt.zero_grad(set_to_none=False)
    k = (s + WARMUP) % POOL
    loss = F.cross_entropy(model(xs[k]), ys[k])
    loss.backward()
    opt.step()
    if s >= 0:
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)


def median(v):
    v, n = sorted(v), len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


print("loss after %d steps: %.4f" % (WARMUP + steps, loss.item()))
print("wall-clock median: %.3f ms/step" % median(times))
# The process's CPU time: what a busy machine disturbs least (see bench/mlp_step.c).
print("cnn_step: %.3f ms/step (CPU time)" % median(cpu))
