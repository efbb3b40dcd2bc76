"""Item 8: a CNN local step against a plain PyTorch loop and against the CNN's FLOP floor.

Fast path: ``fedbench.fl.training.train_module``, one epoch (E = 1, B = 64) over the first
MNIST training images, on NIID-Bench's ``simple-cnn`` with its solver (lr 0.01, momentum
0.9, weight decay 1e-5) and on McMahan's ``cnn`` with the same solver and with McMahan's
plain SGD (momentum 0, no decay: the committed path). Reference path: the plain PyTorch loop
on the same batches (one ``torch.optim.SGD`` per round; ``zero_grad``, forward,
``cross_entropy``, ``backward``, ``step``, ``loss.item()``), timed alternately with it in
this process (``interleaved_wall_and_cpu``, one thread); the two must give identical weights and
loss, bit for bit. Reported: the median of the per-repeat ratios fedbench / plain of wall
time (and best against best) and of CPU time, ms per step, and the achieved GFLOP/s against
the FLOP floor.

FLOP floor: the multiply-adds of the conv and linear layers, counted from the layer shapes
(``train_flops``: forward, weight gradient, input gradient except for the first layer, whose
input needs none; 2 FLOPs per multiply-add) plus the optimizer's update (6 per parameter
with momentum and decay, 2 without), divided by this machine's single-thread float32 rate
(``best_peak``, the best of its samples taken before and after each timing in this
session): the 1024² ``torch.mm`` rate gives ``over_mm_floor``, and the better of it and a
dense convolution's rate gives ``over_flop_floor``. ReLU, pooling and the softmax are left
out, so the floor is a lower bound. Rate and ratio to the floor use CPU time on both sides
(the median CPU time of the fast path's calls, the best rate samples), which a shared
machine's queueing does not inflate.

NIID-Bench round: one round of NIID-Bench's MNIST protocol on this CPU (10 clients, each
E = 10 over 6000 samples with B = 64, ``simple-cnn`` with momentum, one thread, the real
``train_module``), plus a central evaluation on the 10,000 test images; 50 rounds make a
cell. At small size the round is cut to 2 clients, E = 1, 640 samples (a smoke run).
"""

from __future__ import annotations

import statistics
import time

import harness
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fedbench.data.mnist import read_mnist
from fedbench.fl.models import build_model
from fedbench.fl.training import LocalSGD, epoch_orders, evaluate, train_module

BATCH = 64
LR, MOMENTUM, DECAY = 0.01, 0.9, 1e-5
# (model, momentum, weight decay): NIID-Bench's solver on both CNNs, McMahan's plain SGD
CASES = [("simple-cnn", MOMENTUM, DECAY), ("cnn", MOMENTUM, DECAY), ("cnn", 0.0, 0.0)]
# samples of the timed epoch: the whole figure is per step, and the McMahan CNN's step is
# about 10x the simple CNN's, so it runs fewer steps (30) to keep the full run short
SAMPLES = {"full": {"simple-cnn": 6000, "cnn": 1920}, "small": {"simple-cnn": 640, "cnn": 128}}
# forward multiply-adds per 28x28 sample, by hand from the layer shapes (conv: output
# positions x channels x in-channels x 25; linear: in x out)
FORWARD_MACS = {
    "simple-cnn": 24 * 24 * 6 * 25 + 8 * 8 * 16 * 6 * 25 + 256 * 120 + 120 * 84 + 84 * 10,
    "cnn": 28 * 28 * 32 * 25 + 14 * 14 * 64 * 32 * 25 + 3136 * 512 + 512 * 10,
}


_PEAK: dict[str, list[float]] = {"mm": [], "conv": []}  # every rate sample of this session


def _best_rate(fn, flops: int, repeats: int) -> float:
    fn()
    best = 0.0
    for _ in range(repeats):
        c0 = time.process_time()
        fn()
        best = max(best, flops / (time.process_time() - c0))
    return best


