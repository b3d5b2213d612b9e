"""Export an AST-style audio transformer (log-mel patches to tokens) to ONNX (docs/models.md).

Input "fbank" [n, 1024, 128] (10.24 s of log-mel frames x 128 bands; logmelLayout NHW). 16 x 16
patches with stride 10 on the (band, time) plane, a class and a distillation token, transformer
blocks. Outputs "tokens" [n, 2 + 12 * 101, 768] and "pooled" [n, 768] (the mean of the two prefix
tokens, as AST's head). AST's own front end is Kaldi fbank (power, Povey window) normalised with
mean -4.27 and std 4.57 x 2; avcurate feeds its VGGish-style log-mel with the same normalisation,
so a pretrained AST sees a slightly different spectrogram (see docs/models.md).

    /usr/bin/python3 scripts/export_ast.py --out models/
"""
import torch
from torch import nn

from export_clip_image import Block
from export_common import build, export, parser


class AST(nn.Module):
    def __init__(self, frames=1024, bands=128, patch=16, stride=10, width=768, layers=12, heads=12):
        super().__init__()
        n = ((bands - patch) // stride + 1) * ((frames - patch) // stride + 1)
        self.patch = nn.Conv2d(1, width, patch, stride)
        self.prefix = nn.Parameter(torch.randn(1, 2, width) * 0.02)      # class and distillation tokens
        self.pos = nn.Parameter(torch.randn(1, n + 2, width) * 0.02)
        self.blocks = nn.Sequential(*[Block(width, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(width)

    def forward(self, x):
        x = x.unsqueeze(1).transpose(2, 3)                                 # [n, 1, bands, frames]
        x = self.patch(x).flatten(2).transpose(1, 2)                       # [n, patches, width]
        x = torch.cat([self.prefix.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        tokens = self.ln(self.blocks(x))
        return tokens, (tokens[:, 0] + tokens[:, 1]) / 2


CONFIG = """# avcurate features for the AST-style model (scripts/export_ast.py)
features:
  audio:
    - type: onnx
      name: ast
      model: MODEL
      audioInput: logmel
      logmelLayout: NHW           # [n, frames, bands]
      melBands: BANDS
      melRange: [20, 8000]        # AST's fbank range
      patchSeconds: SECONDS       # frames per patch = seconds / 10 ms; a shorter clip is padded by repeating its last frame
      melMean: -4.2677393         # AST's normalisation: (x - mean) / (2 x std)
      melStd: 9.1379948
      outputs:
        - { output: tokens, layer: ast_tokens, axes: NLC, tokens: both, prefixTokens: 2 }   # class token and mean of the patch tokens
        - { output: pooled, layer: ast_pooled }
  visual: []
"""

if __name__ == "__main__":
    args = parser(__doc__).parse_args()
    frames, bands = (96, 32) if args.tiny else (1024, 128)
    model = build(args, lambda: AST(frames, bands, 16, 10, 16, 2, 2) if args.tiny else AST())
    cfg = CONFIG.replace("BANDS", str(bands)).replace("SECONDS", str(frames / 100))
    export(args, model, "ast", torch.zeros(2, frames, bands), "fbank", ["tokens", "pooled"], cfg)
