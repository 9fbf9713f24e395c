#!/usr/bin/env python3
"""The DDPM U-Net of nn/unet.h in PyTorch: the same layers, parameter names
and initialization, and the same training and sampling steps as apps/bench,
as the reference for bench/unet_vs_torch.py. Prints one JSON object.

    /usr/bin/python3 bench/torch_unet.py --preset tiny --batch 64 --reps 5 --warmup-reps 2 --threads 2
    /usr/bin/python3 bench/torch_unet.py --preset cifar10 --batch 16   # the paper's, 3x32x32
    python3 bench/torch_unet.py --preset base --batch 128 --device cuda   # float32, TF32 off
    /usr/bin/python3 bench/torch_unet.py --parity FILE   # FILE from build/apps/bench --parity FILE

Needs PyTorch and NumPy (Debian's python3-torch).
"""
import argparse
import json
import math
import resource
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

PRESETS = {  # as nn::unet_preset (docs/unet.md) at the shape apps/bench times; dropout 0.1
    # The MNIST presets: ch_mult (1, 2, 2) at 1x28x28.
    "tiny": dict(ch=32, num_res_blocks=1, attn_resolutions=(7,), num_groups=8),
    "small": dict(ch=32, num_res_blocks=2, attn_resolutions=(14,), num_groups=8),
    "base": dict(ch=64, num_res_blocks=2, attn_resolutions=(14,), num_groups=32),
    "paper": dict(ch=128, num_res_blocks=2, attn_resolutions=(14,), num_groups=32),
    # The paper's CIFAR-10 model at 3x32x32.
    "cifar10": dict(ch=128, num_res_blocks=2, attn_resolutions=(16,), num_groups=32,
                    ch_mult=(1, 2, 2, 2), in_ch=3, resolution=32),
}
PARAMS = {"tiny": 1112801, "small": 1623169, "base": 6469889, "paper": 25833985,
          "cifar10": 35746307}
ZERO_INIT_SCALE = 1e-10  # nn/init.h: residual branches start as (almost) zero
T = 1000
EMA_DECAY = 0.999  # train_mnist's --ema
SAMPLE_BATCH, SAMPLE_STEP = 64, T // 2


def variance_scaling_(w, fan_in, fan_out, scale):
    limit = math.sqrt(3.0 * scale / ((fan_in + fan_out) / 2))
    with torch.no_grad():
        w.uniform_(-limit, limit)


class Linear(nn.Linear):
    def __init__(self, cin, cout, scale=1.0):
        super().__init__(cin, cout)
        variance_scaling_(self.weight, cin, cout, scale)
        nn.init.zeros_(self.bias)


class Conv2d(nn.Conv2d):
    def __init__(self, cin, cout, k, stride=1, scale=1.0):
        super().__init__(cin, cout, k, stride, padding=k // 2)
        variance_scaling_(self.weight, cin * k * k, cout * k * k, scale)
        nn.init.zeros_(self.bias)


def group_norm(groups, channels):
    return nn.GroupNorm(groups, channels, eps=1e-6)


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float64) * -(math.log(10000.0) / (half - 1)))
    args = t.to(torch.float64)[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], 1).float()


