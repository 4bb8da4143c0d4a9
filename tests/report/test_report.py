"""The HTML report renders in a real browser: headless Chromium loads it, every embedded figure
decodes, the ranking table has its rows; a screenshot is kept in the test artifacts.

Chromium comes from Debian's ``chromium`` package (``apt-get install -y chromium``). When it is
missing the test installs it where it can (root with apt-get) and otherwise skips, saying why.
Artifacts go to ``$IONRAMAN_TEST_ARTIFACTS`` (default ``<repo>/test-artifacts``)/``report/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

_CHECK = """
<script>
window.addEventListener('load', () => {
  const imgs = [...document.querySelectorAll('img.report-figure')];
  const out = {
    images: imgs.length,
    decoded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    widths: imgs.map(i => i.naturalWidth),
    ids: imgs.map(i => i.closest('figure').id),
    ranking_rows: document.querySelectorAll('#ranking-table tbody tr').length,
    results_rows: document.querySelectorAll('#results-table tbody tr').length,
    ranking_head: [...document.querySelectorAll('#ranking-table thead th')].map(t => t.textContent),
    first_candidate:
      (document.querySelector('#ranking-table tbody tr td:nth-child(2)') || {}).textContent,
  };
  const d = document.createElement('pre');
  d.id = 'render-check';
  d.textContent = JSON.stringify(out);
  document.body.appendChild(d);
});
</script>
"""


def _browser() -> str:
    for name in _BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(
            "Chromium is not installed and cannot be installed here (needs root and apt-get): "
            "install it with `apt-get install -y chromium` to run the report rendering test"
        )
    for cmd in (["apt-get", "install", "-y", "chromium"], ["apt-get", "update"],
                ["apt-get", "install", "-y", "chromium"]):
        subprocess.run(cmd, capture_output=True, timeout=900,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if shutil.which("chromium"):
            return shutil.which("chromium")
    pytest.skip("Chromium could not be installed with apt-get (no package source reachable?)")


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120,
    )


@pytest.fixture(scope="module")
def artifacts() -> Path:
    base = Path(os.environ.get("IONRAMAN_TEST_ARTIFACTS", REPO / "test-artifacts"))
    out = base / "report"
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_report_renders_in_headless_chromium(e2e, tmp_path, artifacts):
    run_dir, _, _ = e2e
    report = run_dir / "report" / "report.html"
    html = report.read_text()
    # self-contained: no external resources
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    assert "<script" not in html
    browser = _browser()
    probe = tmp_path / "report_probe.html"
    probe.write_text(html.replace("</body>", _CHECK + "</body>"))
    dom = _chromium(browser, tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom",
                    probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    m = re.search(r'<pre id="render-check">(.*?)</pre>', dom.stdout, re.S)
    assert m, "the page's load handler did not run: " + dom.stdout[:500]
    check = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    # spectra of both candidates, two measured overlays (a synthetic CSV; the published CCl4
    # bands as JCAMP-DX), two MSD plots, Arrhenius, metric vs D
    expected = {"fig-spectra-t-Na3SbS4", "fig-spectra-cubic", "fig-overlay-t-Na3SbS4-0",
                "fig-overlay-cubic-0",
                "fig-msd-t-Na3SbS4", "fig-msd-cubic", "fig-arrhenius", "fig-metric-vs-d"}
    assert expected <= set(check["ids"]), check["ids"]
    assert check["decoded"] == check["images"] == len(check["ids"])
    assert min(check["widths"]) > 300
    assert check["ranking_rows"] == 3 and check["results_rows"] == 3
    assert check["ranking_head"][:2] == ["rank", "candidate"]
    assert check["first_candidate"] in ("t-Na3SbS4", "cubic")

    shot = artifacts / "report.png"
    res = _chromium(browser, tmp_path / "profile", "--window-size=1280,6000",
                    f"--screenshot={shot}", report.as_uri())
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    shutil.copy(report, artifacts / "report.html")
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)
    assert img.shape[0] == 6000 and img.shape[1] == 1280
    assert np.std(img[:, :, :3]) > 0.05  # not a blank page


def test_report_pngs_are_written_beside_the_html(e2e):
    run_dir, _, _ = e2e
    figs = sorted(p.name for p in (run_dir / "report" / "figures").glob("*.png"))
    assert "arrhenius.png" in figs and "metric_vs_D.png" in figs
    assert "spectra_t-Na3SbS4.png" in figs and "msd_cubic.png" in figs
    html = (run_dir / "report" / "report.html").read_text()
    assert "Failed stages" in html and "broken/1000K/seed0" in html and "SimulationError" in html
    assert "Run settings and provenance" in html and "bond_test_fixture.json" in html
    assert "Calibration against measurements" in html
