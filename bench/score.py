#!/usr/bin/env python
"""Scoring benchmark: every contender on the same sentences, in one run.

    python bench/score.py --encoder-model models/e5-small   # the fine-tuned e5-small (the shipped encoder)
    python bench/score.py            # full: camembert-base-sized model (12 layers), ~10 minutes on 2 cores
    python bench/score.py --quick    # CI: same contenders, 2-layer base-width model, fewer sentences (< 2 min)
    python bench/score.py --quick --articles 300 --default-model models/default --also-model linear-e5=models/linear-e5
                                     # end-to-end rows for candidate default models, side by side

With --encoder-model, that trained model is the timed one and the one whose int8 agreement is
measured (instead of the random camembert-base-sized model and the tiny model).

What it does:
1. builds a camembert-base-sized MultiTaskModel (CamembertConfig defaults: hidden 768, 12 layers,
   12 heads, vocab 32,005; random weights: speed does not depend on them) with the tiny model's
   tokenizer (a Unigram tokenizer trained on the authored corpus), so tokenization is the same for
   every contender; and trains the tiny CamemBERT (configs/tiny.yaml) unless --tiny-model is given;
2. exports both to ONNX (fp32, graph-optimized) and int8 (dynamic quantization);
3. measures sentences/s on the same sentences (sampled from the authored corpus) for
   `transformers.pipeline("text-classification")` at batch 32 (baseline, the same encoder
   weights under a sequence-classification head), our fp32 scorer (models/inference.py),
   ONNX Runtime fp32 and ONNX Runtime int8 (models/onnx.py). Each contender lives in its own
   worker process (so its peak RSS is its own); rounds are interleaved across contenders and the
   best round counts, which keeps the ratios fair on a machine shared with other work;
4. label agreement int8 vs fp32 on the trained tiny model's thresholded predictions for the
   authored test split (loaded, each technique, stance argmax, voice argmax);
5. end-to-end articles/s of the default model (`cadrage score` on generated .txt articles,
   ingestion and JSONL output included).

Prints a table, writes JSON (--out, default bench/results.json), and ends with the line
`speedup_vs_pipeline=X.XX int8_vs_fp32=Y.YY int8_agreement=Z.ZZZ`.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SOURCES = ["agence-presse.example", "le-quotidien.example", "courrier-du-don.example", "vesti-fr.example",
           "journal-du-soir.example", "la-depeche-libre.example", "tribune-est.example", "info-kremlin.example"]
TARGETS = {"speedup_vs_pipeline": 3.0, "int8_vs_fp32": 1.8, "int8_agreement": 0.99}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec, so a
    worker would report its parent's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------------------
# Worker process: one contender, driven over stdin/stdout (one JSON object per line)
# ------------------------------------------------------------------------------------------------
def make_runner(spec: dict):
    kind = spec["kind"]
    if kind == "pipeline":
        if spec.get("threads"):  # --threads applies to the baseline too
            import torch

            torch.set_num_threads(int(spec["threads"]))
        from safetensors.torch import load_file
        from transformers import (
            AutoConfig,
            AutoModelForSequenceClassification,
            AutoTokenizer,
            pipeline,
        )

        directory = Path(spec["model"])
        config = AutoConfig.from_pretrained(directory)
        clf = AutoModelForSequenceClassification.from_config(config).eval()
        encoder = {k[len("encoder."):]: v for k, v in load_file(str(directory / "model.safetensors")).items() if k.startswith("encoder.")}
        missing, unexpected = getattr(clf, clf.base_model_prefix).load_state_dict(encoder, strict=False)
        if unexpected or [k for k in missing if "pooler" not in k]:
            raise RuntimeError(f"pipeline encoder weights do not match: missing {missing}, unexpected {unexpected}")
        pipe = pipeline("text-classification", model=clf, tokenizer=AutoTokenizer.from_pretrained(directory), device=-1)
        max_length = int(getattr(config, "cadrage_max_length", 128))
        return lambda texts: pipe(texts, batch_size=32, truncation=True, max_length=max_length)
    if kind == "cadrage":
        from cadrage.models.loading import load_model

        model = load_model(spec["model"], runtime=spec.get("runtime"), quantize=spec.get("quantize"),
                           batch_size=spec.get("batch_size"), threads=spec.get("threads"))
        return model.predict
    if kind == "e2e":
        from cadrage.cli import main

        try:  # imports and the sentence segmenter: once per process, not part of a scoring run
            import importlib

            for name in ("cadrage.batch", "cadrage.ingest.articles", "cadrage.outputs", "cadrage.reliability", "cadrage.scoring", "tqdm"):
                importlib.import_module(name)
            from cadrage.ingest.segment import get_nlp

            get_nlp()
        except Exception:
            pass

        def run(articles_dir):
            code = main(["score", articles_dir, "--model", spec["model"], "--out", spec["output"], "--quiet",
                         *spec.get("args", [])])
            if code not in (0, 2):
                raise RuntimeError(f"cadrage score exited with {code}")
            with open(spec["output"], encoding="utf-8") as f:
                return sum(1 for _ in f)

        return run
    raise ValueError(f"unknown contender kind {kind!r}")


def worker(spec_json: str) -> int:
    spec = json.loads(spec_json)
    send = lambda obj: print(json.dumps(obj), flush=True)  # noqa: E731
    try:
        texts = json.loads(Path(spec["texts"]).read_text(encoding="utf-8")) if spec.get("texts") else []
        before = rss_mb()
        started = time.perf_counter()
        runner = make_runner(spec)
        load_s = time.perf_counter() - started
        if texts:
            runner(texts[:32])  # warm-up: first-call allocations, thread pools
        send({"ready": True, "load_s": load_s, "rss_before_load_mb": before, "rss_after_load_mb": rss_mb()})
    except Exception as e:
        send({"ready": False, "error": f"{type(e).__name__}: {e}"})
        return 1
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "run":
            try:
                started, cpu = time.perf_counter(), time.process_time()
                result = runner(arg or texts)
                send({"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu,
                      "result": result if isinstance(result, int) else None})
            except Exception as e:
                send({"error": f"{type(e).__name__}: {e}"})
        elif cmd == "profile":
            try:
                send({"profile": profile(runner, texts[:96])})
            except Exception as e:
                send({"error": f"{type(e).__name__}: {e}"})
        elif cmd == "quit":
            send({"peak_rss_mb": peak_rss_mb(), "rss_mb": rss_mb()})
            return 0
    return 0


def profile(runner, texts: list[str]) -> dict:
    """Where one scoring pass spends its time: tokenization vs the model, and the model's
    operators (torch profiler, self CPU time) grouped into families."""
    import torch

    model = getattr(runner, "__self__", None)  # CadrageModel.predict
    backend = getattr(model, "backend", None)
    out: dict = {}
    if backend is not None and hasattr(backend, "encode"):
        started = time.perf_counter()
        backend.encode(texts)
        out["tokenize_s"] = time.perf_counter() - started
    started = time.perf_counter()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        runner(texts)
    out["pass_s"] = time.perf_counter() - started
    families = {"matmul (linear layers)": ("addmm", "mm", "bmm", "matmul", "linear"),
                "attention": ("scaled_dot_product", "flash_attention", "softmax"),
                "layer norm": ("layer_norm",), "gelu": ("gelu",), "add / copy / other elementwise": ("add", "copy_", "mul", "div", "where")}
    totals = {k: 0.0 for k in families}
    totals["other"] = 0.0
    top = []
    for evt in prof.key_averages():
        us = evt.self_cpu_time_total
        name = evt.key.replace("aten::", "")
        fam = next((k for k, keys in families.items() if any(name == x or name.startswith(x) for x in keys)), "other")
        totals[fam] += us
        top.append((us, evt.key, evt.count))
    total = sum(totals.values()) or 1.0
    out["self_cpu_share"] = {k: round(v / total, 3) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}
    out["top_ops"] = [{"op": k, "calls": c, "self_cpu_s": round(us / 1e6, 3), "share": round(us / total, 3)}
                      for us, k, c in sorted(top, reverse=True)[:8]]
    return out


def token_stats(tokenizer_dir: Path, texts: list[str], batch_size: int = 32, max_length: int = 128) -> dict:
    """Tokens the model actually processes: real tokens, padded to each batch's longest in input
    order (what pipeline batches do), and padded after length sorting (what our scorers do)."""
    import numpy as np
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    lengths = np.array([len(x) for x in tok(texts, truncation=True, max_length=max_length)["input_ids"]])
    padded = lambda ls: int(sum(len(ls[i:i + batch_size]) * ls[i:i + batch_size].max() for i in range(0, len(ls), batch_size)))  # noqa: E731
    real, in_order, by_length = int(lengths.sum()), padded(lengths), padded(np.sort(lengths))
    return {"real_tokens": real, "pipeline_padded_tokens": in_order, "sorted_padded_tokens": by_length,
            "padding_ratio_pipeline_vs_sorted": round(in_order / by_length, 3), "mean_tokens": round(float(lengths.mean()), 1),
            "p95_tokens": int(np.percentile(lengths, 95)), "max_tokens": int(lengths.max())}


class Worker:
    def __init__(self, name: str, spec: dict):
        self.name, self.spec = name, spec
        env = {**os.environ, "PYTHONWARNINGS": "ignore", "TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error"}
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, cwd=str(ROOT), env=env)
        self.ready: dict | None = None
        self.times: list[float] = []
        self.cpu_times: list[float] = []
        self.error: str | None = None
        self.final: dict = {}

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            return {"error": f"worker exited (code {self.proc.wait()})"}
        return json.loads(line)

    def wait_ready(self) -> None:
        self.ready = self.read()
        if not self.ready.get("ready"):
            self.error = self.ready.get("error", "failed to start")

    def run_once(self, arg: str = "") -> float | None:
        if self.error:
            return None
        self.proc.stdin.write(f"run {arg}".rstrip() + "\n")
        self.proc.stdin.flush()
        answer = self.read()
        if "error" in answer:
            self.error = answer["error"]
            return None
        self.times.append(answer["seconds"])
        self.cpu_times.append(answer.get("cpu_seconds", float("nan")))
        self.final["result"] = answer.get("result")
        return answer["seconds"]

    def profile(self) -> dict | None:
        if self.error:
            return None
        self.proc.stdin.write("profile\n")
        self.proc.stdin.flush()
        answer = self.read()
        return answer.get("profile") or {"error": answer.get("error")}

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.final.update(self.read())
            except (BrokenPipeError, ValueError):
                pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def race(workers: list[Worker], rounds: int, profile_names: tuple[str, ...] = ()) -> dict:
    """Interleaved rounds; the starting contender rotates so none always follows the same one.
    Then, for the contenders named in profile_names, one profiled pass (not timed)."""
    for w in workers:
        w.wait_ready()
        if w.error:
            log(f"{w.name}: {w.error}")
    for r in range(rounds):
        shift = r % len(workers)
        for w in workers[shift:] + workers[:shift]:
            time.sleep(0.3)  # let the previous contender's spinning threads go idle
            w.run_once()
        log(f"round {r + 1}/{rounds}: " + ", ".join(f"{w.name} {w.times[-1]:.1f}s" for w in workers if w.times and not w.error))
    profiles = {w.name: w.profile() for w in workers if w.name in profile_names}
    for w in workers:
        w.close()
    return profiles


# ------------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------------
def corpus_splits() -> dict[str, list[dict]]:
    from cadrage.prepare import PrepareParams, params_from_file, prepared_splits

    params_path = ROOT / "params.yaml"
    return prepared_splits(params_from_file(params_path) if params_path.exists() else PrepareParams())


TINY_CACHE = ROOT / "artifacts" / "bench" / "tiny"


def tiny_model(splits: dict, work: Path) -> tuple[Path, str]:
    """The trained tiny model (configs/tiny.yaml, full schedule) for the current corpus: reused
    from artifacts/bench/tiny when its dataset fingerprint matches, else trained there."""
    from cadrage.data import files_fingerprint
    from cadrage.models.artifacts import read_card
    from cadrage.prepare import write_splits
    from cadrage.training.config import load_config
    from cadrage.training.run import run

    prep = work / "prepared"
    write_splits(splits, prep)
    paths = [prep / f"{k}.jsonl" for k in ("train", "dev", "test")]
    wanted = files_fingerprint(paths)
    if (TINY_CACHE / "cadrage.json").is_file() and read_card(TINY_CACHE).get("dataset_fingerprint") == wanted:
        return TINY_CACHE, "reused"
    log(f"training the tiny model (configs/tiny.yaml) into {TINY_CACHE}; later runs reuse it")
    overrides = [f"data.{p.stem}={p}" for p in paths]
    overrides += [f"output_dir={TINY_CACHE}", "tracking.register=false", f"tracking.tracking_uri=sqlite:///{work / 'mlflow.db'}"]
    return Path(run(load_config(ROOT / "configs" / "tiny.yaml", overrides))["model_dir"]), "trained"


def build_base(tiny_dir: Path, out: Path, layers: int, seed: int = 13) -> Path:
    """A camembert-base-sized MultiTaskModel with random weights, saved as a model directory
    (tokenizer, schema, thresholds and lexicon borrowed from the tiny model)."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoTokenizer, CamembertConfig

    from cadrage.models.artifacts import read_card, save_model_dir
    from cadrage.models.inference import WEIGHTS
    from cadrage.models.multitask import MultiTaskModel
    from cadrage.schema import LabelSchema

    card = read_card(tiny_dir)
    schema = LabelSchema.from_dict(card["schema"])
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    config = CamembertConfig(vocab_size=32005, num_hidden_layers=layers, max_position_embeddings=514, type_vocab_size=1,
                             pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                             eos_token_id=tokenizer.eos_token_id)
    config.cadrage_max_length = 128
    torch.manual_seed(seed)
    model = MultiTaskModel.from_encoder_config(config, n_techniques=len(schema.techniques), n_stance=len(schema.stance_labels),
                                               n_voice=len(schema.voice_labels)).eval()
    base_card = {k: v for k, v in card.items() if k in ("schema", "thresholds", "calibration")}
    base_card.update({"backend": "transformer", "name": f"bench-camembert-base-{layers}l-random",
                      "note": "random weights, for speed measurements only"})

    def write(directory: Path) -> None:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(directory / WEIGHTS))
        config.save_pretrained(directory)
        tokenizer.save_pretrained(directory)

    return save_model_dir(out, base_card, write, tiny_dir / "lexicon.csv")


