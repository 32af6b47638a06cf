#!/usr/bin/env python
"""Spark benchmark: `cadrage score --engine spark` on local[1] and local[2] against the plain CLI
(the baseline), on the same generated articles and the same machine, in one run.

    python bench/spark.py                       # 1,000 and 10,000 articles (about 30 minutes on 2 cores)
    python bench/spark.py --sizes 1000 --model models/default

Every contender is one `cadrage score` process, timed from start to exit: interpreter, model
load and (for Spark) the JVM and the job included, as a user would see it. A 10-article run of
each contender gives its fixed cost; (N - 10) / (t_N - t_10) its marginal rate. The articles are
the end-to-end benchmark's (`bench/score.py`: .txt files of 6-24 authored-corpus sentences, with
headline, date and URL lines), one file each.

The last line is a projection for a cluster of C cores (default 32), on paper: t = fixed +
N / (C x per-core rate x efficiency), where the per-core rate is local[1]'s marginal rate (on the
smallest size) and the efficiency is local[2]'s marginal rate on the largest size over twice that
(what a second core adds here).
Writes JSON (--out, default bench/spark.json) and ends with the line
`spark_local2_vs_cli=X.XX local2_vs_local1=Y.YY`.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from score import corpus_splits, generate_articles  # noqa: E402  (the end-to-end benchmark's articles)

CONTENDERS = {"cli": [], "spark local[1]": ["--engine", "spark", "--master", "local[1]"],
              "spark local[2]": ["--engine", "spark", "--master", "local[2]"]}


def timed_score(model: str, articles: Path, out: Path, extra: list[str]) -> float:
    suffix = ".parquet" if "spark" in extra else ".jsonl"
    command = [str(ROOT / ".venv" / "bin" / "cadrage"), "score", str(articles), "--model", model,
               "--out", str(out.with_suffix(suffix)), "--quiet", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--model", default="default", help="the model scored with (default: the embedded default)")
    p.add_argument("--cores", type=int, default=32, help="cluster size for the projection")
    p.add_argument("--out", default=str(ROOT / "bench" / "spark.json"))
    args = p.parse_args(argv)

    rows = corpus_splits()["test"]
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "model": args.model, "runs": []}
    with tempfile.TemporaryDirectory(prefix="cadrage-bench-spark-") as tmp:
        work = Path(tmp)
        folders = {n: generate_articles(rows, work / f"articles-{n}", n) for n in [10, *args.sizes]}
        for name, extra in CONTENDERS.items():
            fixed = timed_score(args.model, folders[10][0], work / "fixed", extra)
            # local[1] only gives the per-core rate for the projection: the smallest size is enough
            for n in args.sizes[:1] if name == "spark local[1]" else args.sizes:
                seconds = timed_score(args.model, folders[n][0], work / f"out-{n}", extra)
                run = {"contender": name, "articles": n, "sentences": folders[n][1], "seconds": round(seconds, 1),
                       "articles_per_s": round(n / seconds, 2), "fixed_s": round(fixed, 1),
                       "marginal_articles_per_s": round((n - 10) / (seconds - fixed), 2) if seconds > fixed else None}
                results["runs"].append(run)
                print(f"{name:15} {n:6d} articles {seconds:7.1f} s  {run['articles_per_s']:6.2f} art/s  "
                      f"(fixed {fixed:.1f} s, marginal {run['marginal_articles_per_s']} art/s)", flush=True)

    def rate(name: str, n: int, key: str = "articles_per_s") -> float:
        return next(r[key] for r in results["runs"] if r["contender"] == name and r["articles"] == n)

    largest = max(args.sizes)
    per_core = rate("spark local[1]", args.sizes[0], "marginal_articles_per_s")
    efficiency = rate("spark local[2]", largest, "marginal_articles_per_s") / (2 * per_core)
    fixed = next(r["fixed_s"] for r in results["runs"] if r["contender"] == "spark local[2]")
    results["projection"] = {
        "cores": args.cores, "per_core_articles_per_s": per_core, "efficiency": round(efficiency, 3), "fixed_s": fixed,
        "articles_per_s": round(args.cores * per_core * efficiency, 1),
        "seconds": {str(n): round(fixed + n / (args.cores * per_core * efficiency), 1) for n in (*args.sizes, 1_000_000)},
    }
    results["spark_local2_vs_cli"] = round(rate("spark local[2]", largest) / rate("cli", largest), 2)
    results["local2_vs_local1"] = round(rate("spark local[2]", args.sizes[0]) / rate("spark local[1]", args.sizes[0]), 2)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    proj = results["projection"]
    print(f"projection, {args.cores} cores: {proj['articles_per_s']} articles/s "
          f"(per core {per_core}, efficiency {proj['efficiency']}, fixed {fixed} s); "
          + ", ".join(f"{n} articles in {s} s" for n, s in proj["seconds"].items()))
    print(f"spark_local2_vs_cli={results['spark_local2_vs_cli']:.2f} local2_vs_local1={results['local2_vs_local1']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
