"""Export a CLIP-style image tower (ViT) to ONNX (docs/models.md).

Input "pixels" [n, 3, 224, 224] (preset clip: bicubic short side 224, centre crop, CLIP mean/std).
Outputs "tokens" [n, 1 + 49, 768] (the last block's tokens: class token first) and "embedding"
[n, 512] (layer-normed class token times the projection). With --weights, a state_dict whose
names follow this module.

    /usr/bin/python3 scripts/export_clip_image.py --out models/
"""
import torch
from torch import nn

from export_common import build, export, parser


class Block(nn.Module):
    """Pre-norm transformer block written out (plain ops export to any opset >= 13)."""

    def __init__(self, d, heads):
        super().__init__()
        self.h, self.d = heads, d
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        L, D, dh = x.shape[1], self.d, self.d // self.h
        qkv = self.qkv(self.ln1(x)).reshape(-1, L, 3, self.h, dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = ((q @ k.transpose(-2, -1)) * dh ** -0.5).softmax(-1)
        x = x + self.proj((a @ v).transpose(1, 2).reshape(-1, L, D))
        return x + self.mlp(self.ln2(x))


class VisionTower(nn.Module):
    def __init__(self, image=224, patch=32, width=768, layers=12, heads=12, out=512):
        super().__init__()
        n = (image // patch) ** 2
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        self.cls = nn.Parameter(torch.randn(1, 1, width) * width ** -0.5)
        self.pos = nn.Parameter(torch.randn(1, n + 1, width) * width ** -0.5)
        self.ln_pre, self.ln_post = nn.LayerNorm(width), nn.LayerNorm(width)
        self.blocks = nn.Sequential(*[Block(width, heads) for _ in range(layers)])
        self.proj = nn.Parameter(torch.randn(width, out) * width ** -0.5)

    def forward(self, x):
        x = self.conv1(x).flatten(2).transpose(1, 2)                                # [n, patches, width]
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos   # class token first
        tokens = self.blocks(self.ln_pre(x))
        return tokens, self.ln_post(tokens[:, 0]) @ self.proj


CONFIG = """# avcurate features for the CLIP-style image tower (scripts/export_clip_image.py)
features:
  visual:
    - type: onnx
      name: clip
      model: MODEL
      layout: NCHW                # frames as the batch
      frames: 8                   # sampled evenly over the clip, pooled
      preset: clip                # bicubic, short side = crop, centre crop, CLIP mean/std
      crop: SIZE
      outputs:
        - { output: tokens, layer: clip_tokens, axes: NLC, tokens: both }   # class token and mean of the patch tokens
        - { output: embedding, layer: clip_embedding }                     # [n, 512], mean over frames
  audio: []
"""

if __name__ == "__main__":
    args = parser(__doc__).parse_args()
    size = 32 if args.tiny else 224
    model = build(args, lambda: VisionTower(32, 8, 16, 2, 2, 8) if args.tiny else VisionTower())
    export(args, model, "clip_image", torch.zeros(2, 3, size, size), "pixels", ["tokens", "embedding"], CONFIG.replace("SIZE", str(size)))
