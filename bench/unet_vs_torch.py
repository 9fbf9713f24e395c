#!/usr/bin/env python3
"""Runs build/apps/bench and its PyTorch reference (bench/torch_unet.py: the
same U-Net, the same training and sampling steps) with the same thread count,
one process per configuration and side, and prints both with the ratio
torch/ours: above 1 means we are faster, or use less memory.

    python3 bench/unet_vs_torch.py [--presets tiny,small,base] [--batches 64,128]
                                   [--reps 5] [--warmup-reps 2] [--threads N] [--rounds R] [--markdown]
                                   [--device cpu|cuda]
    python3 bench/unet_vs_torch.py --check [--presets ...]
    python3 bench/unet_vs_torch.py --presets cifar10 --batches 16   # the paper's CIFAR-10 model

Each preset runs on images of the shape it was made for: the MNIST presets
(tiny, small, base, paper) on 1x28x28, cifar10 on 3x32x32.

--check loads our initial weights (perturbed so that every branch counts)
into the PyTorch model and compares the eval-mode forward, L_simple and the
gradient norm on one probe batch; it fails above a relative 1e-4.

Memory: "RSS" is a process's peak RSS minus its RSS before the model is built
(after `import torch` for PyTorch), over the training steps at the batch and
then the sampling steps at 64. "alloc" is the high-water mark of our caching
allocator in the training step (live tensors and scratch, without its cache);
PyTorch has no such statistic on the CPU. With --device cuda the memory
columns compare our device allocator's high-water mark with PyTorch's
torch.cuda.max_memory_allocated over the training steps, both in float32
(TF32 is off in PyTorch, and our cuBLAS calls use the default FP32 math).

Timings are medians of --reps steps; with --rounds R each configuration runs R
times per side, alternating, and the fastest median of each side is shown (on
a machine shared with other work, the rounds least disturbed by it).

PyTorch runs under /usr/bin/python3 (Debian's python3-torch) or $TORCH_PYTHON.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "build", "apps", "bench")
TORCH = [os.environ.get("TORCH_PYTHON", "/usr/bin/python3"),
         os.path.join(ROOT, "bench", "torch_unet.py")]
CHECK_TOLERANCE = 1e-4  # observed: about 2e-6


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def ours(preset, batch, args):
    return run_json([BENCH, "--presets", preset, "--batches", str(batch), "--reps",
                     str(args.reps), "--warmup-reps", str(args.warmup_reps), "--threads",
                     str(args.threads), "--device", args.device, "--json"])["rows"][0]


def torch_ref(preset, batch, args):
    return run_json(TORCH + ["--preset", preset, "--batch", str(batch), "--reps", str(args.reps),
                             "--warmup-reps", str(args.warmup_reps), "--threads", str(args.threads),
                             "--device", args.device])


def gpu_name():
    out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip()
    return out.splitlines()[0] if out else "unknown GPU"


def machine(args):
    if args.device == "cuda":
        return f"{gpu_name()}, float32"
    model = "unknown CPU"
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    return (f"{model}, {os.cpu_count()} cores, {args.threads} threads each, "
            f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")


def columns(device):
    memory = "peak MB" if device == "cuda" else "RSS MB"
    cols = ["preset", "batch", "step ms", "torch", "torch/ours", "img/s", "torch",
            "sample ms", "torch", "torch/ours", memory, "torch", "torch/ours"]
    return cols if device == "cuda" else cols + ["alloc MB"]


def row_cells(a, b, device):
    """On the CPU the memory compared is peak RSS, on CUDA the allocators' peaks."""
    key = "peak_mb" if device == "cuda" else "rss_mb"
    cells = [a["preset"], str(a["batch"]),
             f"{a['step_ms']:.1f}", f"{b['step_ms']:.1f}", f"{b['step_ms'] / a['step_ms']:.2f}",
             f"{a['img_s']:.1f}", f"{b['img_s']:.1f}",
             f"{a['sample_ms']:.1f}", f"{b['sample_ms']:.1f}",
             f"{b['sample_ms'] / a['sample_ms']:.2f}",
             f"{a[key]:.0f}", f"{b[key]:.0f}", f"{b[key] / a[key]:.2f}"]
    return cells if device == "cuda" else cells + [f"{a['peak_mb']:.0f}"]


