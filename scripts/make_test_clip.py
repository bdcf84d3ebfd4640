#!/usr/bin/python3
"""Build mmcurate's embedded TEST encoder into models/test-clip/ (HF / Transformers.js layout).

    /usr/bin/python3 scripts/make_test_clip.py [OUT_DIR]

It also writes the same encoder in the OpenCLIP / Immich layout to test/fixtures/openclip-test/ (see
write_openclip_layout), so tests can check that both layouts give the same embeddings.

This is NOT a real CLIP. It is a tiny, hand-constructed network with the exact interface of an HF CLIP export
(onnx/vision_model.onnx: pixel_values -> image_embeds, onnx/text_model.onnx: input_ids, attention_mask ->
text_embeds, a CLIP-style BPE tokenizer.json, preprocessor_config.json, config.json) so that the real ONNX path
runs offline in tests and in the demo. Its weights are built, not trained, so that colour words (red, orange,
yellow, green, blue, purple and a few synonyms) and shape words (circle, square, triangle, star) in a caption
score higher against an image of a matching coloured shape than against a mismatched one:

  embedding (D = 64) = [colour block (6) | shape block (4) | bias (1) | image-private (26) | text-private (27)]

* image: per-pixel hue (x - min) / (max - min) is matched to six colour prototypes, weighted by a soft mask of
  saturated pixels (white, black and grey backgrounds count for nothing); the shape is read from the mask's fill
  ratio area / (bounding width * height) (square 1.0, circle pi/4, triangle 1/2, star about 0.4) and compactness
  perimeter^2 / area (circle 13.5, square 15.8, triangle 22, star 40).
  The private block is a fixed random projection of 7x7 patch colours and mask statistics, so different
  pictures of the same concept get different (but close) embeddings.
* text: a bag of token embeddings; colour and shape words write their unit vector, every token adds a fixed
  random private vector. Each block is normalised, so the number of words does not matter.

Block weights are chosen so that, like ViT-B/32 on web data, a caption naming both colour and shape scores
about 0.34, one of the two about 0.25 and neither about 0.15: LAION's 0.28 threshold keeps exact matches only.
Deterministic: fixed seeds, no training, same bytes for the same torch/onnx versions.
"""
import json
import os
import sys
import unicodedata

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "models", "test-clip")
OPENCLIP_OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "openclip-test")
CONTEXT = 77
D = 64
COLOUR = slice(0, 6)
SHAPE = slice(6, 10)
BIAS = 10
IMG_PRIV = slice(11, 37)
TXT_PRIV = slice(37, 64)
# Block norms: colour c = 1, shape s = 1, bias b, private p. Match (c^2+s^2+b^2)/N^2 = 0.34, none b^2/N^2 = 0.15.
B_NORM = 1.2570
P_NORM = 2.6268
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]

COLOURS = ["red", "orange", "yellow", "green", "blue", "purple"]
# Hue prototypes, (x - min) / (max - min) of the pure colour: CSS red, orange, yellow, green, blue, purple.
COLOUR_PROTOS = [[1, 0, 0], [1, 0.647, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1]]
COLOUR_WORDS = {
    "red": ["red", "crimson", "scarlet"],
    "orange": ["orange"],
    "yellow": ["yellow", "gold", "golden"],
    "green": ["green", "lime", "emerald"],
    "blue": ["blue", "navy", "azure"],
    "purple": ["purple", "violet", "magenta", "lilac"],
}
SHAPES = ["circle", "square", "triangle", "star"]
# Shape prototypes: fill = area / (bbox width * height), compactness = perimeter^2 / area, as measured on
# rendered shapes at 224 px (a five-point star with inner radius ~0.45 R).
SHAPE_FILL = [0.785, 1.0, 0.5, 0.40]
SHAPE_COMPACT = [13.5, 15.8, 22.5, 41.0]
SHAPE_WORDS = {
    "circle": ["circle", "circles", "round", "disc", "disk", "dot", "ring", "oval"],
    "square": ["square", "squares", "box", "rectangle", "rectangular", "block"],
    "triangle": ["triangle", "triangles", "triangular", "pyramid"],
    "star": ["star", "stars", "starry", "pentagram"],
}
OTHER_WORDS = (
    "a an the of on in with and or at to is are this there some one two three photo photograph picture image "
    "drawing illustration icon shape shapes white black grey gray background transparent plain small large big "
    "tiny simple flat colored coloured centered single clip art logo sign sticker cat dog car tree house person "
    "man woman food pizza city street mountain beach flower text abstract pattern close up view bright dark"
).split()