def exports(model_dir: Path, work: Path, name: str) -> tuple[Path, Path, dict]:
    from cadrage.models.onnx import export_onnx, quantize_onnx_dir

    started = time.time()
    fp32 = export_onnx(model_dir, work / f"{name}-onnx", quantize="none", log=lambda m: log(f"{name}: {m}"))
    t_fp32 = time.time() - started
    int8 = quantize_onnx_dir(fp32, work / f"{name}-onnx-int8", log=lambda m: log(f"{name}: {m}"))
    return fp32, int8, {"export_fp32_s": round(t_fp32, 1), "quantize_int8_s": round(time.time() - started - t_fp32, 1),
                        "onnx_fp32_mb": round((fp32 / "model.onnx").stat().st_size / 2**20, 1),
                        "onnx_int8_mb": round((int8 / "model.onnx").stat().st_size / 2**20, 1)}


# ------------------------------------------------------------------------------------------------
# Agreement
# ------------------------------------------------------------------------------------------------
def decisions(model, texts: list[str]):
    """Thresholded predictions: loaded, each technique, stance argmax, voice argmax."""
    import numpy as np

    p = model.predict(texts)
    thresholds = np.array([model.thresholds["techniques"][t] for t in model.schema.techniques])
    return {"loaded": p.loaded >= model.thresholds["loaded"], "techniques": p.techniques >= thresholds,
            "stance": p.stance.argmax(1), "voice": p.voice.argmax(1)}, p


