# mlp.py - the PyTorch twin of examples/mlp.c; its output is tests/expected/mlp.txt.
# Run with Debian's python3-torch: /usr/bin/python3 examples/mlp.py
import torch

torch.set_num_threads(1)
torch.manual_seed(0)
x = torch.randn(200, 2)
labels = (x[:, 0] * x[:, 1] > 0).long()
model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for epoch in range(1, 301):
    opt.zero_grad(set_to_none=True)
    logits = model(x)
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()
    opt.step()
    if epoch % 50 == 0:
        correct = (logits.argmax(1) == labels).sum().item()
        print("epoch %3d  loss %.4f  accuracy %.1f%%" % (epoch, loss.item(), 100.0 * correct / 200))
