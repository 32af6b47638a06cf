"""ONNX export of the multi-task transformer and an ONNX Runtime backend.

    export_onnx(model_dir, out_dir, quantize="int8")   # a new, complete cadrage model directory

The exported graph takes `input_ids` and `attention_mask` (int64, dynamic batch and sequence
axes) and returns every head, already in `HeadOutputs` form: `loaded_logit` (uncalibrated, the
card's calibration applies), `techniques` (sigmoid), `stance` and `voice` (softmax). The export
directory holds the graph (`model.onnx`), the tokenizer files, `config.json`, the lexicon and a
card whose backend is `onnx`; calibration and thresholds are copied from the source card, so a
loaded ONNX model predicts with the same thresholds. No PyTorch is needed to load or run it.

Graph work at export: the legacy TorchScript exporter (eager attention, so that ONNX Runtime's
transformer optimizer can fuse attention, bias+GeLU and skip+LayerNorm), then that optimizer for
BERT-family encoders (checked against PyTorch, dropped if it changes the outputs), then, with
quantize="int8", dynamic quantization of the MatMul/Attention weights (int8, per channel; the
small head layers stay fp32).

`load_model(transformer_dir, runtime="onnx", quantize="int8")` exports on first use into a cache
(`$CADRAGE_CACHE_DIR`, else `~/.cache/cadrage`), keyed by the model's files, and reuses it after.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from cadrage.models.artifacts import CARD, ModelLoadError, read_card, save_model_dir
from cadrage.models.heads import HeadOutputs, cue_spans_from_tags
from cadrage.models.inference import (
    DEFAULT_BATCH_SIZE,
    TOKENIZE_CHUNK,
    HFTokenizerEncoder,
    TransformerBackend,
    empty_outputs,
    physical_cores,
    sorted_batches,
)
from cadrage.schema import LabelSchema

ONNX_FILE = "model.onnx"
INPUTS = ("input_ids", "attention_mask")
OUTPUTS = ("loaded_logit", "techniques", "stance", "voice")
CUE_OUTPUT = "cue_tags"  # (batch, sequence, 3) O/B/I probabilities, for models with a cue head
QUANTIZE = ("none", "int8")
EXPORT_VERSION = 2  # 2: cue head output
OPSET = 17
# Encoders whose graphs onnxruntime.transformers' "bert" optimizer knows how to fuse.
BERT_FAMILY = {"bert", "roberta", "camembert", "xlm-roberta", "distilbert", "electra", "flaubert"}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model",
                   "vocab.txt", "vocab.json", "merges.txt", "added_tokens.json")


class OnnxExportError(RuntimeError):
    pass


def normalize_quantize(quantize: str | None) -> str | None:
    """None (the directory's own precision) | "none" | "int8"; "fp32" is accepted for "none"."""
    if quantize is None:
        return None
    q = str(quantize).lower()
    q = {"fp32": "none", "float32": "none", "no": "none", "false": "none", "qint8": "int8", "dynamic": "int8"}.get(q, q)
    if q not in QUANTIZE:
        raise ValueError(f"quantize must be one of {QUANTIZE}, got {quantize!r}")
    return q


# ------------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------------
def _heads_module(model):
    import torch

    class Heads(torch.nn.Module):
        """The multi-task model with its output activations: what HeadOutputs holds."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask)
            heads = (out["loaded_logits"], torch.sigmoid(out["technique_logits"]),
                     torch.softmax(out["stance_logits"], -1), torch.softmax(out["voice_logits"], -1))
            if "cue_logits" in out:
                heads += (torch.softmax(out["cue_logits"], -1),)
            return heads

    # eval() matters: export restores the wrapper's own train/eval mode on everything inside it.
    return Heads(model).eval()


def _probe_batch(tokenizer, max_length: int) -> dict[str, np.ndarray]:
    """A few sentences of different lengths (padding included) to check an export against."""

    texts = ["Le gouvernement a présenté son budget.",
             "Selon l'agence, les négociations reprendront lundi à Genève, a indiqué un diplomate sous couvert d'anonymat.",
             "Une provocation ?", "x " * (2 * max_length)]
    ids, mask = HFTokenizerEncoder(tokenizer, max_length)(texts)
    return {"input_ids": ids, "attention_mask": mask}


def _session(path: Path, threads: int | None = None):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads or physical_cores())
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _max_diff(path: Path, probe: dict[str, np.ndarray], reference: list[np.ndarray], outputs: list[str]) -> float:
    got = _session(path).run(outputs, probe)
    return max(float(np.abs(a - b).max()) for a, b in zip(got, reference))


def _quantize_int8(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True, reduce_range=False,
        op_types_to_quantize=["MatMul", "Attention"],
        # The fused contrib ops (Attention, SkipLayerNormalization...) defeat ONNX shape inference.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def export_onnx(model_dir: str | Path, out_dir: str | Path, quantize: str | None = "none", optimize: bool = True,
                opset: int = OPSET, tolerance: float = 1e-4, log=None) -> Path:
    """Export a transformer model directory to a complete ONNX model directory at `out_dir`.
    Returns out_dir. Raises OnnxExportError for a model that is not a transformer."""
    import torch


    log = log or (lambda msg: None)
    quantize = normalize_quantize(quantize) or "none"
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    card = read_card(model_dir)
    if card["backend"] == "onnx":
        raise OnnxExportError(f"{model_dir}: already an ONNX export; export from the transformer model directory")
    if card["backend"] != "transformer":
        raise OnnxExportError(f"{model_dir}: a {card['backend']!r} model; only transformer models export to ONNX")
    schema = LabelSchema.from_dict(card["schema"])
    started = time.time()
    backend = TransformerBackend.load(model_dir, schema, attn_implementation="eager")
    config = backend.model.config
    heads = _heads_module(backend.model)
    probe = _probe_batch(backend.tokenizer, backend.max_length)
    with torch.inference_mode():
        reference = [t.float().numpy() for t in heads(torch.from_numpy(probe["input_ids"]), torch.from_numpy(probe["attention_mask"]))]

    work = Path(tempfile.mkdtemp(prefix=".cadrage-onnx-", dir=out_dir.parent if out_dir.parent.exists() else None))
    try:
        raw = work / "raw.onnx"
        # Rows 1 (long) and 2 (short) of the probe, trimmed to a few tokens past the short one.
        lengths = probe["attention_mask"].sum(1)
        width = int(min(lengths[1], lengths[2] + 4))
        dummy = tuple(torch.from_numpy(np.ascontiguousarray(probe[k][[1, 2], :width])) for k in INPUTS)
        # Trace with a padded row, so that no "no padding" shortcut is baked into the graph.
        if int(dummy[1].sum()) >= dummy[1].numel():
            raise OnnxExportError("internal: the export batch must contain padding")
        axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
        outputs = list(OUTPUTS) + ([CUE_OUTPUT] if backend.model.cues is not None else [])
        axes.update({name: {0: "batch"} for name in OUTPUTS})
        if CUE_OUTPUT in outputs:
            axes[CUE_OUTPUT] = {0: "batch", 1: "sequence"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(heads, dummy, str(raw), dynamo=False, input_names=list(INPUTS), output_names=outputs,
                              dynamic_axes=axes, opset_version=opset, do_constant_folding=True)
        diff = _max_diff(raw, probe, reference, outputs)
        if diff > tolerance:
            raise OnnxExportError(f"the exported graph differs from PyTorch by {diff:.2e} (> {tolerance})")
        log(f"exported {raw.stat().st_size / 1e6:.0f} MB graph (max |ONNX - PyTorch| = {diff:.1e})")
        graph, optimized = raw, False
        if optimize and getattr(config, "model_type", None) in BERT_FAMILY:
            try:
                from onnxruntime.transformers.optimizer import optimize_model

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    opt = optimize_model(str(raw), model_type="bert", num_heads=config.num_attention_heads,
                                         hidden_size=config.hidden_size, opt_level=0)
                    fused = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
                    opt.save_model_to_file(str(work / "optimized.onnx"))
                opt_diff = _max_diff(work / "optimized.onnx", probe, reference, outputs)
                if opt_diff <= tolerance:
                    graph, optimized, diff = work / "optimized.onnx", True, opt_diff
                    log(f"fused {fused} (max |ONNX - PyTorch| = {opt_diff:.1e})")
                else:
                    log(f"optimized graph differs from PyTorch by {opt_diff:.2e}; keeping the unfused graph")
            except Exception as e:  # the optimizer is a bonus: never fail an export on it
                log(f"graph optimizer skipped ({type(e).__name__}: {e})")
        if quantize == "int8":
            _quantize_int8(graph, work / "int8.onnx")
            graph = work / "int8.onnx"
            diff = _max_diff(graph, probe, reference, outputs)
            log(f"int8 dynamic quantization: {graph.stat().st_size / 1e6:.0f} MB (max |int8 - fp32| = {diff:.3f} on the probe)")

        onnx_card = {
            key: value for key, value in card.items() if key not in ("format_version", "backend", "onnx")
        }
        onnx_card.update({
            "backend": "onnx",
            "onnx": {
                "file": ONNX_FILE, "quantize": quantize, "optimized": optimized, "opset": opset,
                "export_version": EXPORT_VERSION, "inputs": list(INPUTS), "outputs": outputs,
                "max_length": backend.max_length, "pad_token_id": int(backend.tokenizer.pad_token_id),
                "truncation_side": getattr(backend.tokenizer, "truncation_side", "right"),
                "max_abs_diff_vs_pytorch": diff, "source_backend": card["backend"],
                "source_fingerprint": model_fingerprint(model_dir),
            },
        })

        def write_files(directory: Path) -> None:
            shutil.copyfile(graph, directory / ONNX_FILE)
            for name in ("config.json", *TOKENIZER_FILES):
                if (model_dir / name).is_file():
                    shutil.copyfile(model_dir / name, directory / name)

        lexicon = model_dir / "lexicon.csv"
        if not lexicon.is_file():
            raise OnnxExportError(f"{model_dir}: no lexicon.csv")
        save_model_dir(out_dir, onnx_card, write_files, lexicon)
        assert (out_dir / CARD).is_file()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"wrote {out_dir} in {time.time() - started:.0f}s")
    return out_dir


def model_fingerprint(model_dir: str | Path) -> str:
    """Content hash of what an export depends on (weights, config, tokenizer, card)."""
    model_dir = Path(model_dir)
    h = hashlib.sha256(f"export-v{EXPORT_VERSION}".encode())
    for name in ("cadrage.json", "config.json", "model.safetensors", ONNX_FILE, *TOKENIZER_FILES):
        path = model_dir / name
        if path.is_file():
            h.update(name.encode())
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 22), b""):
                    h.update(block)
    return h.hexdigest()[:20]


def cache_root() -> Path:
    return Path(os.environ.get("CADRAGE_CACHE_DIR") or Path.home() / ".cache" / "cadrage")


def cached_export(model_dir: str | Path, quantize: str, log=None) -> Path:
    """The ONNX export of a transformer model directory, made on first use and cached."""
    model_dir = Path(model_dir)
    target = cache_root() / "onnx" / f"{model_fingerprint(model_dir)}-{quantize}"
    if not (target / "cadrage.json").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        export_onnx(model_dir, target, quantize=quantize, log=log)
    return target


def quantize_onnx_dir(onnx_dir: str | Path, out_dir: str | Path, log=None) -> Path:
    """An int8 copy of an fp32 ONNX model directory (dynamic quantization; no PyTorch needed)."""

    onnx_dir, out_dir = Path(onnx_dir), Path(out_dir)
    card = read_card(onnx_dir)
    if card["backend"] != "onnx":
        raise OnnxExportError(f"{onnx_dir}: not an ONNX model directory")
    if card["onnx"].get("quantize") == "int8":
        raise OnnxExportError(f"{onnx_dir}: already int8")
    card = {k: v for k, v in card.items() if k != "format_version"}
    card["onnx"] = {**card["onnx"], "quantize": "int8", "file": ONNX_FILE}
    work = Path(tempfile.mkdtemp(prefix=".cadrage-int8-"))
    try:
        started = time.time()
        _quantize_int8(onnx_dir / read_card(onnx_dir)["onnx"].get("file", ONNX_FILE), work / ONNX_FILE)

        def write_files(directory: Path) -> None:
            shutil.copyfile(work / ONNX_FILE, directory / ONNX_FILE)
            for name in ("config.json", *TOKENIZER_FILES):
                if (onnx_dir / name).is_file():
                    shutil.copyfile(onnx_dir / name, directory / name)

        save_model_dir(out_dir, card, write_files, onnx_dir / "lexicon.csv")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if log:
        log(f"quantized {onnx_dir} to int8 in {out_dir} ({time.time() - started:.0f}s)")
    return out_dir


def _quantized_copy(onnx_dir: Path, log=None) -> Path:
    """int8 from an fp32 ONNX directory, cached like exports."""
    target = cache_root() / "onnx" / f"{model_fingerprint(onnx_dir)}-int8"
    if not (target / "cadrage.json").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        quantize_onnx_dir(onnx_dir, target, log=log)
    return target


# ------------------------------------------------------------------------------------------------
# Runtime
# ------------------------------------------------------------------------------------------------
class RawTokenizerEncoder:
    """Encoding with the `tokenizers` library straight from tokenizer.json (no transformers, so no
    PyTorch import): the same ids as the transformers tokenizer built on that file."""

    def __init__(self, path: Path, max_length: int, pad_id: int, truncation_side: str = "right"):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.enable_truncation(max_length, strategy="longest_first", direction=truncation_side)
        self.tokenizer.enable_padding(direction="right", pad_id=pad_id, pad_token=self.tokenizer.id_to_token(pad_id) or "<pad>")

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return self.with_offsets(texts)[:2]

    def with_offsets(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        offsets = np.array([e.offsets for e in encodings], dtype=np.int64).reshape(len(encodings), ids.shape[1], 2)
        # The tokenizer gives special tokens offsets (0, 0) already; padding too.
        return ids, mask, offsets


class OnnxBackend:
    """ONNX Runtime scoring, batched like TransformerBackend. Options: batch_size, threads
    (ONNX Runtime intra-op threads; default: physical cores), max_length."""

    runtime = "onnx"

    def __init__(self, session, encode, n_heads: tuple[int, int, int], batch_size: int = DEFAULT_BATCH_SIZE,
                 quantize: str = "none", path: Path | None = None, outputs: list[str] | None = None):
        self.session = session
        self.encode = encode
        self.n_heads = n_heads
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.quantize = quantize
        self.path = path
        self._outputs = list(outputs or OUTPUTS)
        self.cue_head = CUE_OUTPUT in self._outputs

    @classmethod
    def load(cls, directory: str | Path, schema: LabelSchema, card: dict | None = None, quantize: str | None = None,
             threads: int | None = None, batch_size: int | None = None, max_length: int | None = None, log=None) -> "OnnxBackend":
        directory = Path(directory)
        card = card or read_card(directory)
        info = card.get("onnx") or {}
        own = info.get("quantize", "none")
        quantize = normalize_quantize(quantize) or own
        if quantize != own:
            if own == "int8":
                raise ModelLoadError(f"{directory}: holds an int8 graph; for fp32, export again from the transformer model")
            directory = _quantized_copy(directory, log=log)
            info = read_card(directory)["onnx"]
        path = directory / info.get("file", ONNX_FILE)
        if not path.is_file():
            raise ModelLoadError(f"{directory}: missing ONNX graph {path.name}")
        max_length = int(max_length or info.get("max_length") or 128)
        if (directory / "tokenizer.json").is_file() and info.get("pad_token_id") is not None:
            encode = RawTokenizerEncoder(directory / "tokenizer.json", max_length, int(info["pad_token_id"]),
                                         info.get("truncation_side", "right"))
        else:  # a slow-only tokenizer: go through transformers
            from transformers import AutoTokenizer


            encode = HFTokenizerEncoder(AutoTokenizer.from_pretrained(directory), max_length)
        try:
            session = _session(path, threads)
        except Exception as e:
            raise ModelLoadError(f"{path}: ONNX Runtime cannot load it ({str(e).splitlines()[0]})") from None
        n_heads = (len(schema.techniques), len(schema.stance_labels), len(schema.voice_labels))
        return cls(session, encode, n_heads, batch_size=batch_size or DEFAULT_BATCH_SIZE, quantize=quantize, path=path,
                   outputs=info.get("outputs"))

    def outputs(self, texts: list[str]) -> HeadOutputs:
        n = len(texts)
        out = empty_outputs(*self.n_heads, n)
        targets = (out.loaded_logit, out.techniques, out.stance, out.voice)
        if self.cue_head:
            out.cue_spans = [[] for _ in range(n)]
        for start in range(0, n, TOKENIZE_CHUNK):
            chunk = list(texts[start:start + TOKENIZE_CHUNK])
            if self.cue_head:
                input_ids, attention_mask, offsets = self.encode.with_offsets(chunk)
            else:
                input_ids, attention_mask = self.encode(chunk)
            for rows, ids, mask in sorted_batches(input_ids, attention_mask, self.batch_size):
                at = rows + start
                values = self.session.run(self._outputs, {"input_ids": ids, "attention_mask": mask})
                for target, value in zip(targets, values):
                    target[at] = value
                if self.cue_head:
                    for k, row in enumerate(rows):
                        out.cue_spans[start + row] = cue_spans_from_tags(values[4][k], offsets[row, : ids.shape[1]])
        return out


def load_onnx_backend(model_dir: Path, card: dict, schema: LabelSchema, quantize: str | None = None, log=None,
                      **options: Any) -> OnnxBackend:
    """The ONNX Runtime backend for a model directory: an ONNX export as is, or a transformer
    directory exported (and cached) on first use."""
    if card["backend"] == "transformer":
        q = normalize_quantize(quantize) or "none"
        onnx_dir = cached_export(model_dir, q, log=log)
        return OnnxBackend.load(onnx_dir, schema, quantize=q, log=log, **options)
    return OnnxBackend.load(model_dir, schema, card=card, quantize=quantize, log=log, **options)


def describe(directory: str | Path) -> dict:
    """The card's onnx section (for `cadrage export-onnx` and the benchmark)."""
    with open(Path(directory) / "cadrage.json", encoding="utf-8") as f:
        return json.load(f).get("onnx", {})