class TimestepEmbedding(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.ch = ch
        self.dense0, self.dense1 = Linear(ch, 4 * ch), Linear(4 * ch, 4 * ch)

    def forward(self, t):
        return self.dense1(F.silu(self.dense0(timestep_embedding(t, self.ch))))


class Downsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = Conv2d(ch, ch, 3, stride=2)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = Conv2d(ch, ch, 3)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class AttentionBlock(nn.Module):
    def __init__(self, ch, groups):
        super().__init__()
        self.norm = group_norm(groups, ch)
        self.q, self.k, self.v = Conv2d(ch, ch, 1), Conv2d(ch, ch, 1), Conv2d(ch, ch, 1)
        self.proj_out = Conv2d(ch, ch, 1, scale=ZERO_INIT_SCALE)

    def forward(self, x):
        n, c, h, w = x.shape
        y = self.norm(x)
        q, k, v = (m(y).reshape(n, c, h * w) for m in (self.q, self.k, self.v))
        weights = torch.softmax(q.transpose(1, 2) @ k * (1.0 / math.sqrt(c)), -1)
        out = v @ weights.transpose(1, 2)
        return x + self.proj_out(out.reshape(n, c, h, w))


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb_ch, groups, dropout):
        super().__init__()
        self.norm1, self.conv1 = group_norm(groups, cin), Conv2d(cin, cout, 3)
        self.temb_proj = Linear(temb_ch, cout)
        self.norm2, self.dropout = group_norm(groups, cout), nn.Dropout(dropout)
        self.conv2 = Conv2d(cout, cout, 3, scale=ZERO_INIT_SCALE)
        self.nin_shortcut = Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return (self.nin_shortcut(x) if self.nin_shortcut is not None else x) + h


class Level(nn.Module):
    """ResBlocks, attention after some ("attn.<j>"), and a resampler."""

    def __init__(self):
        super().__init__()
        self.res, self.attn = nn.ModuleList(), nn.ModuleDict()
        self.downsample = self.upsample = None

    def block(self, j, h, temb):
        h = self.res[j](h, temb)
        return self.attn[str(j)](h) if str(j) in self.attn else h


class UNet(nn.Module):
    def __init__(self, ch, num_res_blocks, attn_resolutions, num_groups, ch_mult=(1, 2, 2),
                 in_ch=1, resolution=28, dropout=0.1):
        super().__init__()
        self.image_shape = (in_ch, resolution, resolution)

        def res_block(cin, cout):
            return ResBlock(cin, cout, 4 * ch, num_groups, dropout)

        def add_attn(level, j, cur, res):
            if res in attn_resolutions:
                level.attn[str(j)] = AttentionBlock(cur, num_groups)

        self.temb = TimestepEmbedding(ch)
        self.conv_in = Conv2d(in_ch, ch, 3)
        skip, cur, res, levels = [ch], ch, resolution, len(ch_mult)
        self.down = nn.ModuleList()
        for i, mult in enumerate(ch_mult):
            level = Level()
            for j in range(num_res_blocks):
                level.res.append(res_block(cur, ch * mult))
                cur = ch * mult
                add_attn(level, j, cur, res)
                skip.append(cur)
            if i != levels - 1:
                level.downsample = Downsample(cur)
                skip.append(cur)
                res = (res + 1) // 2
            self.down.append(level)
        self.mid = nn.ModuleDict(dict(res1=res_block(cur, cur),
                                      attn=AttentionBlock(cur, num_groups),
                                      res2=res_block(cur, cur)))
        up = [None] * levels
        for i in reversed(range(levels)):
            level = Level()
            for j in range(num_res_blocks + 1):
                level.res.append(res_block(cur + skip.pop(), ch * ch_mult[i]))
                cur = ch * ch_mult[i]
                add_attn(level, j, cur, res)
            if i != 0:
                level.upsample = Upsample(cur)
                res *= 2
            up[i] = level
        self.up = nn.ModuleList(up)
        self.norm_out = group_norm(num_groups, cur)
        self.conv_out = Conv2d(cur, in_ch, 3, scale=ZERO_INIT_SCALE)

    def forward(self, x, t):
        temb = self.temb(t)
        hs = [self.conv_in(x)]
        for level in self.down:
            for j in range(len(level.res)):
                hs.append(level.block(j, hs[-1], temb))
            if level.downsample is not None:
                hs.append(level.downsample(hs[-1]))
        mid = self.mid
        h = mid["res2"](mid["attn"](mid["res1"](hs[-1], temb)), temb)
        for level in reversed(self.up):
            for j in range(len(level.res)):
                h = level.block(j, torch.cat([h, hs.pop()], 1), temb)
            if level.upsample is not None:
                h = level.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


