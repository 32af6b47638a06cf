"""`cadrage export-onnx MODEL OUT [--quantize int8]`: a transformer model directory -> an ONNX
model directory (all heads; dynamic batch and sequence axes) that `cadrage score --model OUT`,
`load_model(OUT)` and the pyfunc run on ONNX Runtime, with the same thresholds and calibration."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cadrage.models.artifacts import ModelLoadError
from cadrage.models.onnx import OnnxExportError, describe, export_onnx
from cadrage.tracking import resolve_model_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="transformer model directory, models:/cadrage@alias or runs:/ID/model")
    parser.add_argument("out", metavar="OUT", help="directory to write (a complete cadrage model directory)")
    parser.add_argument("--quantize", choices=("none", "int8"), default="none",
                        help="int8: dynamic quantization of the encoder's matmuls (smaller, faster on CPU)")
    parser.add_argument("--no-optimize", action="store_true",
                        help="skip ONNX Runtime's transformer graph fusions (attention, GeLU, LayerNorm)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default: 17)")
    parser.add_argument("--force", action="store_true", help="replace OUT if it already exists")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not args.force:
        print(f"cadrage export-onnx: {out} already exists (use --force to replace it)", file=sys.stderr)
        return 1
    try:
        source = resolve_model_dir(args.model)
        if out.resolve() == source.resolve():
            raise ModelLoadError("OUT must differ from MODEL")
        export_onnx(source, out, quantize=args.quantize, optimize=not args.no_optimize, opset=args.opset,
                    log=lambda msg: print(f"cadrage export-onnx: {msg}", file=sys.stderr))
    except (ModelLoadError, OnnxExportError, FileNotFoundError) as e:
        print(f"cadrage export-onnx: {e}", file=sys.stderr)
        return 1
    info = describe(out)
    print(f"{out}: {info['file']} ({info['quantize'] if info['quantize'] != 'none' else 'fp32'}"
          f"{', optimized' if info['optimized'] else ''}, opset {info['opset']}); "
          f"score with: cadrage score --model {out} ...")
    return 0
