"""`cadrage serve`: the registered model behind MLflow's scoring server (REST, POST /invocations).

A thin wrapper over `mlflow models serve -m MODEL --env-manager local -h HOST -p PORT` that
points MLflow at the project's registry (or --tracking-uri / MLFLOW_TRACKING_URI), checks that
the model URI resolves before starting, and puts this environment's executables (uvicorn) on
PATH. The request contract is in cadrage.serving and the README's "Serving" section."""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from cadrage import tracking as tr
from cadrage.models.artifacts import ModelLoadError
from cadrage.models.loading import load_model
from cadrage.tracking import tracking_uri

DEFAULT_MODEL = "models:/cadrage@champion"
DEFAULT_TIMEOUT = 60
BUDGET_ENV = "CADRAGE_REQUEST_BUDGET_S"  # read by cadrage.serving.request_budget (not imported: it loads mlflow)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5001


def default_workers() -> int:
    """Enough uvicorn workers that one long request does not stall the others: 2 to 4, one per
    core (each worker holds its own copy of the model)."""
    return max(2, min(4, os.cpu_count() or 2))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"models:/NAME@ALIAS, models:/NAME/VERSION, runs:/ID/model or a local pyfunc directory (default: {DEFAULT_MODEL})")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"interface to listen on (default: {DEFAULT_HOST}; 0.0.0.0 exposes it)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    parser.add_argument("--tracking-uri", help="MLflow tracking/registry URI (default: MLFLOW_TRACKING_URI, else the project's sqlite store)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="uvicorn worker processes (default: one per core, 2 to 4)")
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                        help=f"seconds before a request is answered 504 (default: {DEFAULT_TIMEOUT}); the scorer stops "
                             f"working on a request a few seconds before")
    parser.add_argument("--print-command", action="store_true", help="print the mlflow command and its tracking URI, start nothing")
    parser.set_defaults(run=run)


def command(args: argparse.Namespace, model_path: str | None = None) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) of the mlflow process that serves args.model (or its local copy
    `model_path`)."""

    argv = [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_path or args.model, "--env-manager", "local",
            "-h", args.host, "-p", str(args.port)]
    if args.workers:
        argv += ["-w", str(args.workers)]
    if args.timeout:
        argv += ["-t", str(args.timeout)]
    env = dict(os.environ)
    if args.timeout:
        # the pyfunc gives up on a request before MLflow's timeout answers 504 (cadrage.serving)
        env[BUDGET_ENV] = str(max(1.0, args.timeout - 5.0))
    env["MLFLOW_TRACKING_URI"] = tracking_uri(args.tracking_uri)
    env.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # mlflow starts the server as `uvicorn ...` through bash: this environment's bin first.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")]) if env.get("PATH") else bin_dir
    return argv, env


def check_model(uri: str, tracking: str) -> str | None:
    """An error message when `uri` does not name a model this registry (or disk) holds."""
    if not uri.startswith(("models:/", "runs:/")):
        return None if (Path(uri) / "MLmodel").exists() else f"{uri}: not an MLflow model directory (no MLmodel file)"

    mlflow = tr.setup(tracking)
    from mlflow.exceptions import MlflowException

    try:
        if uri.startswith("models:/"):
            from mlflow.store.artifact.utils.models import get_model_name_and_version

            get_model_name_and_version(mlflow.MlflowClient(), uri)
        else:
            mlflow.artifacts.list_artifacts(artifact_uri=uri)
    except MlflowException as e:
        hint = ""
        if uri.startswith("models:/"):
            hint = " (train with `python -m train --config configs/NAME.yaml tracking.register=true` to register one)"
        return f"model {uri} does not resolve in the registry at {tracking}: {e.message}{hint}"
    return None


def serving_cache() -> Path:
    return Path(os.environ.get("CADRAGE_CACHE_DIR") or Path.home() / ".cache" / "cadrage") / "serve"


def local_copy(uri: str, tracking: str) -> Path:
    """A private copy of a registry model to serve. Served straight from a models:/ URI, MLflow
    writes `registered_model_meta` into the run's artifact folder (the project's mlruns/ with the
    default store); this copy lives in the cache instead, one folder per URI and store, replaced
    on every start."""
    mlflow = tr.setup(tracking)
    key = hashlib.sha256(f"{tracking}\n{uri}".encode()).hexdigest()[:16]
    target = serving_cache() / key
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=target.parent))
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp)))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target / local.relative_to(tmp)


def check_loads(model_path: Path) -> str | None:
    """An error line when the cadrage model directory inside a pyfunc cannot be loaded (damaged,
    untrusted types…): said here in one line rather than as the server's traceback."""
    for card in sorted(Path(model_path).rglob("cadrage.json")):
        try:
            load_model(card.parent)
        except ModelLoadError as e:
            return str(e)
    return None


def run(args: argparse.Namespace) -> int:
    argv, env = command(args)
    uri = env["MLFLOW_TRACKING_URI"]
    if args.print_command:
        print(f"MLFLOW_TRACKING_URI={uri} " + " ".join(argv))
        return 0
    problem = check_model(args.model, uri)
    if problem:
        print(f"cadrage serve: {problem}", file=sys.stderr)
        return 1
    local = Path(args.model)
    if args.model.startswith(("models:/", "runs:/")):
        local = local_copy(args.model, uri)
        argv, env = command(args, model_path=str(local))
    problem = check_loads(local)
    if problem:
        print(f"cadrage serve: {problem}", file=sys.stderr)
        return 1
    print(f"cadrage serve: {args.model} from {uri} on http://{args.host}:{args.port}/invocations", file=sys.stderr)
    sys.stderr.flush()
    os.execve(argv[0], argv, env)  # the server replaces this process: signals reach it directly
    return 0  # not reached
