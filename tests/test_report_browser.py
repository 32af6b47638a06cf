"""The HTML report in a real browser: headless Chromium renders it, runs its scripts, and we
check the DOM (highlights, source table, sorting, filters) and save a screenshot.

Skips cleanly when Chromium is absent (Debian: `apt-get install chromium`). The screenshot goes
to pytest's tmp dir, or to $CADRAGE_SCREENSHOT_DIR when set (CI keeps it as an artifact).
"""
from __future__ import annotations

import html as htmllib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _output_fixtures import corpus  # noqa: E402

from cadrage.outputs import open_writer  # noqa: E402
from cadrage.reliability import SourceAccumulator  # noqa: E402
from cadrage.summary import article_summary  # noqa: E402


def _chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (/usr/bin/chromium)")

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

# Drives the report like a user would, then writes what it saw into the page.
PROBE = """
<script>
(function () {
  function visible() { return document.querySelectorAll("p.s:not(.hidden)").length; }
  function firstColumn(col) {
    return Array.prototype.map.call(document.querySelectorAll("#source-table tbody tr"),
      function (r) { return r.cells[col].getAttribute("data-v"); });
  }
  function set(id, value) {
    var el = document.getElementById(id);
    if (el.type === "checkbox") { el.checked = value; } else { el.value = value; }
    el.dispatchEvent(new Event("change"));
  }
  var out = {};
  out.ready = document.documentElement.getAttribute("data-ready");
  out.total = visible();
  out.count_text = document.getElementById("f-count").textContent;
  set("f-author", true); out.author = visible();
  set("f-loaded", true); out.author_loaded = visible();
  out.hidden_articles = document.querySelectorAll("details.article.hidden").length;
  set("f-author", false); out.loaded = visible();
  set("f-loaded", false); set("f-tech", "Doubt"); out.doubt = visible();
  set("f-tech", ""); out.reset = visible();
  var heads = document.querySelectorAll("#source-table thead th");
  heads[1].click(); out.by_source_asc = firstColumn(1);
  heads[1].click(); out.by_source_desc = firstColumn(1);
  heads[3].click(); out.by_reliability = firstColumn(3).map(parseFloat);
  out.sorted_header = heads[3].getAttribute("aria-sort");
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def run_chromium(args, tmp_path, timeout=120):
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    path = d / "report.html"
    acc = SourceAccumulator()
    with open_writer(path, meta={"model": "fixtures"}) as w:
        for art, sents in corpus():
            summary = article_summary(art, sents)
            acc.add(summary)
            w.write_article(art, sents, summary)
        w.close(acc.table(), reliability_model=acc.fit())
    return path


def test_highlights_and_source_table_render(report, tmp_path):
    dom = run_chromium(["--dump-dom", report.as_uri()], tmp_path)
    assert 'data-ready="1"' in dom, "the report's script did not run to the end"
    marks = re.findall(r'<mark class="cue t-([\w-]+) o-(?:lexicon|model)"', dom)
    assert marks.count("Doubt") >= 3 and marks.count("Loaded_Language") >= 10
    # overlapping cues: the shared words carry both techniques in their hover title
    assert dom.count('title="Doubt (lexique) · Loaded_Language (modèle)">feignant</mark>') == 3
    assert dom.count(">L'hystérie attisée</mark>") == 3
    table = re.search(r'<table class="sources sortable" id="source-table">(.*?)</table>', dom, re.S)
    assert table, "no source table in the rendered DOM"
    rows = re.findall(r"<tr class=\"st-(\w+)\">", table.group(1))
    assert rows == ["ranked", "ranked", "insufficient", "unknown"]
    for src in ("fr.sputniknews.com", "lemonde.fr", "RT France", "(source inconnue)"):
        assert f"<b>{src}</b>" in table.group(1)
    assert re.search(r'id="f-count">\d+ phrase\(s\) dans \d+ article\(s\)<', dom)
    assert dom.count('<tr class="failure">') == 2


def test_sorting_and_filters_work_in_the_browser(report, tmp_path):
    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = run_chromium(["--dump-dom", probed.as_uri()], tmp_path)
    m = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert m, "the probe script did not run"
    out = json.loads(htmllib.unescape(m.group(1)))
    assert out["ready"] == "1"
    assert out["total"] == 56 and out["reset"] == 56
    assert out["author_loaded"] == 6  # only loaded + only author voice
    assert out["loaded"] == 14  # loaded in any voice, the quoted « provocation » included
    assert out["author"] == 56 - 3 - 5  # minus reported sentences
    assert out["doubt"] == 3
    assert out["hidden_articles"] == 5  # articles without any author-loaded sentence are hidden
    assert out["by_source_desc"] == out["by_source_asc"][::-1]
    assert out["by_reliability"] == sorted(out["by_reliability"])
    assert out["sorted_header"] == "ascending"


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


def test_screenshot(report, tmp_path):
    out_dir = Path(os.environ.get("CADRAGE_SCREENSHOT_DIR") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    shot = out_dir / "report.png"
    shot.unlink(missing_ok=True)
    run_chromium([f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri()], tmp_path)
    assert shot.exists() and shot.stat().st_size > 20_000
    assert _png_size(shot) == (1280, 2000)