def agreement(reference: dict, other: dict) -> dict:
    import numpy as np

    per_head = {"loaded": reference["loaded"] == other["loaded"], "techniques": reference["techniques"] == other["techniques"],
                "stance": reference["stance"] == other["stance"], "voice": reference["voice"] == other["voice"]}
    n = len(reference["loaded"])
    labels = np.concatenate([per_head["loaded"][:, None], per_head["techniques"], per_head["stance"][:, None], per_head["voice"][:, None]], 1)
    return {
        "labels": float(labels.mean()),  # every (sentence, label) decision
        "sentences_all_labels": float(labels.all(1).mean()) if n else 1.0,
        "loaded": float(per_head["loaded"].mean()), "techniques": float(per_head["techniques"].mean()),
        "stance": float(per_head["stance"].mean()), "voice": float(per_head["voice"].mean()),
        "n_sentences": n, "n_labels": int(labels.size),
    }


def measure_agreement(tiny_dir: Path, fp32_dir: Path, int8_dir: Path, texts: list[str]) -> dict:
    import numpy as np

    from cadrage.models.loading import load_model

    torch_dec, torch_p = decisions(load_model(tiny_dir), texts)
    onnx_dec, onnx_p = decisions(load_model(fp32_dir), texts)
    int8_dec, int8_p = decisions(load_model(int8_dir), texts)
    diff = lambda a, b: max(float(np.abs(getattr(a, f) - getattr(b, f)).max()) for f in ("loaded", "techniques", "stance", "voice"))  # noqa: E731
    return {"int8_vs_fp32": agreement(torch_dec, int8_dec), "onnx_fp32_vs_fp32": agreement(torch_dec, onnx_dec),
            "max_abs_prob_diff": {"onnx_fp32": diff(torch_p, onnx_p), "onnx_int8": diff(torch_p, int8_p)}}


