"""`cadrage data stats`: what the corpus holds, per split, and the annotation agreement figures."""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from cadrage.data import DataError
from cadrage.paths import ROOT
from cadrage.prepare import PrepareParams, params_from_file, prepared_splits

AGREEMENT = ROOT / "data" / "agreement" / "agreement.json"


def split_stats(rows: list[dict]) -> dict:
    n = len(rows)
    loaded = sum(1 for r in rows if r["loaded"])
    count = lambda key: dict(Counter(r[key] if r[key] is not None else "(none)" for r in rows).most_common())  # noqa: E731
    return {
        "sentences": n,
        "articles": len({r["article_id"] for r in rows}),
        "loaded": loaded,
        "loaded_share": round(loaded / n, 4) if n else 0.0,
        "author_voice_loaded": sum(1 for r in rows if r["loaded"] and r["voice"] == "author"),
        "techniques": dict(Counter(t for r in rows for t in (r["techniques"] or [])).most_common()),
        "stance": count("stance"),
        "stance_of_loaded": dict(Counter(r["stance"] for r in rows if r["loaded"]).most_common()),
        "voice": count("voice"),
        "topic": count("topic"),
        "hard_negative": count("hard_negative"),
        "hard_negative_share": round(sum(1 for r in rows if r["hard_negative"]) / n, 4) if n else 0.0,
        "with_cues": sum(1 for r in rows if r["cues"]),
    }


def corpus_stats(params_path: Path = ROOT / "params.yaml") -> dict:
    params = params_from_file(params_path) if params_path.exists() else PrepareParams()
    splits = prepared_splits(params)
    everything = [r for rows in splits.values() for r in rows]
    out = {"corpus": params.data, "all": split_stats(everything), "splits": {k: split_stats(v) for k, v in splits.items()}}
    out["agreement"] = json.loads(AGREEMENT.read_text(encoding="utf-8")) if AGREEMENT.exists() else None
    return out


def _table(title: str, counts: dict) -> str:
    width = max((len(str(k)) for k in counts), default=0)
    return "\n".join([title] + [f"  {str(k).ljust(width)}  {v}" for k, v in counts.items()])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the statistics as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        stats = corpus_stats()
    except DataError as e:
        print(f"cadrage data stats: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(stats, indent=2, ensure_ascii=False))
        return 0
    a = stats["all"]
    print(f"corpus {stats['corpus']}: {a['sentences']} sentences in {a['articles']} articles, "
          f"{a['loaded_share']:.1%} loaded, {a['hard_negative_share']:.1%} hard negatives")
    print(_table("splits", {k: f"{v['sentences']} sentences, {v['loaded_share']:.1%} loaded" for k, v in stats["splits"].items()}))
    for key in ("techniques", "stance", "stance_of_loaded", "voice", "topic", "hard_negative"):
        print(_table(key, a[key]))
    agreement = stats["agreement"]
    if agreement:
        print(_table("agreement (Cohen's kappa)", {k: v for k, v in agreement.get("kappa", {}).items()}))
    else:
        print("agreement: not measured yet")
    return 0