def make_unet(preset):
    model = UNet(**PRESETS[preset])
    count = sum(p.numel() for p in model.parameters())
    assert count == PARAMS[preset], f"{preset}: {count} parameters, ours has {PARAMS[preset]}"
    return model


class Diffusion:
    """The linear schedule (T = 1000), eps prediction, fixed large variance."""

    def __init__(self, device="cpu"):
        betas = 1e-4 + (0.02 - 1e-4) * np.arange(T, dtype=np.float64) / (T - 1)
        abar = np.cumprod(1.0 - betas)
        abar_prev = np.append(1.0, abar[:-1])
        post_var = betas * (1.0 - abar_prev) / (1.0 - abar)
        table = lambda a: torch.tensor(a, dtype=torch.float32, device=device)
        self.sqrt_abar, self.sqrt_1m_abar = table(np.sqrt(abar)), table(np.sqrt(1.0 - abar))
        self.sqrt_recip_abar = table(np.sqrt(1.0 / abar))
        self.sqrt_recipm1_abar = table(np.sqrt(1.0 / abar - 1.0))
        self.coef1 = table(betas * np.sqrt(abar_prev) / (1.0 - abar))
        self.coef2 = table((1.0 - abar_prev) * np.sqrt(1.0 - betas) / (1.0 - abar))
        self.large_log_var = table(np.log(np.append(post_var[1], betas[1:])))

    @staticmethod
    def extract(table, t):
        return table[t.long()].view(-1, 1, 1, 1)

    def training_loss(self, model, x0, t, noise):
        """L_simple: the per-sample mean of (eps - model)^2, averaged over the batch."""
        xt = self.extract(self.sqrt_abar, t) * x0 + self.extract(self.sqrt_1m_abar, t) * noise
        return ((noise - model(xt, t)) ** 2).mean((1, 2, 3)).mean()

    @torch.no_grad()
    def p_sample(self, model, xt, t, gen):
        """One ancestral step with the predicted x_0 clipped to [-1, 1]."""
        eps = model(xt, t)
        x0 = (self.extract(self.sqrt_recip_abar, t) * xt
              - self.extract(self.sqrt_recipm1_abar, t) * eps).clamp(-1.0, 1.0)
        mean = self.extract(self.coef1, t) * x0 + self.extract(self.coef2, t) * xt
        nonzero = (t != 0).float().view(-1, 1, 1, 1)
        sigma = torch.exp(0.5 * self.extract(self.large_log_var, t))
        return mean + nonzero * sigma * torch.randn(xt.shape, generator=gen, device=xt.device)


class Batches:
    """Random batches of an in-memory set of random byte images of `shape`
    (C, H, W), copied to the device in [-1, 1], as apps/common/training.cpp
    draws MNIST's."""

    def __init__(self, batch, device, shape, count=1024):
        self.gen = torch.Generator().manual_seed(0)
        self.images = torch.randint(0, 256, (count, *shape), dtype=torch.uint8,
                                    generator=self.gen)
        self.batch, self.device = batch, device

    def next(self):
        u = torch.rand(self.batch, dtype=torch.float64, generator=self.gen)
        idx = (u * self.images.shape[0]).long().clamp_(max=self.images.shape[0] - 1)
        return (self.images[idx].float() / 127.5 - 1).to(self.device)


def ema_update(shadow, model, decay=EMA_DECAY):
    with torch.no_grad():
        for s, p in zip(shadow, model.parameters()):
            s.mul_(decay).add_(p, alpha=1 - decay)


