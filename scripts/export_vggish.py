"""Export a VGGish-style audio CNN to ONNX (docs/models.md).

Input "logmel" [n, 1, 96, 64]: 0.96 s log-mel patches exactly as avcurate computes them (VGGish
front end, audioInput: logmel, logmelLayout: NCHW). Outputs "conv4" [n, 512, 6, 4] (last conv
block) and "embedding" [n, 128]. With --weights, a state_dict whose names follow this module
(features.*, embeddings.*), e.g. converted from a VGGish checkpoint.

    /usr/bin/python3 scripts/export_vggish.py --out models/
"""
import torch
from torch import nn

from export_common import build, export, parser


class VGGish(nn.Module):
    def __init__(self, widths=(64, 128, 256, 512), fc=4096, emb=128):
        super().__init__()
        w1, w2, w3, w4 = widths
        conv = lambda a, b: [nn.Conv2d(a, b, 3, padding=1), nn.ReLU()]
        pool = lambda: [nn.MaxPool2d(2, 2)]
        self.features = nn.Sequential(*conv(1, w1), *pool(), *conv(w1, w2), *pool(), *conv(w2, w3), *conv(w3, w3), *pool(),
                                      *conv(w3, w4), *conv(w4, w4), *pool())
        self.embeddings = nn.Sequential(nn.Linear(w4 * 6 * 4, fc), nn.ReLU(), nn.Linear(fc, fc), nn.ReLU(), nn.Linear(fc, emb))

    def forward(self, x):
        conv4 = self.features(x)                      # [n, C, 6, 4]
        flat = conv4.permute(0, 2, 3, 1).flatten(1)   # channels last, as the TensorFlow original; flatten(1) keeps the batch dynamic
        return conv4, self.embeddings(flat)


CONFIG = """# avcurate features for the VGGish-style model (scripts/export_vggish.py)
features:
  audio:
    - type: onnx
      name: vggish
      model: MODEL
      audioInput: logmel          # VGGish front end: 16 kHz, 25 ms window, 10 ms hop, 64 mel bands, log(mel + 0.01)
      logmelLayout: NCHW          # [n, 1, 96, 64]
      patchSeconds: 0.96          # 96 frames per patch, no overlap; patches of a clip pooled
      outputs:
        - { output: conv4, layer: vggish_conv4 }                       # axes NCHW: mean over the 6 x 4 map, mean over patches
        - { output: embedding, layer: vggish_embedding, pool: meanstd } # [n, 128]: mean and std over the patches
  visual: []
"""

if __name__ == "__main__":
    args = parser(__doc__).parse_args()
    model = build(args, lambda: VGGish((4, 8, 8, 16), 32, 16) if args.tiny else VGGish())
    export(args, model, "vggish", torch.zeros(2, 1, 96, 64), "logmel", ["conv4", "embedding"], CONFIG)