# ------------------------------------------------------------------------------------------------
# End to end
# ------------------------------------------------------------------------------------------------
def generate_articles(rows: list[dict], out: Path, n: int, seed: int = 13) -> tuple[Path, int]:
    """n .txt articles (headline, date and URL lines, paragraphs) made of corpus sentences."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    texts = [r["text"] for r in rows]
    n_sentences = 0
    for i in range(n):
        k = rng.randint(6, 24)
        body = rng.sample(texts, k)
        n_sentences += k
        paragraphs, j = [], 0
        while j < k:
            step = rng.randint(1, 4)
            paragraphs.append(" ".join(body[j:j + step]))
            j += step
        title = " ".join(rng.choice(texts).split()[:rng.randint(5, 10)]).rstrip(".,;:…")
        source = rng.choice(SOURCES)
        date = f"2022-0{rng.randint(1, 2)}-{rng.randint(1, 28):02d}"
        (out / f"article-{i:05d}.txt").write_text(
            f"{title}\n{date}\nhttps://www.{source}/monde/article-{i}\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return out, n_sentences


def end_to_end(label: str, model_dir: str, rows: list[dict], work: Path, n_articles: int,
               args: tuple[str, ...] = ()) -> dict:
    """`cadrage score` on generated articles, in a worker that has imported everything and loaded
    the sentence segmenter: the timed run on n articles (model loading included), then a timed
    10-article run (the fixed cost per call, mostly loading the model), which gives the marginal rate."""
    from cadrage.models.artifacts import read_card

    big, n_sentences = generate_articles(rows, work / f"articles-{n_articles}", n_articles)
    small, n_small = generate_articles(rows, work / "articles-10", 10, seed=7)
    w = Worker(f"e2e/{label}", {"kind": "e2e", "model": model_dir, "args": list(args),
                                "output": str(work / f"e2e-{label.replace(' ', '-').replace(',', '')}.jsonl")})
    w.wait_ready()
    seconds = w.run_once(str(big))
    records = w.final.get("result")
    fixed = w.run_once(str(small))
    w.close()
    row = {"model": label, "backend": read_card(model_dir)["backend"], "articles": n_articles, "sentences": n_sentences,
           "seconds": seconds, "articles_per_s": n_articles / seconds if seconds else None,
           "sentences_per_s": n_sentences / seconds if seconds else None, "per_call_fixed_s": fixed,
           "marginal_articles_per_s": (n_articles - 10) / (seconds - fixed) if seconds and fixed and seconds > fixed else None,
           "output_records": records, "peak_rss_mb": round(w.final.get("peak_rss_mb", 0.0), 1) or None, "error": w.error}
    log(f"end to end {label}: " + (f"{n_articles} articles in {seconds:.1f}s" if seconds else f"failed: {w.error}"))
    return row


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="CI mode: 2-layer base-width model, fewer sentences and rounds")
    p.add_argument("--out", default=str(ROOT / "bench" / "results.json"), help="JSON results (default: bench/results.json)")
    p.add_argument("--tiny-model", help="a trained tiny model directory (default: artifacts/bench/tiny, trained with "
                   "configs/tiny.yaml on first use)")
    p.add_argument("--default-model", help="model for the end-to-end row (default: the embedded default model)")
    p.add_argument("--also-model", action="append", default=[], metavar="LABEL=DIR",
                   help="another model for the end-to-end rows, beside the default (repeatable)")
    p.add_argument("--encoder-model", help="a trained transformer model directory to time and check for int8 agreement "
                   "(e.g. models/e5-small); default: a random camembert-base-sized model")
    p.add_argument("--sentences", type=int, help="sentences per timed round (default 384, quick 64)")
    p.add_argument("--rounds", type=int, help="interleaved timed rounds per contender (default 3, quick 2)")
    p.add_argument("--articles", type=int, help="generated articles for the end-to-end rows (default 1000, quick 100)")
    p.add_argument("--layers", type=int, help="encoder layers of the base-sized model (default 12, quick 2)")
    p.add_argument("--batch-size", type=int, default=32, help="our scorers' batch size")
    p.add_argument("--threads", type=int, help="our scorers' threads (default: physical cores)")
    p.add_argument("--work", help="working directory (default: a temporary one, removed at the end)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.sentences = args.sentences or (64 if args.quick else 384)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.layers = args.layers or (2 if args.quick else 12)
    args.articles = args.articles or (100 if args.quick else 1000)
    return args


def fmt_rate(x) -> str:
    return f"{x:,.1f}" if isinstance(x, (int, float)) else "—"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(args.worker)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.time()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="cadrage-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CADRAGE_CACHE_DIR", str(work / "cache"))
    phases: dict[str, float] = {}
    try:
        t = time.time()
        splits = corpus_splits()
        every = [r for rows in splits.values() for r in rows]
        pool = [r["text"] for r in every]
        sentences = random.Random(13).sample(pool, min(args.sentences, len(pool)))
        (work / "sentences.json").write_text(json.dumps(sentences, ensure_ascii=False), encoding="utf-8")
        test_texts = [r["text"] for r in splits["test"]]
        phases["data_s"] = time.time() - t

        t = time.time()
        if args.tiny_model:
            tiny, tiny_origin = Path(args.tiny_model), "given"
        else:
            tiny, tiny_origin = tiny_model(splits, work)
        phases["tiny_model_s"] = time.time() - t
        # A private copy: other work may rebuild the cached directory while we read it.
        shutil.copytree(tiny, work / "tiny-model")
        tiny = work / "tiny-model"
        t = time.time()
        if args.encoder_model:
            base = Path(shutil.copytree(args.encoder_model, work / "base"))
            log(f"timing the trained model {args.encoder_model}")
        else:
            base = build_base(tiny, work / "base", args.layers)
            log(f"built {base.name}: camembert-base width, {args.layers} layers, random weights")
        phases["base_model_s"] = time.time() - t

        t = time.time()
        base_fp32, base_int8, base_export = exports(base, work, "base")
        tiny_fp32, tiny_int8, tiny_export = exports(tiny, work, "tiny")
        phases["exports_s"] = time.time() - t

        t = time.time()
        agree = (measure_agreement(base, base_fp32, base_int8, test_texts) if args.encoder_model
                 else measure_agreement(tiny, tiny_fp32, tiny_int8, test_texts))
        phases["agreement_s"] = time.time() - t
        log(f"int8 vs fp32 label agreement on {len(test_texts)} test sentences: {agree['int8_vs_fp32']['labels']:.4f}")

        texts_file = str(work / "sentences.json")
        ours = {"batch_size": args.batch_size, "threads": args.threads}
        rows_spec = []
        timed_models = (("base", base, base_fp32, base_int8),) + (() if args.quick else (("tiny", tiny, tiny_fp32, tiny_int8),))
        for model_name, directory, fp32, int8 in timed_models:
            rows_spec += [
                (model_name, "pipeline", {"kind": "pipeline", "model": str(directory), "threads": args.threads}),
                (model_name, "ours_fp32", {"kind": "cadrage", "model": str(directory), **ours}),
                (model_name, "onnx_fp32", {"kind": "cadrage", "model": str(fp32), **ours}),
                (model_name, "onnx_int8", {"kind": "cadrage", "model": str(int8), **ours}),
            ]
        throughput, profiles = [], {}
        tokens = token_stats(base, sentences, args.batch_size)
        for model_name, *_ in timed_models:
            t = time.time()
            workers = [Worker(f"{m}/{c}", {**spec, "texts": texts_file}) for m, c, spec in rows_spec if m == model_name]
            log(f"timing {model_name}: {len(workers)} contenders x {args.rounds} rounds x {len(sentences)} sentences")
            profiles[model_name] = race(workers, args.rounds, profile_names=(f"{model_name}/ours_fp32",) if model_name == "base" else ())
            for w in workers:
                best = min(w.times) if w.times else None
                throughput.append({
                    "model": model_name, "contender": w.name.split("/")[1],
                    "sentences_per_s": len(sentences) / best if best else None,
                    "sentences_per_s_median": len(sentences) / statistics.median(w.times) if w.times else None,
                    "round_seconds": [round(x, 3) for x in w.times],
                    "round_cpu_seconds": [round(x, 3) for x in w.cpu_times],
                    "cpu_ms_per_sentence": 1000 * min(w.cpu_times) / len(sentences) if w.cpu_times else None,
                    "load_s": round((w.ready or {}).get("load_s", 0.0), 2),
                    "peak_rss_mb": round(w.final.get("peak_rss_mb", 0.0), 1) or None,
                    "model_rss_mb": round((w.ready or {}).get("rss_after_load_mb", 0.0) - (w.ready or {}).get("rss_before_load_mb", 0.0), 1),
                    "error": w.error,
                })
            phases[f"timing_{model_name}_s"] = time.time() - t

        t = time.time()
        e2e_models = [("tiny onnx int8", str(tiny_int8))]
        default_dir = args.default_model
        if default_dir is None:
            from cadrage.training.config import load_config
            from cadrage.training.default_model import default_model_dir

            built = ROOT / load_config(ROOT / "configs" / "default.yaml").output_dir
            if (built / "cadrage.json").is_file() or not args.quick:
                if not (built / "cadrage.json").is_file():
                    log("building the embedded default model (what the first `cadrage score` does)")
                default_dir = str(default_model_dir())
            else:
                log(f"no default model at {built} yet: end-to-end row skipped in --quick (pass --default-model DIR)")
        if default_dir is not None:
            # A private copy: the project's directory may be rebuilt by other work while we time it.
            shutil.copytree(default_dir, work / "default-model")
            # The same model without occlusion cues: what model cues cost.
            e2e_models[:0] = [("default", str(work / "default-model")),
                              ("default, lexicon cues only", str(work / "default-model"), ("--no-model-cues",))]
        for spec in args.also_model:
            label, _, directory = spec.partition("=")
            if not directory:
                raise SystemExit(f"--also-model expects LABEL=DIR, got {spec!r}")
            e2e_models.append((label, directory))
        e2e = [end_to_end(*spec[:2], every, work, args.articles, *spec[2:]) for spec in e2e_models]
        phases["end_to_end_s"] = time.time() - t
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)

    rate = {(r["model"], r["contender"]): r["sentences_per_s"] for r in throughput}
    base_rate = lambda c: rate.get(("base", c))  # noqa: E731
    ratio = lambda a, b: (a / b) if a and b else float("nan")  # noqa: E731
    summary = {
        # the best shipped runtime (ONNX Runtime int8) against transformers.pipeline fp32
        "speedup_vs_pipeline": ratio(base_rate("onnx_int8"), base_rate("pipeline")),
        "ours_fp32_vs_pipeline": ratio(base_rate("ours_fp32"), base_rate("pipeline")),
        "int8_vs_fp32": ratio(base_rate("onnx_int8"), base_rate("ours_fp32")),
        "int8_agreement": agree["int8_vs_fp32"]["labels"],
        "onnx_fp32_vs_pipeline": ratio(base_rate("onnx_fp32"), base_rate("pipeline")),
        "onnx_int8_vs_pipeline": ratio(base_rate("onnx_int8"), base_rate("pipeline")),
        "onnx_int8_vs_onnx_fp32": ratio(base_rate("onnx_int8"), base_rate("onnx_fp32")),
    }
    import numpy
    import onnxruntime
    import torch
    import transformers

    results = {
        "mode": "quick" if args.quick else "full",
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
                    "onnxruntime": onnxruntime.__version__, "numpy": numpy.__version__, "torch_threads": torch.get_num_threads()},
        "setup": {"sentences": len(sentences), "rounds": args.rounds, "base_layers": args.layers, "batch_size": args.batch_size,
                  "encoder_model": args.encoder_model,
                  "threads": args.threads, "tiny_model": f"{args.tiny_model or TINY_CACHE} ({tiny_origin})",
                  "timing": "best of interleaved rounds; each contender in its own process",
                  "exports": {"base": base_export, "tiny": tiny_export}},
        "throughput": throughput,
        "tokens": tokens,
        "profile": profiles.get("base", {}),
        "agreement": agree,
        "end_to_end": e2e,
        "summary": summary,
        "targets": TARGETS,
        "phases_s": {k: round(v, 1) for k, v in phases.items()},
        "total_s": round(time.time() - started, 1),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    print(render(results))
    print(f"speedup_vs_pipeline={summary['speedup_vs_pipeline']:.2f} int8_vs_fp32={summary['int8_vs_fp32']:.2f} "
          f"int8_agreement={summary['int8_agreement']:.3f}")
    return 0


def render(results: dict) -> str:
    s = results["setup"]
    lines = [f"cadrage scoring benchmark ({results['mode']}): {s['sentences']} sentences, best of {s['rounds']} interleaved rounds, "
             f"{results['machine']['cores']} cores, torch {results['machine']['torch']}, onnxruntime {results['machine']['onnxruntime']}",
             "",
             f"{'model':<18} {'contender':<22} {'sent/s':>9} {'median':>9} {'x pipeline':>10} {'CPU ms/sent':>11} {'peak RSS MB':>12} {'load s':>7}"]
    names = {"pipeline": "transformers pipeline", "ours_fp32": "ours fp32 (torch)", "onnx_fp32": "ONNX Runtime fp32",
             "onnx_int8": "ONNX Runtime int8"}
    base_label = Path(s["encoder_model"]).name if s.get("encoder_model") else f"base ({s['base_layers']}L, random)"
    for r in results["throughput"]:
        pipe = next((x["sentences_per_s"] for x in results["throughput"] if x["model"] == r["model"] and x["contender"] == "pipeline"), None)
        x = f"{r['sentences_per_s'] / pipe:.2f}" if r["sentences_per_s"] and pipe else "—"
        lines.append(f"{base_label if r['model'] == 'base' else 'tiny (trained)':<18} {names[r['contender']]:<22} "
                     f"{fmt_rate(r['sentences_per_s']):>9} {fmt_rate(r['sentences_per_s_median']):>9} {x:>10} "
                     f"{fmt_rate(r.get('cpu_ms_per_sentence')):>11} "
                     f"{fmt_rate(r['peak_rss_mb']):>12} {r['load_s']:>7.1f}" + (f"  ERROR {r['error']}" if r["error"] else ""))
    tk = results.get("tokens") or {}
    if tk:
        lines += ["", f"tokens: {tk['real_tokens']} real (mean {tk['mean_tokens']}, p95 {tk['p95_tokens']}, max {tk['max_tokens']} per sentence); "
                  f"padded to each batch's longest: {tk['pipeline_padded_tokens']} in input order (pipeline), "
                  f"{tk['sorted_padded_tokens']} length-sorted (ours): padding alone is worth {tk['padding_ratio_pipeline_vs_sorted']:.2f}x"]
    pr = (results.get("profile") or {}).get("base/ours_fp32") or {}
    if pr.get("self_cpu_share"):
        share = ", ".join(f"{k} {v:.0%}" for k, v in pr["self_cpu_share"].items() if v >= 0.005)
        lines.append(f"profile of ours fp32 on the base model (96 sentences): tokenization {pr.get('tokenize_s', 0) * 1000:.0f} ms of "
                     f"{pr['pass_s']:.1f} s; model self CPU time: {share}")
    a = results["agreement"]
    i8 = a["int8_vs_fp32"]
    lines += ["", f"agreement on the authored test split ({i8['n_sentences']} sentences, "
              f"{Path(s['encoder_model']).name if s.get('encoder_model') else 'trained tiny model'}, thresholded):",
              f"  int8 vs fp32: labels {i8['labels']:.4f} (loaded {i8['loaded']:.4f}, techniques {i8['techniques']:.4f}, "
              f"stance {i8['stance']:.4f}, voice {i8['voice']:.4f}); sentences with every label equal {i8['sentences_all_labels']:.4f}",
              f"  ONNX fp32 vs PyTorch fp32: labels {a['onnx_fp32_vs_fp32']['labels']:.4f}; max |prob diff| "
              f"fp32 {a['max_abs_prob_diff']['onnx_fp32']:.1e}, int8 {a['max_abs_prob_diff']['onnx_int8']:.3f}", ""]
    lines.append("end to end (cadrage score: ingestion, scoring, JSONL):")
    for e in results["end_to_end"]:
        lines.append(f"  {e['model']} ({e['backend']}): {e['articles']} articles, {e['sentences']} sentences: "
                     f"{fmt_rate(e['articles_per_s'])} articles/s ({fmt_rate(e['sentences_per_s'])} sentences/s) in "
                     f"{fmt_rate(e['seconds'])}s, model loading included; marginal {fmt_rate(e['marginal_articles_per_s'])} articles/s "
                     f"(fixed {fmt_rate(e['per_call_fixed_s'])}s per call); peak RSS {fmt_rate(e['peak_rss_mb'])} MB"
                     + (f"  ERROR {e['error']}" if e["error"] else ""))
    if not any(e["model"] == "default" for e in results["end_to_end"]):
        lines.append("  default: skipped (no default model built yet; --quick does not build it)")
    sm, tg = results["summary"], results["targets"]
    check = lambda k: "ok" if sm[k] >= tg[k] else "below target"  # noqa: E731
    lines += ["", f"targets: ONNX int8 {sm['speedup_vs_pipeline']:.2f}x pipeline (>= {tg['speedup_vs_pipeline']}: {check('speedup_vs_pipeline')}); "
              f"ours fp32 {sm['ours_fp32_vs_pipeline']:.2f}x pipeline; int8 {sm['int8_vs_fp32']:.2f}x ours fp32 (>= {tg['int8_vs_fp32']}: {check('int8_vs_fp32')}); "
              f"agreement {sm['int8_agreement']:.4f} (>= {tg['int8_agreement']}: {check('int8_agreement')})",
              f"total {results['total_s']:.0f}s; phases {results['phases_s']}"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
