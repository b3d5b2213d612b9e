"""Export a SlowFast-style two-pathway video model behind one input to ONNX (docs/models.md).

Input "video" [n, 3, 32, 224, 224] (layout NCTHW, preset kinetics). The wrapper builds both
pathways from the one clip: the slow pathway takes every alpha-th frame, the fast pathway all of
them, with a time-strided lateral connection from fast to slow. Outputs "slow" [n, C, 8, h, w],
"fast" [n, C', 32, h, w] and "fused" [n, C + C'] (both pathways averaged over time and space and
concatenated, as SlowFast's head does); the pathways here are a stem and one block each, so the
maps are [n, 128, 8, 28, 28] and [n, 16, 32, 28, 28]. For a pretrained PySlowFast / pytorchvideo model, keep
this wrapper's forward (one input, the slice, named outputs) around its pathways.

    /usr/bin/python3 scripts/export_slowfast.py --out models/
"""
import torch
from torch import nn

from export_common import build, export, parser


def pathway(c_in, c, kt):
    return nn.Sequential(
        nn.Conv3d(c_in, c, (kt, 7, 7), stride=(1, 2, 2), padding=(kt // 2, 3, 3), bias=False), nn.BatchNorm3d(c), nn.ReLU(),
        nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        nn.Conv3d(c, 2 * c, (3, 3, 3), stride=(1, 2, 2), padding=1, bias=False), nn.BatchNorm3d(2 * c), nn.ReLU(),
    )


class SlowFast(nn.Module):
    def __init__(self, alpha=4, slow=64, fast=8):
        super().__init__()
        self.alpha = alpha
        self.slow = pathway(3, slow, 1)
        self.fast = pathway(3, fast, 5)
        self.lateral = nn.Conv3d(2 * fast, 4 * fast, (5, 1, 1), stride=(alpha, 1, 1), padding=(2, 0, 0), bias=False)
        self.slow_out = nn.Conv3d(2 * slow + 4 * fast, 2 * slow, 1)

    def forward(self, x):
        f = self.fast(x)                                  # all frames
        s = self.slow(x[:, :, :: self.alpha])             # every alpha-th frame
        s = self.slow_out(torch.cat([s, self.lateral(f)], dim=1))
        fused = torch.cat([s.mean(dim=(2, 3, 4)), f.mean(dim=(2, 3, 4))], dim=1)
        return s, f, fused


CONFIG = """# avcurate features for the SlowFast-style model (scripts/export_slowfast.py)
features:
  visual:
    - type: onnx
      name: slowfast
      model: MODEL
      layout: NCTHW               # one clip tensor per view
      frames: FRAMES
      frameStride: 2              # every 2nd decoded frame (decode.fps sets the time span)
      views: 2                    # two windows per clip
      preset: kinetics
      crop: SIZE
      outputs:
        - { output: slow, layer: sf_slow, pool: meanstd }   # axes NCTHW: mean over space, mean and std over time and views
        - { output: fast, layer: sf_fast }
        - { output: fused, layer: sf_fused }                 # [n, C + C'], mean over views
  audio: []
"""

if __name__ == "__main__":
    args = parser(__doc__).parse_args()
    T, size = (8, 32) if args.tiny else (32, 224)
    model = build(args, lambda: SlowFast(4, 8, 2) if args.tiny else SlowFast())
    cfg = CONFIG.replace("FRAMES", str(T)).replace("SIZE", str(size))
    export(args, model, "slowfast", torch.zeros(2, 3, T, size, size), "video", ["slow", "fast", "fused"], cfg)
