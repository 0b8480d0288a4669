# fashion_mnist.py - examples/fashion_mnist.c in PyTorch, line for line, with the same options:
# the MLP 784-256-10 (or --cnn: conv 1->32 3x3, ReLU, pool 2, conv 32->64 3x3, ReLU, pool 2,
# flatten, linear -> 10), SGD lr 0.1 (or --lr) momentum 0.9, cross_entropy, batch 64, one thread.
# After the same --seed both start from the same weights and see the batches in the same order.
# It reads the same gzipped IDX files (Debian's dataset-fashion-mnist) with gzip + struct, not
# torchvision; the images stay uint8, as torchvision's dataset.data, and each batch becomes
# float32 v / 255 as ToTensor() makes it (as the C side does: the same memory, like for like).
# Run with Debian's python3-torch:
#   /usr/bin/python3 bench/torch/fashion_mnist.py [--cnn] [--epochs N] [--batch B] [--lr LR]
#                                                 [--seed S] [--limit N] [--csv FILE] [--png FILE]
# (The C side's --checkpoint and --resume have no twin here.)
import argparse
import gzip
import os
import resource
import shutil
import struct
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
DIR = "/usr/share/datasets/fashion-mnist"


def load_idx(path):
    """An IDX file as a uint8 tensor of its dims (big-endian header: magic, then the dims)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    if magic >> 8 != 0x08:
        sys.exit("%s: not a uint8 IDX file (magic 0x%08x)" % (path, magic))
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data), dtype=torch.uint8, offset=4 + 4 * ndim).view(*dims)


def load_split(split):
    x = load_idx("%s/%s-images-idx3-ubyte.gz" % (DIR, split))  # uint8 (N, 28, 28)
    y = load_idx("%s/%s-labels-idx1-ubyte.gz" % (DIR, split)).to(torch.int64)
    return x, y


def make_mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def make_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 10))


def forward(model, cnn, x):
    x = x.to(torch.float32).div(255)  # ToTensor(), per batch
    return model(x.unsqueeze(1) if cnn else x)


def train_epoch(model, cnn, opt, loader, tty, epoch, epochs, total):
    loss_sum, seen = 0.0, 0
    start = last = time.perf_counter()
    model.train()
    for x, y in loader:
        opt.zero_grad(set_to_none=False)  # torch 1.13's default, as the C side
        logits = forward(model, cnn, x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        opt.step()
        loss_sum += loss.item() * x.shape[0]
        seen += x.shape[0]
        t = time.perf_counter()
        if tty and (t - last >= 0.1 or seen == total):
            last = t
            rate = seen / (t - start)
            bar = "#" * (30 * seen // total) + "." * (30 - 30 * seen // total)
            print("\repoch %d/%d [%s] %3d%% %7.0f items/s  loss %.4f  ETA %3.0fs "
                  % (epoch, epochs, bar, 100 * seen // total, rate, loss_sum / seen,
                     (total - seen) / rate), end="", flush=True)
    return loss_sum / seen


def evaluate(model, cnn, loader):
    loss_sum, correct, seen = 0.0, 0, 0
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            logits = forward(model, cnn, x)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            seen += y.numel()
    return loss_sum / seen, 100.0 * correct / seen


def write_png(path, title, m):
    if not shutil.which("gnuplot"):
        print("fashion_mnist.py: gnuplot is not installed (apt-get install gnuplot-nox): no %s"
              % path, file=sys.stderr)
        return
    rows = "".join("%d %.6f %.6f %.2f\n" % (e + 1, a, b, c) for e, (a, b, c, _) in enumerate(m))
    script = ("set terminal pngcairo size 1000,420 font ',10'\nset output '%s'\n$m << EOD\n%sEOD\n"
              "set multiplot layout 1,2 title '%s (PyTorch)'\nset grid\nset xlabel 'epoch'\n"
              "set xtics 1\nset key top right\nset title 'cross-entropy loss'\n"
              "plot $m using 1:2 with linespoints title 'train', "
              "$m using 1:3 with linespoints title 'test'\n"
              "set title 'test accuracy (%%)'\nset key bottom right\n"
              "plot $m using 1:4 with linespoints title 'test accuracy'\nunset multiplot\n"
              % (path, rows, title))
    subprocess.run(["gnuplot"], input=script.encode(), check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cnn", action="store_true")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--csv")
    ap.add_argument("--png")
    o = ap.parse_args()
    if not os.path.exists(DIR + "/t10k-images-idx3-ubyte.gz"):
        sys.exit("fashion_mnist.py: Fashion-MNIST is not installed; install it with\n"
                 "    sudo apt-get install dataset-fashion-mnist")
    x, y = load_split("train")
    xt, yt = load_split("t10k")
    if 0 < o.limit < x.shape[0]:
        x, y = x[:o.limit].clone(), y[:o.limit].clone()

    torch.manual_seed(o.seed)
    model = make_cnn() if o.cnn else make_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=o.lr, momentum=0.9)
    train = DataLoader(TensorDataset(x, y), batch_size=o.batch, shuffle=True)
    test = DataLoader(TensorDataset(xt, yt), batch_size=1000)

    name = "CNN" if o.cnn else "MLP 784-256-10"
    print("fashion_mnist: %s, %d training and %d test images, batch %d, lr %g, seed %d"
          % (name, x.shape[0], xt.shape[0], o.batch, o.lr, o.seed), flush=True)
    tty = sys.stdout.isatty()
    m = []
    for e in range(o.epochs):
        t0 = time.perf_counter()
        train_loss = train_epoch(model, o.cnn, opt, train, tty, e + 1, o.epochs, x.shape[0])
        seconds = time.perf_counter() - t0
        test_loss, test_acc = evaluate(model, o.cnn, test)
        m.append((train_loss, test_loss, test_acc, seconds))
        print("%sepoch %d/%d: train loss %.4f, test loss %.4f, test accuracy %.2f%%, %.2f s"
              " (%.0f items/s)" % ("\r\033[K" if tty else "", e + 1, o.epochs, train_loss,
                                   test_loss, test_acc, seconds, x.shape[0] / seconds),
              flush=True)

    if o.csv:
        with open(o.csv, "w") as f:
            f.write("epoch,train_loss,test_loss,test_acc,seconds\n")
            for e, (a, b, c, s) in enumerate(m):
                f.write("%d,%.6f,%.6f,%.2f,%.3f\n" % (e + 1, a, b, c, s))
    if o.png:
        write_png(o.png, name, m)
    secs = sorted(s for _, _, _, s in m)
    n = len(secs)
    median = secs[n // 2] if n % 2 else 0.5 * (secs[n // 2 - 1] + secs[n // 2])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("time: %.3f s/epoch (median of %d), final test accuracy %.2f%%, peak RSS %.1f MiB"
          % (median, n, m[-1][2], rss))


if __name__ == "__main__":
    main()
