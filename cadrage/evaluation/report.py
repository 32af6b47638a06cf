"""Evaluation outputs: metrics.json, meta.json, report.md, plots/*.png, errors.jsonl and, for
SemEval data, subtask3/<model>.txt submission files. The layout is documented in eval/README.md."""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from cadrage.evaluation.core import HEADLINE, Evaluation, Gold, clean
from cadrage.io import atomic_output
from cadrage.metrics import ECE_BINS
from cadrage.semeval import write_subtask3

SCHEMA_VERSION = 1


def key(name: Any) -> str:
    """A metrics.json key: DVC flattens nested keys with '.', so dots and other punctuation in
    names (a source domain, say) become '_'."""
    return re.sub(r"[^\w\- ]+", "_", str(name)).strip() or "_"


def _rekey(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {key(k): _rekey(v) for k, v in obj.items()}
    return obj


def file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "model"


def data_summary(gold: Gold) -> dict:
    rows = gold.rows
    return {
        "n_rows": gold.n,
        "n_articles": len({r["article_id"] for r in rows}),
        "n_loaded_labelled": int(gold.loaded_mask.sum()),
        "n_loaded_positive": int(gold.loaded[gold.loaded_mask].sum()),
        "n_author_loaded_positive": int(gold.author_loaded[gold.author_mask].sum()),
        "n_technique_labelled": int(gold.technique_mask.sum()),
        "n_stance_labelled": sum(r["stance"] is not None for r in rows),
        "n_voice_labelled": sum(r["voice"] is not None for r in rows),
        "n_cue_labelled": int(gold.cue_mask.sum()),
        "n_hard_negative": sum(h is not None for h in gold.hard_negative),
    }


def metrics_document(evaluations: list[Evaluation], gold: Gold, settings: dict) -> dict:
    """The metrics.json content: numeric leaves (or null when undefined) only."""
    models = {}
    for ev in evaluations:
        block = {"headline": ev.headline, **{k: v for k, v in ev.metrics.items()}}
        models[key(ev.model.name)] = _rekey(block)
    return clean({"schema_version": SCHEMA_VERSION, "settings": settings, "data": data_summary(gold), "models": models})


def meta_document(evaluations: list[Evaluation], data, settings: dict) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "data": {"path": str(data.path), "format": data.format, "tag": data.tag},
        "settings": settings,
        "models": {
            ev.model.name: {
                "source": ev.model.source,
                "backend": ev.model.backend,
                "is_baseline": ev.model.is_baseline,
                "mlflow_run_id": ev.model.run_id,
                "model_dir": str(ev.model.model.path),
                "techniques": list(ev.model.model.schema.techniques),
                "labels": ev.labels,
            }
            for ev in evaluations
        },
    }


def _write_json(path: Path, obj: Any) -> None:
    with atomic_output(path) as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


