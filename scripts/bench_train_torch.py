#!/usr/bin/python3
"""The avcurate SSL model (src/ssl/model.ts) in PyTorch on CPU, for `npm run bench:train`.

Same architecture (patch or conv towers, temporal layer, 2-layer MLP heads with BatchNorm),
same symmetric InfoNCE loss, AdamW, same batch size, a given thread count. Prints one JSON line:
{"samples_per_s", "step_s", "cpu_step_s", "samples_per_cpu_s", "torch", "threads", "parameters"}.

Usage: /usr/bin/python3 scripts/bench_train_torch.py SPEC.json --batch 32 --threads 1 --steps 5
SPEC.json is the resolved `ssl.model` config section (bench-train.ts writes it).
Optional baseline only: never imported by the product or the tests.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class PatchStage(nn.Module):
    def __init__(self, cin, st, mlp_ratio):
        super().__init__()
        c, s = st["channels"], st["stride"]
        self.down = nn.Conv2d(cin, c, kernel_size=s, stride=s, bias=False)
        self.bn = nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)
        hidden = max(1, round(c * mlp_ratio))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, c, 1)) for _ in range(st.get("blocks", 1))
        )

    def forward(self, x):
        x = F.relu(self.bn(self.down(x)))
        for b in self.blocks:
            x = x + b(x)
        return x


class ConvStage(nn.Module):
    def __init__(self, cin, st, k):
        super().__init__()
        c, s = st["channels"], st["stride"]
        self.down = nn.Conv2d(cin, c, kernel_size=k, stride=s, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, c, k, padding=k // 2, bias=False), nn.BatchNorm2d(c)) for _ in range(st.get("blocks", 1))
        )

    def forward(self, x):
        x = F.relu(self.bn(self.down(x)))
        for b in self.blocks:
            x = x + F.relu(b(x))
        return x


class Tower(nn.Module):
    def __init__(self, cin, stages, spec):
        super().__init__()
        mods = []
        for st in stages:
            mods.append(PatchStage(cin, st, spec["mlpRatio"]) if spec["arch"] == "patch" else ConvStage(cin, st, spec["kernel"]))
            cin = st["channels"]
        self.stages = nn.Sequential(*mods)
        self.out = cin

    def forward(self, x):
        return self.stages(x).mean(dim=(2, 3))


class Head(nn.Module):
    def __init__(self, c, hidden, dim):
        super().__init__()
        self.l1 = nn.Linear(c, hidden, bias=False)
        self.bn = nn.BatchNorm1d(hidden)
        self.l2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.l2(F.relu(self.bn(self.l1(x))))


class AvModel(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.audio = Tower(1, spec["audio"]["stages"], spec)
        self.visual = Tower(3, spec["visual"]["stages"], spec)
        cv = self.visual.out
        k = spec["visual"]["temporalKernel"]
        self.temporal = nn.Linear(k * cv, cv) if k > 1 else None
        self.ha = Head(self.audio.out, spec["head"]["hidden"], spec["head"]["dim"])
        self.hv = Head(cv, spec["head"]["hidden"], spec["head"]["dim"])

    def forward(self, audio, frames):
        b, t, h, w, c = frames.shape
        fa = self.audio(audio.unsqueeze(1))
        pf = self.visual(frames.reshape(b * t, h, w, c).permute(0, 3, 1, 2))
        cv = pf.shape[1]
        k = self.spec["visual"]["temporalKernel"]
        if self.temporal is not None:
            fv = F.relu(self.temporal(pf.reshape(b * (t // k), k * cv))).reshape(b, t // k, cv).mean(1)
        else:
            fv = pf.reshape(b, t, cv).mean(1)
        return self.ha(fa), self.hv(fv)


def info_nce(za, zv, scale=10.0):
    za = F.normalize(za, dim=1)
    zv = F.normalize(zv, dim=1)
    logits = za @ zv.t() * scale
    target = torch.arange(za.shape[0])
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(args.spec) as f:
        spec = json.load(f)
    model = AvModel(spec)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    B = args.batch
    a = torch.randn(B, spec["audio"]["frames"], spec["audio"]["mels"])
    v = torch.randn(B, spec["visual"]["frames"], spec["visual"]["height"], spec["visual"]["width"], 3)

    def step():
        opt.zero_grad(set_to_none=True)
        za, zv = model(a, v)
        loss = info_nce(za, zv)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return float(loss)

    for _ in range(args.warmup):
        step()
    walls, cpus = [], []
    for _ in range(args.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    dt = sorted(walls)[len(walls) // 2]
    cpu = sorted(cpus)[len(cpus) // 2]
    print(json.dumps({"samples_per_s": B / dt, "step_s": dt, "cpu_step_s": cpu, "samples_per_cpu_s": B / cpu,
                      "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "parameters": sum(p.numel() for p in model.parameters())}))


if __name__ == "__main__":
    main()