# --- tokenizer ---------------------------------------------------------------------------------------------------

def bytes_to_unicode():
    """GPT-2 / CLIP byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENCODER = bytes_to_unicode()


def word_symbols(word):
    chars = [BYTE_ENCODER[b] for b in word.encode("utf-8")]
    return tuple(chars[:-1]) + (chars[-1] + "</w>",)


def train_merges(words):
    """Classic BPE on a weighted word list until every listed word is one symbol; ties break lexicographically."""
    corpus = {word_symbols(w): 1000 - i for i, w in enumerate(words)}
    merges = []
    while True:
        counts = {}
        for syms, freq in corpus.items():
            for pair in zip(syms, syms[1:]):
                counts[pair] = counts.get(pair, 0) + freq
        if not counts:
            return merges
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        merged = {}
        for syms, freq in corpus.items():
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and (syms[i], syms[i + 1]) == best:
                    out.append(syms[i] + syms[i + 1])
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            merged[tuple(out)] = freq
        corpus = merged


def build_tokenizer(words):
    merges = train_merges(words)
    base = list(BYTE_ENCODER.values())
    vocab_list = base + [c + "</w>" for c in base]
    seen = set(vocab_list)
    for a, b in merges:
        if a + b not in seen:
            vocab_list.append(a + b)
            seen.add(a + b)
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(vocab_list)}
    sot, eot = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    # The same component graph as openai/clip-vit-base-patch32's tokenizer.json, with our vocabulary.
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": sot, "content": "<|startoftext|>", "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": True, "special": True},
            {"id": eot, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": True, "special": True},
        ],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
            {"type": "Lowercase"},
        ]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex":
                "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"},
             "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ]},
        "post_processor": {"type": "RobertaProcessing", "sep": ["<|endoftext|>", eot],
                           "cls": ["<|startoftext|>", sot], "trim_offsets": False, "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<|endoftext|>", "continuing_subword_prefix": "",
                  "end_of_word_suffix": "</w>", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }
    return tok, vocab, merges


def pre_split(text):
    """CLIP's split: contractions, letter runs, single digits, runs of other non-space characters."""
    out, i = [], 0
    cat = lambda ch: unicodedata.category(ch)[0]
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        for c in ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d"):
            if text.startswith(c, i):
                out.append(c)
                i += len(c)
                break
        else:
            if cat(ch) == "L":
                j = i
                while j < len(text) and cat(text[j]) == "L":
                    j += 1
            elif cat(ch) == "N":
                j = i + 1
            else:
                j = i
                while j < len(text) and not text[j].isspace() and cat(text[j]) not in ("L", "N"):
                    j += 1
            out.append(text[i:j])
            i = j
    return out


def reference_encode(text, vocab, merges):
    """An independent CLIP BPE (the algorithm of openai/CLIP's simple_tokenizer) to cross-check tokenizer.json."""
    ranks = {m: i for i, m in enumerate(merges)}
    text = " ".join(unicodedata.normalize("NFC", text).split()).lower()
    ids = [vocab["<|startoftext|>"]]
    for piece in pre_split(text):
        word = list(word_symbols(piece))
        while len(word) > 1:
            pairs = [(ranks.get(p, 1 << 30), k) for k, p in enumerate(zip(word, word[1:]))]
            rank, _ = min(pairs)
            if rank == 1 << 30:
                break
            pair = merges[rank]
            out, k = [], 0
            while k < len(word):
                if k + 1 < len(word) and (word[k], word[k + 1]) == pair:
                    out.append(word[k] + word[k + 1])
                    k += 2
                else:
                    out.append(word[k])
                    k += 1
            word = out
        ids += [vocab[s] for s in word]
    return ids + [vocab["<|endoftext|>"]]