def _savefig(fig, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_plots(evaluations: list[Evaluation], gold: Gold, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, precision_recall_curve

    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    written = []
    mL = gold.loaded_mask
    y = gold.loaded[mL]

    fig, ax = plt.subplots(figsize=(6, 5))
    for ev in evaluations:
        if y.sum() > 0:
            precision, recall, _ = precision_recall_curve(y, ev.predicted.loaded_prob[mL])
            ap = ev.metrics["loaded"].get("pr_auc")
            ax.step(recall, precision, where="post", label=f"{ev.model.name} (AP {ap:.3f})" if ap is not None else ev.model.name,
                    linestyle="--" if ev.model.is_baseline else "-")
    if len(y):
        ax.axhline(y.mean(), color="grey", linewidth=0.8, linestyle=":", label=f"positive rate {y.mean():.2f}")
    ax.set(xlabel="recall", ylabel="precision", title="loaded: precision-recall", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower left", fontsize=8)
    _savefig(fig, plots / "loaded_pr_curve.png")
    plt.close(fig)
    written.append(plots / "loaded_pr_curve.png")

    fig, (ax, hist) = plt.subplots(2, 1, figsize=(6, 7), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle=":", label="perfect calibration")
    centers = (np.arange(ECE_BINS) + 0.5) / ECE_BINS
    width = 1 / ECE_BINS / max(len(evaluations), 1)
    for k, ev in enumerate(evaluations):
        r = ev.reliability
        if not r:
            continue
        mean_p, frac = np.array(r["mean_predicted"], dtype=float), np.array(r["fraction_positive"], dtype=float)
        ok = ~np.isnan(mean_p)
        ece = ev.metrics["loaded"].get("ece")
        ax.plot(mean_p[ok], frac[ok], marker="o", label=f"{ev.model.name} (ECE {ece:.3f})" if ece is not None else ev.model.name,
                linestyle="--" if ev.model.is_baseline else "-")
        hist.bar(centers - 0.5 / ECE_BINS + (k + 0.5) * width, r["count"], width=width, label=ev.model.name)
    ax.set(ylabel="fraction of loaded sentences", title=f"loaded: reliability diagram ({ECE_BINS} equal-width bins)", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left", fontsize=8)
    hist.set(xlabel="predicted probability", ylabel="sentences")
    _savefig(fig, plots / "loaded_reliability.png")
    plt.close(fig)
    written.append(plots / "loaded_reliability.png")

    for ev in evaluations:
        for head in ("stance", "voice"):
            block = ev.metrics.get(head, {})
            if "confusion" not in block:
                continue
            labels = list(block["confusion"])
            cm = np.array([[block["confusion"][g][p] for p in labels] for g in labels])
            fig, ax = plt.subplots(figsize=(4.5, 4))
            ConfusionMatrixDisplay(cm, display_labels=labels).plot(ax=ax, colorbar=False, cmap="Blues")
            ax.set(title=f"{ev.model.name}: {head}", xlabel="predicted", ylabel="gold")
            path = plots / f"confusion_{head}_{file_name(ev.model.name)}.png"
            _savefig(fig, path)
            plt.close(fig)
            written.append(path)
    return written


def error_records(ev: Evaluation, gold: Gold, limit: int) -> list[dict]:
    """The worst false positives (highest loaded probability) and false negatives (lowest), for
    the author-voice loaded flag and for the loaded head."""
    rows, pred = gold.rows, ev.predicted
    schema = ev.model.model.schema
    out = []
    targets = (
        ("author_loaded", gold.author_mask, gold.author_loaded, pred.author_loaded_pred),
        ("loaded", gold.loaded_mask, gold.loaded, pred.loaded_pred),
    )
    for target, mask, y, d in targets:
        fp = np.flatnonzero(mask & (y == 0) & d)
        fn = np.flatnonzero(mask & (y == 1) & ~d)
        fp = fp[np.argsort(-pred.loaded_prob[fp], kind="stable")][:limit]
        fn = fn[np.argsort(pred.loaded_prob[fn], kind="stable")][:limit]
        for kind, idx in (("false_positive", fp), ("false_negative", fn)):
            for rank, i in enumerate(idx, 1):
                r, s = rows[i], pred.scored[i]
                out.append({
                    "model": ev.model.name, "target": target, "kind": kind, "rank": rank,
                    "id": r["id"], "article_id": r["article_id"], "topic": r.get("topic"), "source": r.get("source"),
                    "hard_negative": r.get("hard_negative"), "text": r["text"],
                    "score": round(float(pred.loaded_prob[i]), 6), "threshold": pred.loaded_threshold,
                    "gold": {"loaded": r["loaded"], "voice": r["voice"], "stance": r["stance"], "techniques": r["techniques"]},
                    "predicted": {"loaded": bool(pred.loaded_pred[i]), "voice": s["voice"],
                                  "stance": schema.stance_labels[int(pred.stance_prob[i].argmax())],
                                  "techniques": s["techniques"], "cues": [c["text"] for c in s["cues"]]},
                })
    return out


def write_errors(evaluations: list[Evaluation], gold: Gold, out: Path, limit: int) -> Path:
    path = out / "errors.jsonl"
    with atomic_output(path) as f:
        for ev in evaluations:
            for rec in error_records(ev, gold, limit):
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


# ------------------------------------------------------------------------------------------
# report.md
# ------------------------------------------------------------------------------------------
def fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    return f"{float(x):.{digits}f}"


def fmt_ci(h: dict) -> str:
    if h.get("value") is None:
        return "–"
    if h.get("ci_low") is None:
        return fmt(h["value"])
    return f"{fmt(h['value'])} [{fmt(h['ci_low'])}, {fmt(h['ci_high'])}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines + [""]


def comparison_table(evaluations: list[Evaluation]) -> list[str]:
    keys = [k for k, _ in HEADLINE if any(ev.headline[k]["value"] is not None for ev in evaluations)]
    header = ["model"] + [dict(HEADLINE)[k] for k in keys]
    rows = [[ev.model.name + (" (reference)" if ev.model.is_baseline else "")] + [fmt_ci(ev.headline[k]) for k in keys]
            for ev in evaluations]
    return _table(header, rows)


def report_markdown(evaluations: list[Evaluation], gold: Gold, data, settings: dict, plots: list[Path], out: Path) -> str:
    d = data_summary(gold)
    L: list[str] = [f"# Evaluation on `{data.path}`", ""]
    L += [f"{d['n_rows']} rows in {d['n_articles']} articles ({data.format}); {d['n_loaded_labelled']} with a `loaded` label "
          f"({d['n_loaded_positive']} loaded, {d['n_author_loaded_positive']} author-voice loaded), {d['n_technique_labelled']} with "
          f"techniques, {d['n_stance_labelled']} with stance, {d['n_voice_labelled']} with voice, {d['n_cue_labelled']} with cue "
          f"spans, {d['n_hard_negative']} hard negatives.", ""]
    L += ["## Comparison", "",
          f"Point estimate [95 % bootstrap interval: {settings['bootstrap']} resamples of articles, seed {settings['seed']}]. "
          "`hard-negative FPR` is the share of hard negatives (quoted loaded words, literal uses of trigger words, strong but "
          "factual descriptions) flagged as author-voice loaded: lower is better. `loaded ECE`: lower is better. "
          "The lexicon baseline is the reference row.", ""]
    L += comparison_table(evaluations)

    L += ["## Models", ""]
    L += _table(["model", "source", "backend", "MLflow run", "loaded threshold"],
                [[ev.model.name, f"`{ev.model.source}`", ev.model.backend, ev.model.run_id or "–", fmt(ev.predicted.loaded_threshold)]
                 for ev in evaluations])

    mismatch = []
    for ev in evaluations:
        for head, lab in ev.labels.items():
            if lab["missing_from_data"] or lab["extra_in_data"]:
                mismatch.append([ev.model.name, head, ", ".join(lab["missing_from_data"]) or "–", ", ".join(lab["extra_in_data"]) or "–",
                                 str(len(lab["evaluated"]))])
    unlabelled = sorted({head for ev in evaluations for head, lab in ev.labels.items() if not lab.get("labelled", True)})
    if unlabelled:
        L += [f"The data carries no {' / '.join(unlabelled)} labels; those heads are not evaluated.", ""]
    if mismatch:
        L += ["## Label mismatch", "",
              "Labels of the model that no row of the data carries (`missing from data`: no support, left out of macro "
              "averages) and labels the data uses that the model does not predict (`extra in data`: ignored; `loaded` "
              "still counts them). Metrics are computed on the overlap.", ""]
        L += _table(["model", "head", "missing from data", "extra in data", "evaluated labels"], mismatch)

    L += ["## Loaded", ""]
    L += _table(["model", "n", "precision", "recall", "F1", "accuracy", "PR-AUC", "ROC-AUC", "ECE", "Brier"],
                [[ev.model.name] + [fmt(ev.metrics["loaded"].get(k)) for k in ("n", "precision", "recall", "f1", "accuracy", "pr_auc", "roc_auc", "ece", "brier")]
                 for ev in evaluations])
    L += ["## Author-voice loaded (the product's flag)", ""]
    L += _table(["model", "n", "support", "precision", "recall", "F1", "FPR", "hard-negative FPR"],
                [[ev.model.name] + [fmt(ev.metrics["author_loaded"].get(k)) for k in ("n", "support", "precision", "recall", "f1", "fpr", "hard_negative_fpr")]
                 for ev in evaluations])

    kinds = sorted({k for ev in evaluations for k in ev.metrics["slices"]["hard_negative"]}, key=lambda k: (k == "all", k))
    if kinds:
        L += ["### Hard negatives", "", "Share flagged as author-voice loaded (FPR), share predicted loaded, share given reported voice.", ""]
        L += _table(["kind", "n"] + [f"{ev.model.name}: FPR / loaded / reported" for ev in evaluations],
                    [[k, fmt(evaluations[0].metrics["slices"]["hard_negative"][k]["n"])] +
                     [" / ".join(fmt(ev.metrics["slices"]["hard_negative"][k].get(f)) for f in ("author_loaded_fpr", "loaded_rate", "reported_voice_rate"))
                      for ev in evaluations] for k in kinds])

    L += ["## Techniques", "", "Precision / recall / F1 per technique (support = gold examples). Micro and macro F1 are over the "
          "evaluated techniques (model techniques with at least one gold example).", ""]
    L += _table(["model", "micro-P", "micro-R", "micro-F1", "macro-P", "macro-R", "macro-F1"],
                [[ev.model.name] + [fmt(ev.metrics["techniques"].get(k)) for k in ("micro_precision", "micro_recall", "micro_f1", "macro_precision", "macro_recall", "macro_f1")]
                 for ev in evaluations])
    all_t = list(dict.fromkeys(t for ev in evaluations for t in ev.metrics["techniques"].get("per_label", {})))
    if all_t:
        rows = []
        for t in all_t:
            support = next((ev.metrics["techniques"]["per_label"][t]["support"] for ev in evaluations if t in ev.metrics["techniques"].get("per_label", {})), None)
            cells = []
            for ev in evaluations:
                pl = ev.metrics["techniques"].get("per_label", {}).get(t)
                cells.append(" / ".join(fmt(pl[k], 2) for k in ("precision", "recall", "f1")) if pl else "–")
            rows.append([t, fmt(support)] + cells)
        L += _table(["technique", "support"] + [f"{ev.model.name} P / R / F1" for ev in evaluations], rows)

    for head in ("stance", "voice"):
        L += [f"## {head.capitalize()}", ""]
        extra = ["model-head accuracy"] if head == "voice" else []
        L += _table(["model", "n", "accuracy", "macro-F1"] + extra,
                    [[ev.model.name] + [fmt(ev.metrics[head].get(k)) for k in ("n", "accuracy", "macro_f1")] +
                     ([fmt(ev.metrics[head].get("model_head_accuracy"))] if head == "voice" else []) for ev in evaluations])
        if head == "voice":
            L += ["The voice evaluated is the product's final decision (model head combined with the rule layer and the "
                  "cue positions, as `cadrage score` outputs it); the model head alone is shown for reference.", ""]
        for ev in evaluations:
            cm = ev.metrics[head].get("confusion")
            if cm:
                labels = list(cm)
                L += [f"{ev.model.name} (rows: gold, columns: predicted)", ""]
                L += _table([""] + labels, [[g] + [str(cm[g][p]) for p in labels] for g in labels])

    if any(ev.metrics["cues"]["n"] for ev in evaluations):
        L += ["## Cue spans", "", "Token-level overlap between gold cue spans and the highlighted cues (word tokens; a token counts "
              "when it overlaps a span), over rows with gold cues.", ""]
        L += _table(["model", "rows", "token precision", "token recall", "token F1"],
                    [[ev.model.name] + [fmt(ev.metrics["cues"].get(k)) for k in ("n", "token_precision", "token_recall", "token_f1")]
                     for ev in evaluations])

    if any("semeval" in ev.metrics for ev in evaluations):
        L += ["## SemEval-2023 Task 3, subtask 3", "",
              "Scored as the task's scorer does (paragraphs, the full 23-technique list, scikit-learn F1 with zero_division=1), "
              "so the figures compare with the published leaderboard. Predictions are in `subtask3/`. Each paragraph is scored "
              "as one text.", ""]
        L += _table(["model", "paragraphs", "micro-F1", "macro-F1"],
                    [[ev.model.name] + [fmt(ev.metrics["semeval"].get(k)) for k in ("n", "micro_f1", "macro_f1")]
                     for ev in evaluations if "semeval" in ev.metrics])

    for slice_key, title in (("topic", "Per topic"), ("source", "Per source")):
        values = list(dict.fromkeys(v for ev in evaluations for v in ev.metrics["slices"].get(slice_key, {})))
        if not values:
            continue
        L += [f"## {title}", "", "loaded F1 / author-voice loaded FPR per model.", ""]
        L += _table([slice_key, "n", "loaded"] + [ev.model.name for ev in evaluations],
                    [[v, fmt(evaluations[0].metrics["slices"][slice_key][v]["n"]), fmt(evaluations[0].metrics["slices"][slice_key][v]["loaded_support"])] +
                     [" / ".join(fmt(ev.metrics["slices"][slice_key].get(v, {}).get(f)) for f in ("loaded_f1", "author_loaded_fpr"))
                      for ev in evaluations] for v in values])

    if plots:
        L += ["## Plots", ""] + [f"![{p.stem}]({p.relative_to(out).as_posix()})" for p in plots] + [""]
    L += ["## Definitions", "",
          "- Every metric uses only the rows that carry the label in question.",
          "- `loaded`: thresholded calibrated probability (threshold tuned on dev, in the model card); PR-AUC is average precision.",
          f"- ECE: {ECE_BINS} equal-width bins of the loaded probability, bin k = [k/{ECE_BINS}, (k+1)/{ECE_BINS}) (the last bin "
          "includes 1); ECE = sum over bins of (bin size / N) x |fraction loaded - mean predicted probability|.",
          "- Intervals: percentile bootstrap over articles (all sentences of a drawn article come together), the same "
          "resamples for every model; NaN replicates (e.g. no hard negative drawn) are dropped.",
          "- Author-voice loaded: gold = `loaded` 1 and `voice` author; predicted = loaded above threshold and the final voice "
          "`author`.",
          "- The lexicon baseline flags a sentence with at least one lexicon match outside quotations and attributed speech "
          "(see models/lexicon_baseline.py); its probabilities are a fixed monotone map, not calibrated.", ""]
    return "\n".join(L)


def _remove_stale(out: Path) -> None:
    """Drop the plots and submission files of an earlier evaluation into the same folder, so
    that a model no longer compared leaves nothing behind. Only files eval writes are touched."""
    for pattern in ("plots/loaded_*.png", "plots/confusion_*.png", "subtask3/*.txt"):
        for path in out.glob(pattern):
            path.unlink()


def write_skipped(out: Path, reason: str) -> None:
    """metrics.json and headline.json of an evaluation that could not run, with the reason."""
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    _write_json(out / "metrics.json", {"schema_version": SCHEMA_VERSION, "skipped": reason})
    _write_json(out / "headline.json", {})


def write_outputs(evaluations: list[Evaluation], gold: Gold, data, settings: dict, out: Path, error_limit: int = 25) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    files: dict[str, Path] = {}
    files["metrics"] = out / "metrics.json"
    _write_json(files["metrics"], metrics_document(evaluations, gold, settings))
    # The few headline figures alone, so that `dvc metrics show` prints a table a person reads.
    files["headline"] = out / "headline.json"
    _write_json(files["headline"], clean({key(ev.model.name): {k: v["value"] for k, v in ev.headline.items()} for ev in evaluations}))
    files["meta"] = out / "meta.json"
    _write_json(files["meta"], clean(meta_document(evaluations, data, settings)))
    files["errors"] = write_errors(evaluations, gold, out, error_limit)
    plots = write_plots(evaluations, gold, out)
    if any(ev.semeval_predictions is not None for ev in evaluations):
        for ev in evaluations:
            if ev.semeval_predictions is not None:
                files[f"subtask3:{ev.model.name}"] = write_subtask3(out / "subtask3" / f"{file_name(ev.model.name)}.txt", ev.semeval_predictions)
    files["report"] = out / "report.md"
    with atomic_output(files["report"]) as f:
        f.write(report_markdown(evaluations, gold, data, settings, plots, out))
    for p in plots:
        files[f"plot:{p.name}"] = p
    return files
