"""The static HTML report (stage `report`, issue 12), built from a tiny real pipeline run and
opened in headless Chromium from file:// URLs: no console error, every image loaded, every
relative link resolving to a file, nothing fetched from elsewhere.  Two broken copies of the
report (an image deleted, a failing script injected) prove the browser check catches both."""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from pipeline.config import ConfigError
from pipeline.params import load_params
from tests.dvc_stages import declared_stages, undeclared_reads, unread_params
from tests.repo_copy import ROOT, RepoCopy, tiny

SURVEY = "sim_sdss"  # the fastest survey (128 px); tiny() also runs the opt-in analyses on it
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: Headless, and nothing that reaches the network on its own (updates, sync, QUIC probes).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
#: Where the lead picks up a screenshot of the report.
SHARED_SCREENSHOT = Path("/work/scratch/i12/report.png")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> RepoCopy:
    """A tiny one-survey pipeline reproduced up to the report."""
    repo = RepoCopy(tmp_path_factory.mktemp("report") / "repo")
    repo.write_params(tiny(repo.params(), [SURVEY]))
    repo.commit()
    repo.dvc("repro", "report")
    return repo


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium driven by the system chromedriver (nothing downloaded)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} / {CHROMEDRIVER} missing: `make test` installs them (apt-get)")
        pytest.skip(f"{CHROMIUM} missing: `make test` installs chromium and chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    driver.set_window_size(1200, 2400)  # the screenshot shows the top of a survey page
    yield driver
    driver.quit()


def browser_problems(driver, site: Path, screenshot: Path | None = None) -> list[str]:
    """What is wrong with the site's pages as Chromium shows them, one line each (empty: none)."""
    problems = []
    for page in sorted(site.glob("*.html")):
        driver.get_log("browser")  # drop what an earlier page left
        driver.get(page.as_uri())
        for entry in driver.get_log("browser"):
            if entry["level"] == "SEVERE":
                problems.append(f"{page.name}: console error: {entry['message']}")
        images = driver.execute_script(
            "return Array.from(document.images, i => [i.getAttribute('src'), i.complete, i.naturalWidth]);")
        problems += [f"{page.name}: image {src} not loaded" for src, complete, width in images
                     if not (complete and width > 0)]
        refs = driver.execute_script(
            "return Array.from(document.querySelectorAll('[href], [src]'),"
            " e => e.getAttribute('href') || e.getAttribute('src'));")
        for ref in refs:
            parts = urlsplit(ref)
            if parts.scheme or parts.netloc:
                problems.append(f"{page.name}: {ref} is not a relative link")
            elif parts.path and not (page.parent / unquote(parts.path)).is_file():
                problems.append(f"{page.name}: {ref} resolves to no file")
        if screenshot is not None and page.name == f"{SURVEY}.html":
            driver.save_screenshot(str(screenshot))
    return problems


def test_every_page_loads_cleanly_in_chromium(built, browser, tmp_path):
    site = built.path / "report"
    pages = {p.name for p in site.glob("*.html")}
    assert pages == {"index.html", f"{SURVEY}.html"}
    shot = tmp_path / "report.png"
    assert browser_problems(browser, site, shot) == []
    assert shot.stat().st_size > 0
    if SHARED_SCREENSHOT.parent.is_dir():
        shutil.copyfile(shot, SHARED_SCREENSHOT)


def test_a_missing_image_is_caught(built, browser, tmp_path):
    site = shutil.copytree(built.path / "report", tmp_path / "report")
    (site / SURVEY / "confusion.png").unlink()
    problems = browser_problems(browser, site)
    assert f"{SURVEY}.html: image {SURVEY}/confusion.png not loaded" in problems
    assert f"{SURVEY}.html: {SURVEY}/confusion.png resolves to no file" in problems


def test_a_console_error_is_caught(built, browser, tmp_path):
    site = shutil.copytree(built.path / "report", tmp_path / "report")
    index = site / "index.html"
    index.write_text(index.read_text().replace("</body>", "<script>undefinedFunction();</script></body>"))
    problems = browser_problems(browser, site)
    assert len(problems) == 1 and problems[0].startswith("index.html: console error:")
    assert "undefinedFunction" in problems[0]


def test_pages_show_the_run_beside_the_paper(built):
    site = built.path / "report"
    page = (site / f"{SURVEY}.html").read_text()
    metrics = json.loads((built.path / "metrics" / "evaluate" / f"{SURVEY}.json").read_text())
    assert f"<td>{metrics['knn']['k1']:.1f}</td>" in page
    paper = built.params()["report"]["paper"]["sdss"]
    assert f"<td>{paper['name']} (paper)</td>" in page and f"<td>{paper['knn']['k15']:.2f}</td>" in page
    for heading in ("Confusion matrix", "Training curves", "Misclassified", "Nearest neighbours",
                    "Clustering", "Encoder ablation", "Contrastive vs supervised"):
        assert heading in page, heading
    # a row per query galaxy (``neighbour_queries`` per class): the galaxy, then its neighbours
    params = built.params()
    rows = [r for r in page.split('<div class="gallery">') if "query: " in r]
    assert len(rows) == len(params["survey"][SURVEY]["classes"]) * params["report"]["neighbour_queries"]
    assert all(r.count("<figure>") == params["report"]["neighbours"] + 1 for r in rows)
    index = (site / "index.html").read_text()
    assert f'href="{SURVEY}.html"' in index and "cross_survey.png" in index


def test_the_stage_reads_exactly_the_params_it_declares(built):
    stage = next(s for s in declared_stages(built.path) if s.name == "report")
    reads = json.loads((built.reads_dir / "report.json").read_text())
    assert not undeclared_reads(reads, stage) and not unread_params(reads, stage)


def test_an_interrupted_build_keeps_the_previous_report(built, tmp_path):
    """The site is written to report.tmp and renamed: a failing build leaves report/ as it was."""
    evaluate = built.path / "metrics" / "evaluate" / f"{SURVEY}.json"
    original = evaluate.read_text()
    before = sorted(p.relative_to(built.path) for p in (built.path / "report").rglob("*"))
    evaluate.write_text("{}")
    try:
        proc = built.run(sys.executable, "-m", "stages.report", check=False)
    finally:
        evaluate.write_text(original)
    assert proc.returncode != 0
    assert sorted(p.relative_to(built.path) for p in (built.path / "report").rglob("*")) == before


@pytest.mark.parametrize("edit, key", [(lambda r: r.update(thumbnail_px=0), "report.thumbnail_px"),
                                       (lambda r: r["paper"]["gz2"]["knn"].update(k5=195.67), "report.paper.gz2.knn.k5"),
                                       (lambda r: r["paper"]["sdss"]["knn"].update(top5=95.66), "report.paper.sdss.knn.top5")])
def test_bad_report_params_are_refused_naming_the_key(tmp_path, edit, key):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    edit(params["report"])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_params(tmp_path / "params.yaml")
