"""The embedded default model: the README's main command, and what it does on the real seeds
(tests skip cleanly without ../shared/seeds)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    import os

    tmp = tmp_path_factory.mktemp("default-model")
    # Builds (first time) and registers the default model in a throw-away registry.
    return dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp / 'mlflow.db'}")


def cadrage(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "cadrage"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1200)


def test_readme_main_command_writes_the_report(env, tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "bash scripts/setup.sh && .venv/bin/cadrage score samples/ --out report.html" in readme
    out = tmp_path / "report.html"
    done = cadrage(["score", "samples/", "--out", str(out)], env)
    assert done.returncode == 0, done.stderr[-2000:]
    html = out.read_text(encoding="utf-8")
    assert "lecourrierboreal.example" in html and "(source inconnue)" in html
    assert re.search(r"\d+ articles \(0 failed\)", done.stderr)


@pytest.fixture(scope="module")
def seeds_scored(env, tmp_path_factory) -> tuple[list[dict], dict[str, dict], Path]:
    out = tmp_path_factory.mktemp("seeds") / "seeds.jsonl"
    done = cadrage(["score", str(SEEDS), "--out", str(out), "--quiet"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    articles = {}
    for line in out.with_name("seeds.articles.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        articles[Path(record["path"]).name[:4]] = record
    return rows, articles, out


def seed_raw(prefix: str) -> str:
    return next(p for p in SEEDS.iterdir() if p.name.startswith(prefix)).read_text(encoding="utf-8")


def author_loaded_with_cue(rows: list[dict], seed: str, find) -> dict:
    hit = [r for r in rows if Path(r["article_id"]).name.startswith(seed) and find(r["text"])]
    assert len(hit) == 1, [r["text"][:60] for r in hit]
    assert hit[0]["author_loaded"] and hit[0]["voice"] == "author", hit[0]
    return hit[0]


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is absent")
def test_the_hysteria_sentence_is_author_loaded_with_its_cue(seeds_scored):
    rows, _, _ = seeds_scored
    # The sentence glued after "Kiev" in the raw seed 003 (located at run time, not copied).
    glued = re.search(r"Kiev(L\S+ \S+ \S+)", seed_raw("003_")).group(1)
    hit = author_loaded_with_cue(rows, "003_", lambda text: text.startswith(glued))
    assert any(c["text"].lower().startswith("hyst") for c in hit["cues"])


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is absent")
def test_the_feigned_fear_sentence_is_author_loaded_with_its_cue(seeds_scored):
    rows, _, _ = seeds_scored
    hit = author_loaded_with_cue(rows, "003_", lambda text: "feignant" in text)
    assert any("feignant" in c["text"] and c["technique"] == "Doubt" for c in hit["cues"])


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is absent")
def test_seed_003_has_the_highest_author_loaded_share(seeds_scored):
    _, articles, _ = seeds_scored
    share = {k: a["author_loaded_share"] for k, a in articles.items()}
    for other in ("001_", "002_", "004_"):
        assert share["003_"] > share[other], share


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is absent")
def test_sources_from_urls_and_the_unknown_source(seeds_scored):
    _, articles, out = seeds_scored
    sources = out.with_name("seeds.sources.csv").read_text(encoding="utf-8-sig")
    assert "fr.sputniknews.com" in sources and "(source inconnue)" in sources
    assert articles["003_"]["source"] == "fr.sputniknews.com"
    assert {articles[k]["source"] for k in ("001_", "002_", "004_")} == {"(source inconnue)"}