# --- the two towers -----------------------------------------------------------------------------------------------

class Vision(torch.nn.Module):
    def __init__(self, proj):
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        protos = torch.tensor(COLOUR_PROTOS, dtype=torch.float32)
        self.register_buffer("protos", protos.view(6, 3, 1, 1))
        self.register_buffer("proto_sq", (protos * protos).sum(1).view(1, 6, 1, 1))
        self.register_buffer("fills", torch.tensor(SHAPE_FILL).view(1, 4))
        self.register_buffer("compacts", torch.tensor(SHAPE_COMPACT).log().view(1, 4))
        self.register_buffer("proj", torch.tensor(proj, dtype=torch.float32))

    def forward(self, pixel_values):
        x = (pixel_values * self.std + self.mean).clamp(0.0, 1.0)
        mx = x.max(dim=1, keepdim=True).values
        mn = x.min(dim=1, keepdim=True).values
        sat = mx - mn
        # Soft coverage: a pixel at half the image's own peak saturation counts half (anti-aliased edges).
        peak = sat.amax(dim=(2, 3), keepdim=True) + 0.05
        mask = (2.0 * sat / peak - 0.5).clamp(0.0, 1.0)
        hue = (x - mn) / (sat + 1e-3)
        dist = (hue * hue).sum(1, keepdim=True) - 2.0 * torch.nn.functional.conv2d(hue, self.protos) + self.proto_sq
        member = torch.softmax(-dist / 0.02, dim=1)
        area = mask.sum(dim=(1, 2, 3))
        colour = (member * mask).sum(dim=(2, 3)) / (area.unsqueeze(1) + 1e-3)
        colour = colour / colour.norm(dim=1, keepdim=True).clamp(min=1e-6)
        width = mask.amax(dim=2).sum(dim=(1, 2))
        height = mask.amax(dim=3).sum(dim=(1, 2))
        fill = area / (width * height + 1.0)
        # Perimeter from the mask's gradient magnitude (the sqrt's epsilon adds 1e-3 per pixel, taken back off).
        dx = mask[:, :, 1:, 1:] - mask[:, :, 1:, :-1]
        dy = mask[:, :, 1:, 1:] - mask[:, :, :-1, 1:]
        n_grad = float((x.shape[2] - 1) * (x.shape[3] - 1))
        perimeter = (torch.sqrt(dx * dx + dy * dy + 1e-6).sum(dim=(1, 2, 3)) - 1e-3 * n_grad).clamp(min=1.0)
        compact = torch.log(perimeter * perimeter / (area + 1.0) + 1.0)
        # Fill tells circle from square; compactness tells triangle from star even when edges are dilated.
        logits = -((fill.unsqueeze(1) - self.fills) ** 2) / 0.003 - ((compact.unsqueeze(1) - self.compacts) ** 2) / 0.02
        shape = torch.softmax(logits, dim=1)
        pixels = float(x.shape[2] * x.shape[3])
        present = (area / (0.01 * pixels)).clamp(0.0, 1.0).unsqueeze(1)
        shape = shape / shape.norm(dim=1, keepdim=True) * present
        colour = colour * present
        patches = torch.nn.functional.adaptive_avg_pool2d(x, 7).flatten(1)
        stats = torch.stack([area / pixels, fill, width / x.shape[3], height / x.shape[2]], dim=1)
        priv = torch.cat([patches, stats], dim=1) @ self.proj
        priv = P_NORM * priv / priv.norm(dim=1, keepdim=True).clamp(min=1e-6)
        bias = torch.full_like(area, B_NORM).unsqueeze(1)
        zeros = torch.zeros_like(priv[:, :1]).expand(-1, TXT_PRIV.stop - TXT_PRIV.start)
        return torch.cat([colour, shape, bias, priv, zeros], dim=1)


