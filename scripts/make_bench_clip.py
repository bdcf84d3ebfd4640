#!/usr/bin/python3
"""A ViT-B/32-sized CLIP (OpenAI's architecture and sizes, random weights) exported to ONNX for the benchmark.

    /usr/bin/python3 scripts/make_bench_clip.py [OUT_DIR]   (default .bench/clip-vit-b32, git-ignored)

Vision: 32x32 patches of 224x224, width 768, 12 layers, 12 heads, QuickGELU, projection to 512.
Text: vocabulary 49408, context 77, width 512, 12 layers, 8 heads, causal mask, pooled at the end token
(argmax of the ids, as CLIP), projection to 512. Same FLOPs as openai/clip-vit-base-patch32; the weights are
random (seeded), so the scores mean nothing: this measures speed only. The tokenizer and preprocessor files are
copied from models/test-clip (ids stay below the vocabulary size).
"""
import json
import os
import shutil
import sys

import torch
from torch import nn

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".bench", "clip-vit-b32")


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Attention(nn.Module):
    """Multi-head self-attention written out (torch's fused kernel does not export to ONNX)."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x, mask=None):
        B, L, W = x.shape
        q, k, v = self.qkv(x).reshape(B, L, 3, self.heads, W // self.heads).permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-2, -1)) * (W // self.heads) ** -0.5
        if mask is not None:
            a = a + mask
        y = torch.softmax(a, dim=-1) @ v
        return self.out(y.transpose(1, 2).reshape(B, L, W))


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, width * 4), QuickGELU(), nn.Linear(width * 4, width))

    def forward(self, x, mask=None):
        h = self.ln_1(x)
        x = x + self.attn(h, mask)
        return x + self.mlp(self.ln_2(x))


class Vision(nn.Module):
    def __init__(self, width=768, layers=12, heads=12, patch=32, size=224, out=512):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        n = (size // patch) ** 2 + 1
        self.cls = nn.Parameter(torch.randn(width) * width ** -0.5)
        self.pos = nn.Parameter(torch.randn(n, width) * width ** -0.5)
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.randn(width, out) * width ** -0.5)

    def forward(self, pixel_values):
        x = self.conv1(pixel_values).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], 1, -1), x], dim=1) + self.pos
        x = self.ln_pre(x)
        for b in self.blocks:
            x = b(x)
        return self.ln_post(x[:, 0]) @ self.proj


class Text(nn.Module):
    def __init__(self, vocab=49408, ctx=77, width=512, layers=12, heads=8, out=512):
        super().__init__()
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Parameter(torch.randn(ctx, width) * 0.01)
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.ln_final = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.randn(width, out) * width ** -0.5)
        self.register_buffer("mask", torch.full((ctx, ctx), float("-inf")).triu(1))

    def forward(self, input_ids, attention_mask):
        L = input_ids.shape[1]
        x = self.tok(input_ids) + self.pos[:L]
        for b in self.blocks:
            x = b(x, self.mask[:L, :L])
        x = self.ln_final(x)
        # CLIP pools at the end token, the highest id; padding sits behind it and the mask is causal.
        eot = input_ids.argmax(dim=-1)
        pooled = x[torch.arange(x.shape[0]), eot]
        return (pooled @ self.proj) * attention_mask[:, :1].to(pooled.dtype)


def main():
    torch.manual_seed(0)
    os.makedirs(os.path.join(OUT, "onnx"), exist_ok=True)
    vision, text = Vision().eval(), Text().eval()
    with torch.no_grad():
        torch.onnx.export(vision, (torch.zeros(2, 3, 224, 224),), os.path.join(OUT, "onnx", "vision_model.onnx"),
                          input_names=["pixel_values"], output_names=["image_embeds"], opset_version=17,
                          dynamic_axes={"pixel_values": {0: "batch_size"}, "image_embeds": {0: "batch_size"}})
        ids = torch.full((2, 77), 812, dtype=torch.int64)
        mask = torch.ones((2, 77), dtype=torch.int64)
        torch.onnx.export(text, (ids, mask), os.path.join(OUT, "onnx", "text_model.onnx"),
                          input_names=["input_ids", "attention_mask"], output_names=["text_embeds"], opset_version=17,
                          dynamic_axes={"input_ids": {0: "batch_size"}, "attention_mask": {0: "batch_size"},
                                        "text_embeds": {0: "batch_size"}})
    src = os.path.join(ROOT, "models", "test-clip")
    for f in ("tokenizer.json", "tokenizer_config.json", "preprocessor_config.json"):
        shutil.copy(os.path.join(src, f), os.path.join(OUT, f))
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump({"_name_or_path": "bench/clip-vit-b32-random", "model_type": "clip", "projection_dim": 512,
                   "description": "ViT-B/32-sized CLIP with random weights, for speed measurements only",
                   "text_config": {"max_position_embeddings": 77, "vocab_size": 49408, "hidden_size": 512, "num_hidden_layers": 12},
                   "vision_config": {"image_size": 224, "patch_size": 32, "hidden_size": 768, "num_hidden_layers": 12}}, f, indent=1)
    params = sum(p.numel() for p in vision.parameters()) + sum(p.numel() for p in text.parameters())
    print(f"wrote {OUT}: {params / 1e6:.1f}M parameters")


if __name__ == "__main__":
    main()
