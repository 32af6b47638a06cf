"""Issue 16, serving: chunked scoring under a per-request time budget, enough workers by default,
no writes into the store's mlruns/, damaged models refused in one line, and the latency of short
requests while long ones are being scored (slow: a real `cadrage serve`, loopback only)."""
from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from cadrage import serving
from cadrage.serve import default_workers

ROOT = Path(__file__).resolve().parent.parent


class _FakeScorer:
    """Records how many records each locked turn scored."""

    def __init__(self, lock: threading.Lock, delay: float = 0.0):
        self.lock, self.delay, self.turns = lock, delay, []

    def score_articles(self, articles):
        assert self.lock.locked()
        self.turns.append(len(articles))
        time.sleep(self.delay)
        for a in articles:
            yield a, [{"article_id": a.id, "sentence_index": 0, "start": 0, "end": 1, "text": a.text[:1], "loaded": 0.1,
                       "techniques": {}, "stance": {}, "voice": "author", "author_loaded": False, "cues": [], "error": None}]


def _records(sizes: list[int]) -> list:
    return [(n, "article", {"text": ("Le conseil a voté le budget. " * (size // 29 + 1))[:size]}) for n, size in enumerate(sizes)]


def test_long_requests_are_scored_in_chunks_each_under_the_lock():
    lock = threading.Lock()
    scorer = _FakeScorer(lock)
    out = serving.score_within_budget(scorer, _records([15_000, 15_000, 150_000, 100, 100]), lock, budget=60)
    assert len(out) == 5
    assert scorer.turns == [1, 1, 1, 2]  # the lock is released between chunks: other requests get in


def test_request_over_budget_stops_and_frees_the_worker():
    lock = threading.Lock()
    scorer = _FakeScorer(lock, delay=0.3)
    t = time.perf_counter()
    with pytest.raises(serving.OverBudget, match="budget"):
        serving.score_within_budget(scorer, _records([15_000] * 20), lock, budget=0.5)
    assert time.perf_counter() - t < 2 and len(scorer.turns) < 5
    assert not lock.locked()


def test_budget_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(serving.BUDGET_ENV, "12.5")
    assert serving.request_budget() == 12.5
    monkeypatch.setenv(serving.BUDGET_ENV, "nonsense")
    assert serving.request_budget() == serving.DEFAULT_BUDGET_S


def test_serve_defaults_to_several_workers_and_passes_the_budget():
    from cadrage.serve import command

    args = SimpleNamespace(model="models:/cadrage@champion", host="127.0.0.1", port=5001, tracking_uri=None,
                           workers=default_workers(), timeout=60)
    argv, env = command(args, model_path="/tmp/copy")
    assert default_workers() >= 2 and argv[argv.index("-w") + 1] == str(default_workers())
    assert argv[argv.index("/tmp/copy") - 1] == "-m"
    assert float(env[serving.BUDGET_ENV]) == 55.0


# --------------------------------------------------------------------------------------- with a registry
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_uses_a_private_copy_and_keeps_short_requests_fast(trained_linear, tmp_path):
    import requests

    uri = trained_linear["tracking_uri"]
    store = Path(uri[len("sqlite:///"):]).parent
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "CADRAGE_CACHE_DIR": str(tmp_path / "cache")}
    port = _free_port()
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "cadrage.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 240
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text(errors="replace")[-3000:]
            try:
                if requests.get(f"{url}/ping", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.time() < deadline
            time.sleep(0.5)
        assert not list((store / "mlruns").rglob("registered_model_meta"))  # nothing written into the store
        assert list((tmp_path / "cache").rglob("registered_model_meta"))

        # no Content-Type: documented in the README (MLflow's server answers 500; send application/json)
        long_text = ("Moscou a massé des troupes près de la frontière. Les va-t-en-guerre de l'Alliance attisent "
                     "l'hystérie en feignant de craindre une invasion, a déclaré le ministre. ") * 1_100  # ~180k chars
        short = {"dataframe_records": [{"text": "Le conseil a voté le budget. « C'est une provocation », a jugé l'opposition."}]}
        long = {"dataframe_records": [{"text": long_text[:190_000]}] * 3}
        timings: dict[str, list[float]] = {"short": [], "long": []}
        errors: list[str] = []
        lock = threading.Lock()

        def client(kind: str, payload: dict, n: int) -> None:
            with requests.Session() as session:
                for _ in range(n):
                    t = time.perf_counter()
                    r = session.post(f"{url}/invocations", json=payload, timeout=120)
                    with lock:
                        if r.status_code != 200:
                            errors.append(f"{kind}: {r.status_code} {r.text[:200]}")
                        timings[kind].append(time.perf_counter() - t)

        threads = [threading.Thread(target=client, args=("long", long, 2))]
        threads += [threading.Thread(target=client, args=("short", short, 40)) for _ in range(3)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        elapsed = time.perf_counter() - start
        assert not errors, errors[:3]

        def pct(values, q):
            values = sorted(values)
            return round(1000 * values[min(len(values) - 1, int(q * len(values)))], 1)

        report = {"workers": default_workers(), "seconds": round(elapsed, 1),
                  "short": {"n": len(timings["short"]), "p50_ms": pct(timings["short"], 0.5), "p95_ms": pct(timings["short"], 0.95)},
                  "long": {"n": len(timings["long"]), "p50_ms": pct(timings["long"], 0.5), "p95_ms": pct(timings["long"], 0.95),
                           "chars_per_request": 3 * 190_000}}
        print(f"\nmixed serving load: {json.dumps(report)}")
        (tmp_path / "mixed_load.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        assert statistics.median(timings["short"]) < 5
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