def best_peak(repeats: int = 7) -> tuple[float, float]:
    """The best single-thread float32 rates (FLOP/s) seen so far in this session, after
    ``repeats`` more samples of each, in CPU time (a sample the scheduler interrupted is not
    counted slow): ``torch.mm`` of 1024² matrices (``harness.peak_flops``'s measure) and a
    dense convolution (32→32 channels, 5x5, 14x14, batch 64: the McMahan CNN's conv2
    shape, GEMM-like). Returns (matmul rate, best of both). On a CPU where MKL's sgemm is
    not the fastest kernel (MKL on AMD), oneDNN's convolution is the better peak."""
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(1024, 1024, generator=gen), torch.randn(1024, 1024, generator=gen)
    _PEAK["mm"].append(_best_rate(lambda: torch.mm(a, b), 2 * 1024**3, repeats))
    x, w = torch.randn(64, 32, 14, 14, generator=gen), torch.randn(32, 32, 5, 5, generator=gen)
    _PEAK["conv"].append(_best_rate(lambda: F.conv2d(x, w, padding=2),
                                    2 * 64 * 14 * 14 * 32 * 32 * 25, repeats))
    mm = max(_PEAK["mm"])
    return mm, max(mm, max(_PEAK["conv"]))


def interleaved_wall_and_cpu(a, b, repeats: int):
    """``harness.interleaved`` with both clocks: (wall a, wall b, CPU a, CPU b) per repeat,
    ``a`` first in even repeats and ``b`` first in odd ones (no order favoured).

    One thread, so a call's process CPU time is its own; on a shared machine it is the
    steadier of the two (time spent waiting for a core is not in it)."""
    a(), b()
    walls: tuple[list[float], list[float]] = ([], [])
    cpus: tuple[list[float], list[float]] = ([], [])
    for repeat in range(repeats):
        pair = [(a, walls[0], cpus[0]), (b, walls[1], cpus[1])]
        for fn, wall, cpu in pair if repeat % 2 == 0 else pair[::-1]:
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
    return walls[0], walls[1], cpus[0], cpus[1]