def train_step(model, opt, diffusion, batches, shadow, gen):
    """apps/bench's step, which is train_mnist's: a batch, t, eps, L_simple,
    backward, clip 1.0, Adam, the EMA update."""
    x0 = batches.next()
    t = torch.randint(0, T, (x0.shape[0],), generator=gen, device=x0.device)
    noise = torch.randn(x0.shape, generator=gen, device=x0.device)
    loss = diffusion.training_loss(model, x0, t, noise)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    ema_update(shadow, model)
    loss.item()


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(f, device, warmup, reps):
    """The upper median of reps timed calls after warmup untimed ones, each
    ending when the device has finished, as apps/bench."""
    for _ in range(warmup):
        f()
    synchronize(device)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        synchronize(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return sorted(times)[reps // 2]


def resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def bench(args):
    """Training steps at args.batch, then sampling steps at SAMPLE_BATCH."""
    rss_base = resident_mb()
    device = torch.device(args.device)
    torch.manual_seed(0)
    gen = torch.Generator(device=device).manual_seed(2)
    model = make_unet(args.preset).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    diffusion = Diffusion(device)
    batches = Batches(args.batch, device, model.image_shape)
    # train_mnist holds the EMA and a second model to sample the grids with.
    shadow = [p.detach().clone() for p in model.parameters()]
    ema_model = make_unet(args.preset).to(device)
    step = lambda: train_step(model, opt, diffusion, batches, shadow, gen)
    step_ms = median_ms(step, device, args.warmup_reps, args.reps)
    peak_mb = torch.cuda.max_memory_allocated(device) / 1e6 if device.type == "cuda" else None
    model.eval()
    xt = torch.randn(SAMPLE_BATCH, *model.image_shape, generator=gen, device=device)
    t = torch.full((SAMPLE_BATCH,), SAMPLE_STEP, dtype=torch.int64, device=device)
    sample = lambda: diffusion.p_sample(model, xt, t, gen)
    sample_ms = median_ms(sample, device, args.warmup_reps, args.reps)
    return dict(preset=args.preset, batch=args.batch, params=PARAMS[args.preset],
                step_ms=step_ms, img_s=1e3 * args.batch / step_ms, sample_ms=sample_ms,
                rss_mb=peak_rss_mb() - rss_base, peak_mb=peak_mb, device=str(device))


def read_safetensors(path):
    """{name: numpy array} and the metadata of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    dtypes = {"F32": "<f4", "F64": "<f8", "I32": "<i4"}
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        data = np.frombuffer(raw, dtypes[info["dtype"]], offset=8 + n + begin,
                             count=(end - begin) // np.dtype(dtypes[info["dtype"]]).itemsize)
        tensors[name] = data.reshape(info["shape"]).copy()
    return tensors, meta


def parity(path):
    """Our weights in this model: the forward, L_simple and the gradient norm
    on the probe, in eval mode, against ours."""
    tensors, meta = read_safetensors(path)
    model = make_unet(meta["preset"])
    weights = {k: torch.from_numpy(v) for k, v in tensors.items() if not k.startswith("probe.")}
    model.load_state_dict(weights, strict=True)
    model.eval()
    x, t, noise, y = (torch.from_numpy(tensors["probe." + k]) for k in ("x", "t", "noise", "y"))
    with torch.no_grad():
        y_torch = model(x, t)
    loss = Diffusion().training_loss(model, x, t, noise)
    loss.backward()
    grad_norm = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in model.parameters()))
    return dict(preset=meta["preset"], params=PARAMS[meta["preset"]],
                max_abs_diff=float((y_torch - y).abs().max()), max_abs_y=float(y.abs().max()),
                loss_ours=float(meta["loss"]), loss_torch=float(loss),
                grad_norm_ours=float(meta["grad_norm"]), grad_norm_torch=grad_norm)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup-reps", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--parity", metavar="FILE", help="compare with build/apps/bench --parity FILE")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    # float32 on both sides: no TF32 in cuDNN convolutions or cuBLAS matmuls.
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    result = parity(args.parity) if args.parity else bench(args)
    result.update(torch=torch.__version__, threads=torch.get_num_threads())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
