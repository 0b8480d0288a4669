# A chain of scalar ops in PyTorch, forward + backward, time per op (bench/scalar_chain.c).
# Run with Debian's python3-torch: /usr/bin/python3 bench/torch/scalar_chain.py NODES REPEATS
import sys
import time

import torch

torch.set_num_threads(1)
nodes = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 20
x = torch.tensor(0.5, requires_grad=True)
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    y = x
    for i in range(nodes):
        y = y + 0.001 if i % 2 else y * 0.999
    y.backward()
    grad = x.grad.item()
    x.grad = None
    times.append((time.perf_counter() - t0) / nodes * 1e9)
times.sort()
print("d y / d x = %.6f" % grad)
print("scalar_chain: %.2f ns/op" % times[len(times) // 2])
