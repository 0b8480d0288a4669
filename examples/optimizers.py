# optimizers.py - the PyTorch twin of examples/optimizers.c; its output is
# tests/expected/optimizers.txt, which build/examples/optimizers must print exactly.
# Run with Debian's python3-torch: /usr/bin/python3 examples/optimizers.py
import torch

names = ["GD", "SGD", "SGD+momentum", "Adam", "AdamW"]


def make(k, params):
    return [lambda: torch.optim.SGD(params, lr=0.01),  # GD is plain SGD
            lambda: torch.optim.SGD(params, lr=0.01),
            lambda: torch.optim.SGD(params, lr=0.01, momentum=0.9),
            lambda: torch.optim.Adam(params, lr=0.1),
            lambda: torch.optim.AdamW(params, lr=0.1)][k]()


x = torch.tensor([1.0, 2.0, 3.0, 4.0])
y = torch.tensor([2.0, 4.0, 6.0, 8.0])
table = []
for k in range(5):
    w = torch.tensor(0.0, requires_grad=True)
    b = torch.tensor(0.0, requires_grad=True)
    opt = make(k, [w, b])
    losses = []
    for epoch in range(100):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(w * x + b, y)
        loss.backward()
        opt.step()
        if (epoch + 1) % 10 == 0:
            losses.append(loss.item())
    print("%-13s w = %.4f, b = %.4f" % (names[k], w.item(), b.item()))
    table.append(losses)
print("\n| epoch |" + "".join(" %s |" % n for n in names))
print("|---|" + "---|" * 5)
for e in range(10):
    print("| %d |" % ((e + 1) * 10) + "".join(" %.4f |" % table[k][e] for k in range(5)))
