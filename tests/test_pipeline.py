"""dvc.yaml: prepare → train → evaluate runs offline, is cached, and re-runs only what a
parameter change affects. Runs on a copy of the project in a temporary git repository."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

pytestmark = pytest.mark.slow


def sh(cmd: list[str], cwd: Path, env: dict) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, dict]:
    repo = tmp_path_factory.mktemp("pipeline") / "cadrage"
    tracked = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for rel in filter(None, tracked.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / rel)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"] = {
        "config": "configs/tiny.yaml", "output_dir": "models/pipeline",
        "model": {"tiny": {"vocab_size": 800}, "max_length": 64},
        "training": {"epochs": 1, "batch_size": 32, "learning_rate": 0.0005},
        "tracking": {"register": False},
    }
    params["evaluate"] = {"bootstrap": 20, "seed": 13}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               MLFLOW_TRACKING_URI=f"sqlite:///{repo.parent / 'mlflow.db'}", GIT_AUTHOR_NAME="t",
               GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        sh(cmd, repo, env)
    return repo, env


def ran(output: str) -> set[str]:
    return {stage for stage in ("prepare", "train", "evaluate") if f"Running stage '{stage}'" in output}


def test_repro_runs_end_to_end_then_is_cached_then_reruns_only_affected_stages(project):
    repo, env = project
    dvc = [sys.executable, "-m", "dvc"]
    first = sh(dvc + ["repro"], repo, env)
    assert ran(first) == {"prepare", "train", "evaluate"}
    eval_dir = repo / "artifacts" / "pipeline" / "eval"
    assert (eval_dir / "metrics.json").is_file() and (eval_dir / "headline.json").is_file()
    assert list((eval_dir / "plots").glob("*.png"))
    shown = sh(dvc + ["metrics", "show"], repo, env)
    assert "loaded_f1" in shown
    assert "file://" in sh(dvc + ["plots", "show"], repo, env) or (repo / "dvc_plots" / "index.html").exists()

    again = sh(dvc + ["repro"], repo, env)
    assert ran(again) == set()

    sh(["git", "add", "-A"], repo, env)
    sh(["git", "commit", "-qm", "first repro"], repo, env)
    changed = sh(dvc + ["exp", "run", "-S", "train.training.learning_rate=0.001"], repo, env)
    assert ran(changed) == {"train", "evaluate"}
    assert "Stage 'prepare' didn't change" in changed


def test_train_stage_records_dvc_params_and_git_revision(project):
    from mlflow import MlflowClient

    from cadrage import tracking

    repo, env = project
    tracking.setup(env["MLFLOW_TRACKING_URI"])
    runs = MlflowClient().search_runs(MlflowClient().get_experiment_by_name("cadrage").experiment_id)
    trained = [r for r in runs if "dvc.train.config" in r.data.params]
    assert trained, "no training run recorded the DVC params"
    assert trained[0].data.params["dvc.train.config"] == "configs/tiny.yaml"
    assert len(trained[0].data.tags["git_revision"]) == 40
