"""Inter-annotator agreement between the corpus labels and a blind second annotation.

    python -m cadrage.agreement [--blind data/agreement/blind_annotations.jsonl] [--out data/agreement/agreement.json]

Cohen's kappa (scikit-learn) for `loaded`, `stance`, `voice` and each technique; for
techniques also the positive specific agreement (2·both / (n_a + n_b)), which stays meaningful
for rare labels where kappa is unstable. Disagreements go to a JSONL file for adjudication."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from cadrage.io import atomic_output
from cadrage.paths import ROOT
from cadrage.prepare import load_corpus
from cadrage.schema import load_schema_file

FOLDER = ROOT / "data" / "agreement"


def _kappa(a: list, b: list) -> float | None:
    if len(set(a) | set(b)) < 2:
        return None
    return round(float(cohen_kappa_score(a, b)), 4)


def agreement(first: dict[str, dict], second: list[dict], techniques: list[str]) -> dict:
    """Agreement figures between first-pass rows (by id) and second-pass rows."""
    missing = [r["id"] for r in second if r["id"] not in first]
    if missing:
        raise ValueError(f"blind annotation ids not in the corpus: {missing[:5]}")
    pairs = [(first[r["id"]], r) for r in second]
    out: dict = {"n": len(pairs), "kappa": {}, "raw_agreement": {}, "techniques": {}}
    for key in ("loaded", "stance", "voice"):
        a = [str(x[key]) for x, _ in pairs]
        b = [str(y[key]) for _, y in pairs]
        out["kappa"][key] = _kappa(a, b)
        out["raw_agreement"][key] = round(sum(i == j for i, j in zip(a, b)) / len(a), 4)
    a_av = [int(x["loaded"] == 1 and x["voice"] == "author") for x, _ in pairs]
    b_av = [int(y["loaded"] == 1 and y["voice"] == "author") for _, y in pairs]
    out["kappa"]["author_voice_loaded"] = _kappa(a_av, b_av)
    for t in techniques:
        a = [int(t in (x["techniques"] or [])) for x, _ in pairs]
        b = [int(t in (y["techniques"] or [])) for _, y in pairs]
        both = sum(i and j for i, j in zip(a, b))
        if sum(a) + sum(b) == 0:
            continue
        out["techniques"][t] = {
            "first": sum(a), "second": sum(b), "both": both,
            "positive_agreement": round(2 * both / (sum(a) + sum(b)), 4),
            "kappa": _kappa(a, b),
        }
    return out


def disagreements(first: dict[str, dict], second: list[dict]) -> list[dict]:
    rows = []
    for r in second:
        f = first[r["id"]]
        diff = [k for k in ("loaded", "stance", "voice") if f[k] != r[k]]
        if set(f["techniques"] or []) != set(r["techniques"] or []):
            diff.append("techniques")
        if diff:
            rows.append({"id": r["id"], "text": f["text"], "fields": diff,
                         "first": {k: f[k] for k in ("loaded", "techniques", "stance", "voice")},
                         "second": {k: r[k] for k in ("loaded", "techniques", "stance", "voice")}})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cadrage.agreement", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(ROOT / "data" / "authored"))
    parser.add_argument("--blind", default=str(FOLDER / "blind_annotations.jsonl"))
    parser.add_argument("--out", default=str(FOLDER / "agreement.json"))
    parser.add_argument("--stage", default="after_adjudication", choices=("before_adjudication", "after_adjudication"),
                        help="which entry of the output file these figures fill")
    args = parser.parse_args(argv)
    first = {r["id"]: r for r in load_corpus(args.corpus)}
    with open(args.blind, encoding="utf-8") as f:
        second = [json.loads(line) for line in f if line.strip()]
    figures = agreement(first, second, load_schema_file()["techniques"])
    out_path = Path(args.out)
    report = json.loads(out_path.read_text(encoding="utf-8")) if out_path.exists() else {}
    report[args.stage] = figures
    report["kappa"] = report.get("after_adjudication", figures)["kappa"]
    with atomic_output(out_path) as f:
        json.dump(report, f, ensure_ascii=False, indent=2)
    with atomic_output(out_path.with_name(f"disagreements_{args.stage}.jsonl")) as f:
        for row in disagreements(first, second):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(json.dumps(figures["kappa"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