class Text(torch.nn.Module):
    def __init__(self, table):
        super().__init__()
        self.table = torch.nn.Parameter(torch.tensor(table, dtype=torch.float32), requires_grad=False)

    def forward(self, input_ids, attention_mask):
        e = self.table[input_ids] * attention_mask.unsqueeze(-1).to(torch.float32)
        s = e.sum(dim=1)
        colour = s[:, COLOUR]
        shape = s[:, SHAPE]
        priv = s[:, TXT_PRIV]
        colour = colour / colour.norm(dim=1, keepdim=True).clamp(min=1.0)
        shape = shape / shape.norm(dim=1, keepdim=True).clamp(min=1.0)
        priv = P_NORM * priv / priv.norm(dim=1, keepdim=True).clamp(min=1e-6)
        bias = torch.full_like(priv[:, :1], B_NORM)
        zeros = torch.zeros_like(priv[:, :1]).expand(-1, IMG_PRIV.stop - IMG_PRIV.start)
        return torch.cat([colour, shape, bias, zeros, priv], dim=1)


def text_table(vocab):
    rng = np.random.default_rng(1)
    table = np.zeros((len(vocab), D), dtype=np.float32)
    table[:, TXT_PRIV] = rng.standard_normal((len(vocab), TXT_PRIV.stop - TXT_PRIV.start)).astype(np.float32)
    for k, name in enumerate(COLOURS):
        for w in COLOUR_WORDS[name]:
            table[vocab[w + "</w>"], k] = 1.0
    for k, name in enumerate(SHAPES):
        for w in SHAPE_WORDS[name]:
            table[vocab[w + "</w>"], SHAPE.start + k] = 1.0
    return table


def export(module, args, path, names_in, name_out, dynamic):
    torch.onnx.export(module, args, path, input_names=names_in, output_names=[name_out], opset_version=17,
                      dynamic_axes=dynamic, do_constant_folding=True)
    model = onnx.load(path)
    model.producer_name = "mmcurate scripts/make_test_clip.py (TEST encoder)"
    model.doc_string = "mmcurate TEST encoder: hand-constructed colour/shape features, not a trained CLIP."
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return model


