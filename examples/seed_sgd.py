# seed_sgd.py - the seed's second loop (gradient-descent.md), after torch.manual_seed(SEED):
# what build/examples/seed_sgd SEED must print, digit for digit.
# Run with Debian's python3-torch: /usr/bin/python3 examples/seed_sgd.py SEED
import sys

import torch

torch.manual_seed(int(sys.argv[1]))

# Data
x = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
y = torch.tensor([[2.0], [4.0], [6.0], [8.0]])

# Parameters
w = torch.randn(1, 1, requires_grad=True)
b = torch.randn(1, requires_grad=True)

# Learning rate
eta = 0.01

# Number of epochs
epochs = 100

for epoch in range(epochs):
    permutation = torch.randperm(x.size()[0])
    for i in permutation:
        xi = x[i]
        yi = y[i]
        # Forward pass
        y_pred = xi @ w + b
        # Compute loss
        loss = (y_pred - yi).pow(2).mean()
        # Backward pass
        loss.backward()
        # Update parameters
        with torch.no_grad():
            w -= eta * w.grad
            b -= eta * b.grad
        # Zero gradients
        w.grad.zero_()
        b.grad.zero_()
    # Print progress
    if (epoch + 1) % 10 == 0:
        # Compute total loss
        y_pred = x @ w + b
        loss = (y_pred - y).pow(2).mean()
        print(f'Epoch {epoch+1}: w = {w.item():.4f}, b = {b.item():.4f}, Loss = {loss.item():.4f}')