def print_table(rows, markdown, device):
    cols = columns(device)
    if markdown:
        print("| " + " | ".join(cols) + " |")
        print("|" + "|".join(["---"] * 2 + ["---:"] * (len(cols) - 2)) + "|")
        for cells in rows:
            print("| " + " | ".join(cells) + " |")
        return
    widths = [max(len(c[i]) for c in [cols] + rows) for i in range(len(cols))]
    for cells in [cols] + rows:
        print("  ".join(c.rjust(w) if i > 1 else c.ljust(w)
                        for i, (c, w) in enumerate(zip(cells, widths))))


def fastest(results):
    """The first result with the smallest step and sampling times of all."""
    best = dict(results[0])
    for key in ("step_ms", "sample_ms"):
        best[key] = min(r[key] for r in results)
    best["img_s"] = 1e3 * best["batch"] / best["step_ms"]
    return best


def spread(results):
    steps = sorted(r["step_ms"] for r in results)
    return f"{steps[0]:.0f}-{steps[-1]:.0f} ms"


def configuration(preset, batch, args):
    mine, theirs = [], []
    for _ in range(args.rounds):
        mine.append(ours(preset, batch, args))
        theirs.append(torch_ref(preset, batch, args))
    assert mine[0]["params"] == theirs[0]["params"], f"{preset}: parameter counts differ"
    print(f"  done {preset} batch {batch}: step ours {spread(mine)}, torch {spread(theirs)} "
          f"(PyTorch {theirs[0]['torch']}, load average {os.getloadavg()[0]:.1f})", file=sys.stderr)
    return fastest(mine), fastest(theirs)


def benchmark(args):
    print(f"U-Net training step (batch as given) and ancestral sampling step (batch 64), "
          f"float32, median of {args.reps} after {args.warmup_reps} warm-up, fastest of "
          f"{args.rounds} round(s); {machine(args)}; load average {os.getloadavg()[0]:.1f} "
          f"at start")
    rows = [row_cells(*configuration(preset, batch, args), args.device)
            for preset in args.presets for batch in args.batches]
    print_table(rows, args.markdown, args.device)


def relative(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-30)


def check(args):
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            path = os.path.join(tmp, preset + ".safetensors")
            subprocess.run([BENCH, "--presets", preset, "--threads", str(args.threads),
                            "--parity", path], check=True)
            r = run_json(TORCH + ["--parity", path, "--threads", str(args.threads)])
            errors = [r["max_abs_diff"] / r["max_abs_y"],
                      relative(r["loss_ours"], r["loss_torch"]),
                      relative(r["grad_norm_ours"], r["grad_norm_torch"])]
            ok = ok and max(errors) <= CHECK_TOLERANCE
            print(f"{preset:6s} {r['params']:>9,d} params: forward max |diff| "
                  f"{r['max_abs_diff']:.3g} (max |y| {r['max_abs_y']:.3g}); L_simple "
                  f"{r['loss_ours']:.7g} vs {r['loss_torch']:.7g}; grad norm "
                  f"{r['grad_norm_ours']:.7g} vs {r['grad_norm_torch']:.7g}"
                  + ("" if max(errors) <= CHECK_TOLERANCE else "  MISMATCH"))
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", type=lambda s: s.split(","), default=["tiny", "small", "base"])
    p.add_argument("--batches", type=lambda s: [int(b) for b in s.split(",")], default=[64, 128])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup-reps", type=int, default=2)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--rounds", type=int, default=1, help="runs per configuration and side")
    p.add_argument("--markdown", action="store_true", help="print the table in Markdown")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--check", action="store_true", help="compare the two models' outputs only")
    args = p.parse_args()
    if args.check:
        return check(args)
    benchmark(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
