#!/usr/bin/env python3
"""Runs build/apps/bench_ops and the same cases in PyTorch (CPU, float32,
same thread count) in one invocation, and prints both with the ratio.

    python3 bench/ops_vs_torch.py [reps]

Needs Debian's python3-torch (apt-get install python3-torch); without it
only our timings are printed.
"""
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 15


def ours():
    """{case: median ms} from bench_ops (Google Benchmark, JSON output)."""
    exe = os.path.join(ROOT, "build", "apps", "bench_ops")
    out = subprocess.run([exe, f"--benchmark_repetitions={REPS}", "--benchmark_format=json"],
                         check=True, capture_output=True, text=True).stdout
    # run_name is e.g. "silu_fwd_bwd/iterations:1/real_time"
    return {b["run_name"].split("/")[0]: b["real_time"] for b in json.loads(out)["benchmarks"]
            if b.get("aggregate_name") == "median"}


def torch_cases(torch):
    g = torch.Generator().manual_seed(0)

    def leaf(*shape):
        return torch.randn(*shape, generator=g).requires_grad_()

    a, b = leaf(1024, 1024), leaf(1024, 1024)
    x, w, bias = leaf(64, 32, 28, 28), leaf(32, 32, 3, 3), leaf(32)
    h, gamma, beta = leaf(64, 64, 14, 14), leaf(64), leaf(64)
    att = leaf(64, 196, 196)
    q, k = leaf(64, 196, 64), leaf(64, 196, 64)
    chan = leaf(32, 1, 1)
    F = torch.nn.functional

    def fwd(f):
        def run():
            with torch.no_grad():
                f()
        return run

    def fwd_bwd(f, inputs):
        with torch.no_grad():
            dy = torch.randn(f().shape, generator=g)

        def run():
            f().backward(dy)
            for t in inputs:
                t.grad = None
        return run

    return {
        "matmul_1024_fwd": fwd(lambda: a @ b),
        "conv3x3_fwd": fwd(lambda: F.conv2d(x, w, bias, 1, 1)),
        "conv3x3_fwd_bwd": fwd_bwd(lambda: F.conv2d(x, w, bias, 1, 1), [x, w, bias]),
        "group_norm_fwd_bwd": fwd_bwd(lambda: F.group_norm(h, 32, gamma, beta), [h, gamma, beta]),
        "softmax_fwd_bwd": fwd_bwd(lambda: torch.softmax(att, -1), [att]),
        "bmm_qk_fwd_bwd": fwd_bwd(lambda: q @ k.transpose(1, 2), [q, k]),
        "silu_fwd_bwd": fwd_bwd(lambda: F.silu(x), [x]),
        "add_bias_fwd_bwd": fwd_bwd(lambda: x + chan, [x, chan]),
        "upsample_fwd_bwd": fwd_bwd(lambda: F.interpolate(h, scale_factor=2, mode="nearest"), [h]),
        "sum_nhw_fwd_bwd": fwd_bwd(lambda: x.sum((0, 2, 3)), [x]),
        "mse_fwd_bwd": fwd_bwd(lambda: F.mse_loss(x, chan * 1.0 + x * 0.5), [x, chan]),
        "dropout_fwd": fwd(lambda: F.dropout(x, 0.1, True)),
        "randn_1m": fwd(lambda: torch.randn(1 << 20, generator=g)),
    }


def median_ms(f, warmup=3):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    mine = ours()
    try:
        import torch
    except ImportError:
        torch = None
    theirs = {}
    if torch is not None:
        torch.set_num_threads(os.cpu_count())
        theirs = {name: median_ms(f) for name, f in torch_cases(torch).items()}
    header = f"{'case':22s} {'ours ms':>9s} {'torch ms':>9s} {'torch/ours':>10s}"
    print(f"float32, median of {REPS}, {os.cpu_count()} threads, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
          + (f", PyTorch {torch.__version__}" if torch else ", PyTorch not installed"))
    print(header)
    for name, ms in mine.items():
        if name in theirs:
            print(f"{name:22s} {ms:9.3f} {theirs[name]:9.3f} {theirs[name] / ms:9.2f}x")
        else:
            print(f"{name:22s} {ms:9.3f} {'-':>9s} {'-':>10s}")


if __name__ == "__main__":
    main()