def fp16_io_variant(model, path):
    """The `_fp16` file layout of Transformers.js exports: float16 inputs/outputs (weights stay float32 here)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    casts = []
    for inp in g.input:
        if inp.type.tensor_type.elem_type == TensorProto.FLOAT:
            inner = inp.name + "_f32"
            for node in g.node:
                for i, n in enumerate(node.input):
                    if n == inp.name:
                        node.input[i] = inner
            casts.append(helper.make_node("Cast", [inp.name], [inner], to=TensorProto.FLOAT))
            inp.type.tensor_type.elem_type = TensorProto.FLOAT16
    for out in g.output:
        inner = out.name + "_f32"
        for node in g.node:
            for i, n in enumerate(node.output):
                if n == out.name:
                    node.output[i] = inner
        g.node.append(helper.make_node("Cast", [inner], [out.name], to=TensorProto.FLOAT16))
        out.type.tensor_type.elem_type = TensorProto.FLOAT16
    for c in reversed(casts):
        g.node.insert(0, c)
    onnx.checker.check_model(m)
    onnx.save(m, path)


class NormalizedVision(torch.nn.Module):
    """open_clip's encode_image(normalize=True), as Immich's exporter wraps it."""

    def __init__(self, vision):
        super().__init__()
        self.vision = vision

    def forward(self, image):
        return torch.nn.functional.normalize(self.vision(image), dim=-1)


class MasklessText(torch.nn.Module):
    """open_clip's encode_text(normalize=True): ids only, no attention mask. A causal CLIP pools at the first
    end token, so nothing after it counts: the mask is rebuilt from the ids (positions up to the first eot)."""

    def __init__(self, text, eot):
        super().__init__()
        self.text = text
        self.eot = eot

    def forward(self, text):
        is_eot = (text == self.eot).to(torch.int32)
        before = torch.cumsum(is_eot, dim=1) - is_eot
        mask = (before == 0).to(torch.int64)
        return torch.nn.functional.normalize(self.text(text.to(torch.int64), mask), dim=-1)


def write_openclip_layout(out, vision, text, vocab, eot):
    """The file set of Immich's OpenCLIP exports (immich-app/immich machine-learning/export, e.g. the Hub repo
    immich-app/ViT-B-32__openai): config.json (open_clip model config), visual/model.onnx (image -> embedding,
    float32 [1, 3, 224, 224]), visual/preprocess_cfg.json (open_clip PreprocessCfg), textual/model.onnx
    (text -> embedding, int32 [1, context]) and the HF tokenizer files in textual/. Batch 1 is fixed, as the
    current exporter writes it (no dynamic axes)."""
    for sub in ("visual", "textual"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"embed_dim": D, "mmcurate_test_encoder": True,
                   "description": "mmcurate TEST encoder in the OpenCLIP / Immich ONNX layout; not a trained CLIP. "
                                  "Built by scripts/make_test_clip.py.",
                   "vision_cfg": {"image_size": 224, "layers": 0, "width": 0, "patch_size": 32},
                   "text_cfg": {"context_length": CONTEXT, "vocab_size": len(vocab), "width": 0, "heads": 0,
                                "layers": 0, "hf_tokenizer_name": "mmcurate/test-clip"}}, f, indent=1)
    with open(os.path.join(out, "visual", "preprocess_cfg.json"), "w") as f:
        json.dump({"size": [224, 224], "mode": "RGB", "mean": MEAN, "std": STD, "interpolation": "bicubic",
                   "resize_mode": "shortest", "fill_color": 0}, f, indent=1)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        with open(os.path.join(OUT, name), "rb") as src, open(os.path.join(out, "textual", name), "wb") as dst:
            dst.write(src.read())
    with torch.no_grad():
        export(NormalizedVision(vision).eval(), (torch.zeros(1, 3, 224, 224),), os.path.join(out, "visual", "model.onnx"),
               ["image"], "embedding", None)
        export(MasklessText(text, eot).eval(), (torch.full((1, CONTEXT), eot, dtype=torch.int32),),
               os.path.join(out, "textual", "model.onnx"), ["text"], "embedding", None)


def main():
    torch.manual_seed(0)
    os.makedirs(os.path.join(OUT, "onnx"), exist_ok=True)
    words = [w for ws in COLOUR_WORDS.values() for w in ws] + [w for ws in SHAPE_WORDS.values() for w in ws]
    words += [w for w in OTHER_WORDS if w not in words]
    tok, vocab, merges = build_tokenizer(words)
    with open(os.path.join(OUT, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    sot, eot = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "CLIPTokenizer", "model_max_length": CONTEXT, "do_lower_case": True,
                   "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
                   "unk_token": "<|endoftext|>", "clean_up_tokenization_spaces": False}, f, indent=1)
    with open(os.path.join(OUT, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
                   "unk_token": "<|endoftext|>"}, f, indent=1)
    with open(os.path.join(OUT, "preprocessor_config.json"), "w") as f:
        json.dump({"crop_size": {"height": 224, "width": 224}, "do_center_crop": True, "do_convert_rgb": True,
                   "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": MEAN,
                   "image_processor_type": "CLIPImageProcessor", "image_std": STD, "resample": 3,
                   "rescale_factor": 1 / 255, "size": {"shortest_edge": 224}}, f, indent=1)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump({
            "_name_or_path": "mmcurate/test-clip",
            "mmcurate_test_encoder": True,
            "description": "mmcurate TEST encoder: a hand-constructed colour/shape network with the interface of "
                           "an HF CLIP export. Not a trained CLIP; its scores mean nothing on real data. "
                           "Built by scripts/make_test_clip.py.",
            "architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": D,
            "text_config": {"model_type": "clip_text_model", "max_position_embeddings": CONTEXT,
                            "vocab_size": len(vocab), "bos_token_id": sot, "eos_token_id": eot, "pad_token_id": eot},
            "vision_config": {"model_type": "clip_vision_model", "image_size": 224, "patch_size": 32},
        }, f, indent=1)

    rng = np.random.default_rng(0)
    proj = rng.standard_normal((147 + 4, IMG_PRIV.stop - IMG_PRIV.start)).astype(np.float32)
    vision = Vision(proj).eval()
    text = Text(text_table(vocab)).eval()
    vpath = os.path.join(OUT, "onnx", "vision_model.onnx")
    tpath = os.path.join(OUT, "onnx", "text_model.onnx")
    with torch.no_grad():
        vm = export(vision, (torch.zeros(2, 3, 224, 224),), vpath, ["pixel_values"], "image_embeds",
                    {"pixel_values": {0: "batch_size"}, "image_embeds": {0: "batch_size"}})
        ids = torch.full((2, CONTEXT), eot, dtype=torch.int64)
        mask = torch.ones((2, CONTEXT), dtype=torch.int64)
        tm = export(text, (ids, mask), tpath, ["input_ids", "attention_mask"], "text_embeds",
                    {"input_ids": {0: "batch_size", 1: "sequence_length"},
                     "attention_mask": {0: "batch_size", 1: "sequence_length"}, "text_embeds": {0: "batch_size"}})
    fp16_io_variant(vm, os.path.join(OUT, "onnx", "vision_model_fp16.onnx"))
    fp16_io_variant(tm, os.path.join(OUT, "onnx", "text_model_fp16.onnx"))

    # Cross-check data for the tokenizer test: ids from an independent implementation of CLIP's BPE.
    samples = ["a red circle", "A photo of a BLUE   square on a white background.", "purple stars!",
               "reddish squarish thing", "naïve café 42", "it's a cat's toy", ""]
    with open(os.path.join(OUT, "tokenizer_expected.json"), "w") as f:
        json.dump({"note": "ids from scripts/make_test_clip.py's own CLIP BPE, before padding/truncation",
                   "samples": [{"text": s, "ids": reference_encode(s, vocab, merges)} for s in samples]},
                  f, ensure_ascii=False, indent=1)
    # A text tower with a different embedding size, for the test that such a model is refused.
    fixtures = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "score")
    os.makedirs(fixtures, exist_ok=True)
    ids_in = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
    out = helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["batch_size", 32])
    graph = helper.make_graph(
        [helper.make_node("Cast", ["input_ids"], ["f"], to=TensorProto.FLOAT),
         helper.make_node("Slice", ["f", "starts", "ends", "axes"], ["text_embeds"])],
        "text_dim32", [ids_in], [out],
        [helper.make_tensor("starts", TensorProto.INT64, [1], [0]), helper.make_tensor("ends", TensorProto.INT64, [1], [32]),
         helper.make_tensor("axes", TensorProto.INT64, [1], [1])])
    small = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="mmcurate test fixture")
    small.ir_version = 8
    onnx.checker.check_model(small)
    onnx.save(small, os.path.join(fixtures, "text_model_dim32.onnx"))

    write_openclip_layout(OPENCLIP_OUT, vision, text, vocab, eot)
    print(f"wrote {OUT}: vocab {len(vocab)}, {len(merges)} merges, D={D} (TEST encoder)")


if __name__ == "__main__":
    main()