def mnist_train(root, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` MNIST training images, normalised as torchvision's MNIST examples."""
    images, labels, _, _ = read_mnist(root)
    x = torch.from_numpy(images[:n].reshape(n, 784).astype(np.float32) / 255.0)
    return (x - 0.1307) / 0.3081, torch.from_numpy(labels[:n].astype(np.int64))


def layer_macs(model: nn.Module) -> list[int]:
    """Forward multiply-adds per sample of each conv and linear layer, in call order."""
    macs: list[int] = []

    def hook(module: nn.Module, inputs, output: torch.Tensor) -> None:
        per_output = module.weight[0].numel() if isinstance(module, nn.Conv2d) else (
            module.in_features)
        macs.append(output[0].numel() * per_output)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, nn.Conv2d | nn.Linear)]
    with torch.no_grad():
        model(torch.zeros(1, 784))
    for h in handles:
        h.remove()
    return macs


def train_flops(model: nn.Module, samples: int, steps: int, momentum: float,
                decay: float) -> int:
    """The floor's arithmetic of ``steps`` SGD steps over ``samples`` samples (see above)."""
    macs = layer_macs(model)
    per_sample = 2 * (3 * sum(macs) - macs[0])  # forward, weight grad, input grad but the first
    params = sum(p.numel() for p in model.parameters())
    update = params * (2 + (2 if decay else 0) + (2 if momentum else 0))
    return samples * per_sample + steps * update


def plain_loop(model: nn.Module, params, x, y, orders, momentum: float, decay: float):
    """The textbook PyTorch loop on fedbench's batches; returns (state, mean loss)."""
    model.load_state_dict(params)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=momentum, weight_decay=decay)
    n, loss_sum = x.shape[0], 0.0
    for order in orders:
        idx = torch.from_numpy(order)
        xe, ye = x.index_select(0, idx), y.index_select(0, idx)
        for s in range(0, n, BATCH):
            xb, yb = xe[s : s + BATCH], ye[s : s + BATCH]
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * xb.shape[0]
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, loss_sum / (
        n * len(orders))


@pytest.mark.parametrize(("name", "momentum", "decay"), CASES,
                         ids=[f"{n}-m{m:g}" for n, m, _ in CASES])
def test_cnn_step_against_plain_pytorch(benchmark, size, mnist_root, figures, name: str,
                                        momentum: float, decay: float) -> None:
    torch.set_num_threads(1)
    n = SAMPLES[size.name][name]
    x, y = mnist_train(mnist_root, n)
    model, reference = build_model(name, 0), build_model(name, 0)
    params = {k: v.detach().clone() for k, v in model.state_dict().items()}
    orders = epoch_orders(n, 1, seed=0, server_round=1, client=0)
    sgd = LocalSGD(LR, decay, BATCH, momentum=momentum)

    def fast():
        return train_module(model, params, x, y, 1, sgd, orders)

    def plain():
        return plain_loop(reference, params, x, y, orders, momentum, decay)

    ours, (state, loss) = fast(), plain()  # identical numbers
    assert ours.params.keys() == state.keys()
    assert all(torch.equal(ours.params[k], state[k]) for k in state)
    assert ours.loss == loss
    assert layer_macs(model) and sum(layer_macs(model)) == FORWARD_MACS[name]

    best_peak()
    t_fast, t_plain, cpu_fast, cpu_plain = interleaved_wall_and_cpu(fast, plain,
                                                                    max(1, size.repeats))
    peak_mm, peak = best_peak(repeats=3)
    benchmark.pedantic(fast, rounds=1 if size.name == "small" else 3, iterations=1)
    steps = ours.steps
    flops = train_flops(model, n, steps, momentum, decay)
    median, cpu = statistics.median(t_fast), statistics.median(cpu_fast)
    benchmark.extra_info.update(ratio_to_plain=harness.median_ratio(t_fast, t_plain))
    figures(
        f"cnn_step_{name}_m{momentum:g}",
        ratio_to_plain=harness.median_ratio(t_fast, t_plain),
        ratio_best=min(t_fast) / min(t_plain),
        ratio_cpu=harness.median_ratio(cpu_fast, cpu_plain),
        step_ms=median / steps * 1e3,
        plain_step_ms=statistics.median(t_plain) / steps * 1e3,
        step_cpu_ms=cpu / steps * 1e3,
        gflops=flops / cpu / 1e9,
        peak_mm_gflops=peak_mm / 1e9,
        peak_gflops=peak / 1e9,
        over_mm_floor=cpu / (flops / peak_mm),
        over_flop_floor=cpu / (flops / peak),
        mflop_per_step=flops / steps / 1e6,
        samples=n,
        steps=steps,
        repeats=len(t_fast),
        identical=True,
    )


def test_niid_bench_round_cost(size, mnist_root, figures) -> None:
    torch.set_num_threads(1)
    clients, epochs, n = (10, 10, 6000) if size.name == "full" else (2, 1, 640)
    x_all, y_all = mnist_train(mnist_root, clients * n)
    _, _, test_images, test_labels = read_mnist(mnist_root)
    test_x = (torch.from_numpy(test_images.reshape(-1, 784).astype(np.float32) / 255.0)
              - 0.1307) / 0.3081
    test_y = torch.from_numpy(test_labels.astype(np.int64))
    model = build_model("simple-cnn", 0)
    params = {k: v.detach().clone() for k, v in model.state_dict().items()}
    sgd = LocalSGD(LR, DECAY, BATCH, momentum=MOMENTUM)
    train_module(model, params, x_all[:BATCH], y_all[:BATCH], 1, sgd,
                 epoch_orders(BATCH, 1, 0, 1, 0))  # warm-up (first-call kernel set-up)
    t0, c0 = time.perf_counter(), time.process_time()
    results = []
    for client in range(clients):
        x, y = x_all[client * n : (client + 1) * n], y_all[client * n : (client + 1) * n]
        orders = epoch_orders(n, epochs, seed=0, server_round=1, client=client)
        results.append(train_module(model, params, x, y, epochs, sgd, orders))
    t1 = time.perf_counter()
    average = {k: sum(r.params[k] for r in results) / clients for k in params}
    loss, acc = evaluate("simple-cnn", model, average, test_x, test_y)
    t2, c2 = time.perf_counter(), time.process_time()
    assert all(r.steps == epochs * -(-n // BATCH) for r in results)
    assert np.isfinite(loss) and 0.0 <= acc <= 1.0
    round_s = t2 - t0
    figures(
        "niid_bench_round",
        clients=clients,
        epochs=epochs,
        samples=n,
        train_s=t1 - t0,
        eval_s=t2 - t1,
        round_s=round_s,
        round_cpu_s=c2 - c0,
        step_ms=(t1 - t0) / sum(r.steps for r in results) * 1e3,
        cell_50_rounds_min=50 * round_s / 60,
        test_accuracy_round1=acc,
    )
