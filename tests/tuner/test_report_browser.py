"""report.html in a real headless Chromium, with the network shut off: every interactive figure
is drawn by plotly.js (an SVG with one trace per figure trace) and no script error occurs.

Chromium comes from Debian's packages (`.ci/run` installs it); without it the test is skipped
locally and fails under CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.tuner._results_sweep import copy_of, dsr_sweep
from tuner.report import interactive_views, write_report
from tuner.results import load

#: recorded before any other script runs: every error and rejected promise of the page
_RECORD_ERRORS = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message)));
window.addEventListener("unhandledrejection", e => window.__errors.push(String(e.reason)));
</script>"""
#: after the page has loaded: each figure's state, written into the DOM for --dump-dom
_REPORT_FIGURES = """<script>
window.addEventListener("load", () => setTimeout(() => {
  const figures = {};
  document.querySelectorAll("section.view").forEach(section => {
    const div = section.querySelector(".plotly-graph-div");
    figures[section.id] = div === null ? null : {
      plotted: div.classList.contains("js-plotly-plot"),
      svgs: div.querySelectorAll("svg.main-svg").length,
      traces: (div.data || []).length,
      width: div.getBoundingClientRect().width,
    };
  });
  const out = document.createElement("pre");
  out.id = "browser-check";
  out.textContent = JSON.stringify({errors: window.__errors, figures: figures,
                                    plotly: typeof Plotly === "undefined" ? null : Plotly.version});
  document.body.appendChild(out);
}, 500));
</script>"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it from Debian's packages)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


def rendered_dom(page: Path) -> str:
    """The DOM of `page` after its scripts ran, from headless Chromium with no network."""
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1280,2000",
        "--virtual-time-budget=20000", "--dump-dom", page.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def checked(ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = copy_of(dsr_sweep(tmp_path_factory), tmp_path_factory.mktemp("browser"))
    page = write_report(folder, k=3).html
    views = interactive_views(load(folder), 3, {})
    probe = page.with_name("probe.html")
    text = page.read_text().replace("<head>", f"<head>{_RECORD_ERRORS}", 1)
    probe.write_text(text.replace("</body>", f"{_REPORT_FIGURES}</body>", 1))
    dom = rendered_dom(probe)
    found = re.search(r'<pre id="browser-check">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return {"views": views, "check": json.loads(found.group(1).replace("&quot;", '"'))}


def test_every_figure_renders_without_script_errors(checked: dict) -> None:
    check, views = checked["check"], checked["views"]
    assert check["errors"] == []
    assert check["plotly"]  # plotly.js came from the page itself: the network was shut off
    drawn = {v.name: len(v.figure.data) for v in views if v.figure is not None}
    # the shared sweep (2 COMPLETE, 4 PRUNED) has too few COMPLETE trials for a contour only
    assert sorted(drawn) == sorted(v.name for v in views if v.name != "contour")
    for name, traces in drawn.items():
        figure = check["figures"][name]
        assert figure["plotted"] and figure["svgs"] >= 1, (name, figure)
        assert figure["traces"] == traces > 0, (name, figure)
        assert figure["width"] > 500, (name, figure)  # drawn at the page's width
    assert check["figures"]["contour"] is None  # a note says why, no empty plot
