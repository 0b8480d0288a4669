# The seed's first training loop in PyTorch, time per epoch (bench/seed_loop.c is the C twin).
# Run with Debian's python3-torch: /usr/bin/python3 bench/torch/seed_loop.py EPOCHS [REPEATS]
import sys
import time

import torch

torch.set_num_threads(1)
epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
x = torch.tensor([1.0, 2.0, 3.0, 4.0])
y = torch.tensor([2.0, 4.0, 6.0, 8.0])
eta = 0.01
times = []
for _ in range(repeats):
    w = torch.tensor(0.0, requires_grad=True)
    b = torch.tensor(0.0, requires_grad=True)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        y_pred = w * x + b
        loss = ((y_pred - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= eta * w.grad
            b -= eta * b.grad
        w.grad.zero_()
        b.grad.zero_()
        last = loss.item()
    times.append((time.perf_counter() - t0) / epochs * 1e6)
times.sort()
print("final loss %.4f" % last)
print("seed_loop: %.4f us/epoch" % times[len(times) // 2])
