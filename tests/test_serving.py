"""Serving over HTTP: a tiny model registered in a temporary registry, served by
`mlflow models serve -m models:/cadrage@champion --env-manager local` on 127.0.0.1, checked
against `cadrage score`, fed bad requests, and put under a bounded load."""
from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from conftest import ROOT, split_overrides

from cadrage.serving import (
    MAX_BATCH_CHARS,
    MAX_TEXT_CHARS,
    OUTPUT_COLUMNS,
    InputError,
    validate_frame,
    validate_threshold,
)

MODEL_URI = "models:/cadrage@champion"
JSON_FIELDS = ("techniques", "stance", "cues")
BIN = Path(sys.executable).parent


def _env(tracking_uri: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(MLFLOW_TRACKING_URI=tracking_uri, MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false",
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1")
    return env


def _records() -> list[dict]:
    """Articles as a client would send them: the sample JSONL and CSV articles, scraped junk,
    an article without metadata, and an empty text (an error row, as in the CLI)."""
    rows = [json.loads(line) for line in (ROOT / "samples" / "articles.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    with open(ROOT / "samples" / "articles.csv", encoding="utf-8", newline="") as f:
        rows += [{k: v for k, v in r.items() if v} for r in csv.DictReader(f)]
    rows += [
        {"id": "junk", "url": "https://www.vigie.example/a/1",
         "text": "Partager sur Facebook\nPar Jean Dupont\nMis à jour le 12/02/2022 à 10h32\n"
                 "Moscou a dénoncé « l'hystérie attisée par les médias occidentaux ».L'Alliance, prétextant la menace "
                 "croissante, a renforcé ses bataillons.\nLire aussi : le gaz\n"},
        {"id": "bare", "text": "Le conseil municipal a voté le budget. La séance a duré trois heures."},
        {"id": "blank", "text": "   "},
    ]
    return rows


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def registry(small_splits, tmp_path_factory) -> tuple[str, Path]:
    """A linear model trained on the small split, registered as cadrage@champion in a
    temporary sqlite registry; (tracking URI, folder)."""
    from cadrage.training.config import load_config
    from cadrage.training.run import run

    tmp = tmp_path_factory.mktemp("serving")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        # smaller n-gram space than configs/linear.yaml: half the fit time, same code path
        overrides = split_overrides(small_splits, tmp / "model") + [
            "tracking.register=true", "linear.char_ngrams=[2,4]", "linear.max_features=20000"]
        result = run(load_config(ROOT / "configs" / "linear.yaml", overrides))
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
    assert result["registry"]["alias"] == "champion"
    return uri, tmp


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path

    def invoke(self, payload=None, *, data: bytes | str | None = None, content_type: str = "application/json",
               timeout: float = 60) -> requests.Response:
        body = data if data is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return requests.post(f"{self.url}/invocations", data=body, headers={"Content-Type": content_type}, timeout=timeout)

    def ping(self) -> int:
        return requests.get(f"{self.url}/ping", timeout=10).status_code

    def rss(self) -> int:
        """Resident memory of the server's process tree (mlflow CLI + uvicorn), bytes."""
        import psutil

        root = psutil.Process(self.proc.pid)
        total = 0
        for p in [root, *root.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-n:] if self.log.exists() else ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """Terminate the server's process group (mlflow -> bash -> uvicorn), then kill it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever is left in the group (uvicorn)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(timeout=15)


@pytest.fixture(scope="module")
def server(registry):
    uri, tmp = registry
    port = free_port()
    log = tmp / "server.log"
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", MODEL_URI, "--env-manager", "local",
           "-h", "127.0.0.1", "-p", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=tmp, env=_env(uri), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    srv = Server(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.time() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}:\n{srv.log_tail()}")
            try:
                if srv.ping() == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.time() > deadline:
                pytest.fail(f"no answer on /ping after 180 s:\n{srv.log_tail()}")
            time.sleep(0.5)
        yield srv
    finally:
        stop(proc)
        assert proc.poll() is not None


@pytest.fixture(scope="module")
def cli_predictions(registry) -> list[dict]:
    """What `cadrage score --model models:/cadrage@champion --format jsonl` writes for _records()."""
    uri, tmp = registry
    path = tmp / "requests.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _records()), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "cadrage.cli", "score", str(path), "--model", MODEL_URI, "--format", "jsonl", "--quiet"],
                          cwd=ROOT, env=_env(uri), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr  # 2: the blank record failed, the others were scored
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _decoded(rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        row = {k: row.get(k) for k in OUTPUT_COLUMNS}
        for k in JSON_FIELDS:
            if isinstance(row[k], str):
                row[k] = json.loads(row[k])
        out.append(row)
    return out


def _location_free(rows: list[dict]) -> list[dict]:
    """Errors name where the record came from (`file.jsonl:7` vs `row 6`): compare the rest."""
    return [{**r, "error": r["error"].split(": ", 1)[1] if r.get("error") else r.get("error")} for r in rows]


# --------------------------------------------------------------------------- contract (no server)


def test_validation_names_the_problem():
    import pandas as pd

    with pytest.raises(InputError, match="missing required column 'text'"):
        validate_frame(pd.DataFrame({"body": ["x"]}))
    with pytest.raises(InputError, match="empty batch"):
        validate_frame(pd.DataFrame({"text": []}))
    with pytest.raises(InputError, match="row 1: 'text' must be a string, got a number"):
        validate_frame(pd.DataFrame({"text": ["a", 3]}, dtype=object))
    with pytest.raises(InputError, match="row 0: 'url' must be a string or null, got a list"):
        validate_frame(pd.DataFrame({"text": ["a"], "url": [["x"]]}))
    with pytest.raises(InputError, match="200,000 per text"):
        validate_frame(pd.DataFrame({"text": ["a" * (MAX_TEXT_CHARS + 1)]}))
    with pytest.raises(InputError, match="2,000,000 characters"):
        validate_frame(pd.DataFrame({"text": ["a" * MAX_TEXT_CHARS] * (MAX_BATCH_CHARS // MAX_TEXT_CHARS + 1)}))
    assert validate_frame(pd.DataFrame({"text": ["Une phrase."], "unit": ["sentence"], "id": [None]})) == [
        (0, "sentence", {"text": "Une phrase."})]
    assert validate_threshold({"loaded_threshold": -1.0}) is None
    assert validate_threshold({"loaded_threshold": 0.25}) == 0.25
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        validate_threshold({"loaded_threshold": 1.5})


def test_serve_wrapper_builds_the_mlflow_command(tmp_path):
    from cadrage.serve import default_workers

    env = _env(f"sqlite:///{tmp_path / 'mlflow.db'}")
    done = subprocess.run([sys.executable, "-m", "cadrage.cli", "serve", "--port", "5123", "--print-command"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"MLFLOW_TRACKING_URI=sqlite:///{tmp_path / 'mlflow.db'} {sys.executable} -m mlflow models serve "
                                   f"-m models:/cadrage@champion --env-manager local -h 127.0.0.1 -p 5123 "
                                   f"-w {default_workers()} -t 60")


def test_serve_wrapper_refuses_a_model_the_registry_lacks(registry):
    uri, _ = registry
    done = subprocess.run([sys.executable, "-m", "cadrage.cli", "serve", "--model", "models:/cadrage@nosuchalias"],
                          cwd=ROOT, env=_env(uri), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "models:/cadrage@nosuchalias does not resolve" in done.stderr and "nosuchalias" in done.stderr


def _logged_model(tmp: Path) -> Path:
    (mlmodel,) = [p for p in tmp.rglob("MLmodel") if "artifacts" in p.parts]
    return mlmodel.parent


def test_model_is_logged_from_code_with_signature_and_example(registry):
    import yaml

    _, tmp = registry
    folder = _logged_model(tmp)
    meta = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))
    flavor = meta["flavors"]["python_function"]
    assert flavor["loader_module"] == "mlflow.pyfunc.loaders.code_model"  # models from code, no cloudpickle
    assert not list(folder.rglob("python_model.pkl"))
    assert (folder / Path(flavor["model_code_path"]).name).is_file()
    assert {p.name for p in (folder / "artifacts" / "model").iterdir()} >= {"cadrage.json", "lexicon.csv"}
    inputs = json.loads(meta["signature"]["inputs"])
    assert [(c["name"], c["required"]) for c in inputs][:2] == [("text", True), ("id", False)]
    assert json.loads(meta["signature"]["params"])[0]["name"] == "loaded_threshold"
    assert [c["name"] for c in json.loads(meta["signature"]["outputs"])] == OUTPUT_COLUMNS
    assert "dataframe_split" in json.loads((folder / "serving_input_example.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- over HTTP


def test_logged_serving_example_is_answered(server, registry):
    _, tmp = registry
    example = (_logged_model(tmp) / "serving_input_example.json").read_text(encoding="utf-8")
    r = server.invoke(data=example.encode("utf-8"))
    assert r.status_code == 200, r.text
    assert [row["article_id"] for row in r.json()["predictions"]] == ["exemple-1", "exemple-1"]


def test_server_answers_what_cadrage_score_writes(server, cli_predictions):
    records = _records()
    r = server.invoke({"dataframe_records": records})
    assert r.status_code == 200, r.text
    strict = json.loads(r.text, parse_constant=lambda c: pytest.fail(f"{c} in the answer: not strict JSON"))
    served = _decoded(strict["predictions"])
    expected = _decoded(cli_predictions)
    assert len(served) == len(expected) > len(records)
    assert [row["article_id"] for row in served] == [row["article_id"] for row in expected]
    for got, want in zip(_location_free(served), _location_free(expected)):
        for field in OUTPUT_COLUMNS:
            assert got[field] == want[field], (got["article_id"], got["sentence_index"], field)
    assert any(row["author_loaded"] for row in served) and not all(row["author_loaded"] for row in served if not row["error"])
    failed = [row for row in served if row["error"]]
    assert [row["article_id"] for row in failed] == ["blank"] and failed[0]["error"].endswith("empty 'text'")


def test_every_json_form_gives_the_same_answer(server):
    records = [r for r in _records() if r["id"] in ("junk", "bare")]
    columns = ["text", "id", "url"]
    forms = {
        "dataframe_records": {"dataframe_records": records},
        "dataframe_split": {"dataframe_split": {"columns": columns, "data": [[r.get(c) for c in columns] for r in records]}},
        "inputs": {"inputs": {c: [r.get(c) for r in records] for c in columns}},
    }
    answers = {}
    for name, payload in forms.items():
        r = server.invoke(payload)
        assert r.status_code == 200, (name, r.text)
        answers[name] = r.json()["predictions"]
    assert answers["dataframe_split"] == answers["dataframe_records"] == answers["inputs"]


def test_sentence_unit_and_threshold_param(server):
    text = "Ces va-t-en-guerre attisent l'hystérie en feignant de craindre une invasion."
    base = server.invoke({"dataframe_records": [{"text": text, "unit": "sentence", "id": "s1"}]}).json()["predictions"]
    assert len(base) == 1 and base[0]["text"] == text and base[0]["article_id"] == "s1"
    low = server.invoke({"dataframe_records": [{"text": text, "unit": "sentence"}], "params": {"loaded_threshold": 0.0}}).json()["predictions"]
    high = server.invoke({"dataframe_records": [{"text": text, "unit": "sentence"}], "params": {"loaded_threshold": 1.0}}).json()["predictions"]
    assert low[0]["loaded"] == high[0]["loaded"] == base[0]["loaded"]
    assert high[0]["author_loaded"] is False and high[0]["cues"] == "[]"
    assert low[0]["author_loaded"] is (low[0]["voice"] == "author")


BIG = "Le débat continue au Parlement. " * (1_000_000 // 32 + 1)  # over 1 MB of text
BAD_REQUESTS = {
    "missing text column": ({"dataframe_records": [{"body": "Une phrase.", "id": "x"}]}, "missing inputs ['text']"),
    "missing text column (split)": ({"dataframe_split": {"columns": ["id"], "data": [["x"]]}}, "missing inputs ['text']"),
    "text is a number": ({"dataframe_records": [{"text": 42}]}, "row 0: 'text' must be a string, got a number"),
    "text is a list": ({"dataframe_records": [{"text": "Une phrase."}, {"text": ["a", "b"]}]}, "row 1: 'text' must be a string, got a list"),
    "text is null": ({"dataframe_records": [{"text": None}]}, "row 0: 'text' is null"),
    "id is a number": ({"dataframe_records": [{"text": "Une phrase.", "id": 7}]}, "row 0: 'id' must be a string or null, got a number"),
    "unknown unit": ({"dataframe_records": [{"text": "Une phrase.", "unit": "paragraph"}]}, "'unit' must be 'article' or 'sentence'"),
    "threshold not a number": ({"dataframe_records": [{"text": "Une phrase."}], "params": {"loaded_threshold": "high"}}, "loaded_threshold"),
    "threshold out of range": ({"dataframe_records": [{"text": "Une phrase."}], "params": {"loaded_threshold": 7}}, "must be in [0, 1]"),
    "empty batch": ({"dataframe_split": {"columns": ["text"], "data": []}}, "empty batch"),
    "empty records": ({"dataframe_records": []}, "missing inputs ['text']"),
    "no input key": ({"text": "Une phrase."}, "exactly one of the input fields"),
    "a JSON list": ([{"text": "Une phrase."}], "must be a JSON dictionary"),
    "invalid JSON": (b'{"dataframe_records": [{"text": "Une phr', "valid JSON"),
    "1 MB text": ({"dataframe_records": [{"text": BIG}]}, "more than the limit of 200,000 per text"),
    "batch too large": ({"dataframe_records": [{"text": "Une phrase. " * 16_000}] * 11}, "more than 2,000,000 characters"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_request_is_a_4xx_that_says_what_is_wrong(server, case):
    payload, message = BAD_REQUESTS[case]
    r = server.invoke(data=payload) if isinstance(payload, bytes) else server.invoke(payload)
    assert r.status_code == 400, (r.status_code, r.text[:500])
    body = r.json()
    assert message in body["message"], body["message"][:1000]
    assert len(r.content) < 20_000  # the answer does not echo a huge input back
    assert server.ping() == 200
    ok = server.invoke({"dataframe_records": [{"text": "Le conseil a voté le budget."}]})
    assert ok.status_code == 200 and ok.json()["predictions"][0]["text"] == "Le conseil a voté le budget."


def test_wrong_content_type_is_415(server):
    r = server.invoke(data="text=Une phrase.", content_type="text/plain")
    assert r.status_code == 415 and "content types" in r.text
    assert server.ping() == 200


@pytest.mark.slow
def test_bounded_load_keeps_answering_with_flat_memory(server, registry):
    _, tmp = registry
    payloads = [
        {"dataframe_records": [{"id": f"a{i}", "text": f"Le conseil municipal a voté {i} délibérations. « C'est une provocation », "
                                                         "a jugé l'opposition. Ces va-t-en-guerre attisent l'hystérie."}]}
        for i in range(20)
    ]
    n_requests, n_threads = 300, 4
    for p in payloads[:5]:  # warm-up: first-call allocations are not growth
        assert server.invoke(p).status_code == 200
    rss_before = server.rss()
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(n_requests))
    lock = threading.Lock()

    def client():
        with requests.Session() as session:
            while True:
                with lock:
                    k = next(counter, None)
                if k is None:
                    return
                t = time.perf_counter()
                try:
                    r = session.post(f"{server.url}/invocations", json=payloads[k % len(payloads)], timeout=60)
                    ok = r.status_code == 200 and len(r.json()["predictions"]) == 3
                    if not ok:
                        raise AssertionError(f"{r.status_code} {r.text[:300]}")
                except Exception as e:  # noqa: BLE001 - every failure is counted and reported
                    with lock:
                        errors.append(f"request {k}: {e}")
                    continue
                with lock:
                    latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    elapsed = time.perf_counter() - start
    rss_after = server.rss()

    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:5]
    assert len(latencies) == n_requests
    ordered = sorted(latencies)
    report = {
        "requests": n_requests, "threads": n_threads, "seconds": round(elapsed, 3),
        "requests_per_s": round(n_requests / elapsed, 1),
        "p50_ms": round(1000 * ordered[len(ordered) // 2], 1),
        "p95_ms": round(1000 * ordered[int(len(ordered) * 0.95) - 1], 1),
        "rss_before_mb": round(rss_before / 2**20, 1), "rss_after_mb": round(rss_after / 2**20, 1),
    }
    (tmp / "load.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"\nserving load: {json.dumps(report)} (written to {tmp / 'load.json'})")
    assert rss_after - rss_before < 100 * 2**20, report  # generous: allocator noise, not a leak per request
    assert server.ping() == 200
