"""Shared helpers of the scripts/export_*.py recipes (docs/models.md).

Each recipe builds a PyTorch model, exports it to ONNX with a dynamic batch axis on the input and
on every output, and writes the avcurate config that extracts its layers. With --reference it runs
the PyTorch model itself on a batch saved as .npy and saves every output as .npy, so the stored
layers can be checked against numbers computed outside onnxruntime.

Weights are random (seeded) unless a recipe loads a checkpoint with --weights.
"""
import argparse
import os
import sys

import numpy as np
import torch


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", required=True, help="output folder (model .onnx and .yaml config)")
    p.add_argument("--tiny", action="store_true", help="a small version of the architecture (tests)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    p.add_argument("--weights", help="a state_dict checkpoint (.pt) to load instead of random weights")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--reference", help="an input batch (.npy, float32): run the PyTorch model on it and save each output as <name>.<output>.ref.npy; skips the export")
    return p


def build(args, make):
    torch.manual_seed(args.seed)
    model = make()
    if args.weights:
        state = torch.load(args.weights, map_location="cpu")
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            print(f"warning: missing keys {missing}, unexpected keys {unexpected}", file=sys.stderr)
    return model.eval()


def export(args, model, name, example, input_name, output_names, config):
    os.makedirs(args.out, exist_ok=True)
    if args.reference:
        x = torch.from_numpy(np.load(args.reference).astype(np.float32))
        with torch.no_grad():
            outs = model(x)
        if not isinstance(outs, (tuple, list)):
            outs = (outs,)
        for o, n in zip(outs, output_names):
            np.save(os.path.join(args.out, f"{name}.{n}.ref.npy"), o.numpy().astype(np.float32))
        print(f"reference outputs of {name} for {tuple(x.shape)} written to {args.out}")
        return
    path = os.path.join(args.out, f"{name}.onnx")
    dynamic = {input_name: {0: "n"}, **{o: {0: "n"} for o in output_names}}
    with torch.no_grad():
        torch.onnx.export(model, example, path, input_names=[input_name], output_names=output_names,
                          dynamic_axes=dynamic, opset_version=args.opset, do_constant_folding=True)
    with open(os.path.join(args.out, f"{name}.yaml"), "w") as f:
        f.write(f"name: {name}-features\n" + config.replace("MODEL", f"{name}.onnx"))
    print(f"wrote {path} and {name}.yaml (input {input_name} {list(example.shape)} with a dynamic batch axis)")
