"""The HTML export in a real browser: headless Chromium (Debian's `chromium`) renders it,
the page shows the session's text, hostile answers neither run nor show as markup, and it
prints to a PDF that holds every word, long unbroken ones too.

`--dump-dom` gives the document after any script would have run: a script or handler that
ran would have changed it (the title, a data attribute). The PDF is read back with
pdftotext (poppler-utils). Without them this is a skip with one line; CI sets
MEA_CULPA_REQUIRE_BROWSER=1, which makes that skip a failure.
"""

from __future__ import annotations

import html.parser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ANSWERS = Path(__file__).parent / "data" / "answers" / "service-outage.yaml"
REQUIRE_ENV = "MEA_CULPA_REQUIRE_BROWSER"
HOSTILE = (
    "<script>document.title='PWNED';document.body.dataset.pwned='script'</script>"
    "<img src=x onerror=\"document.body.dataset.pwned='onerror'\">"
    "<a href=\"javascript:document.body.dataset.pwned='link'\">details</a>"
    "<svg onload=\"document.body.dataset.pwned='svg'\"></svg>"
)
LONG = "https://status.example.com/incidents/" + "x9" * 90  # 216 characters without a space to break at


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    missing = [name for name, path in (("chromium", found), ("pdftotext", shutil.which("pdftotext"))) if not path]
    if missing:
        reason = f"browser test skipped: {' and '.join(missing)} not installed (apt-get install chromium poppler-utils)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1, but {reason}", pytrace=False)
        pytest.skip(reason)
    assert found is not None
    return found


def _browse(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


class Page(html.parser.HTMLParser):
    """The elements, attributes and visible text of a dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.title = ""
        self._skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("style", "title", "script"):
            self._skip.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data: str) -> None:
        if self._skip and self._skip[-1] == "title":
            self.title += data
        elif not self._skip:
            self.text.append(data)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A service-outage session with hostile answers, drafted and exported as HTML."""
    browser = _chromium()
    folder = tmp_path_factory.mktemp("browser")
    env = {**os.environ, "MEA_CULPA_HOME": str(folder / "home"), "MEA_CULPA_USER": "Test Person"}
    env.pop("MEA_CULPA_DATABASE_URL", None)

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "mea_culpa", *args], env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    session_id = run("start", "service-outage", "--answers", str(ANSWERS), "--no-input", "--title", "Checkout <b>down</b>",
                     "--set", f"what_is_affected={HOSTILE}", "--set", f"lesson=See {LONG} for the timeline.").strip()
    run("draft", session_id, "--message", "status-update", "--phase", "investigating")
    page = folder / "report.html"
    run("export", session_id, "-o", str(page))
    return page, browser


def test_the_page_shows_the_session_and_hostile_answers_as_text_that_never_runs(exported, tmp_path):
    page, browser = exported
    done = _browse(browser, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = Page()
    dom.feed(done.stdout)
    text = " ".join(" ".join(dom.text).split())
    assert dom.title == "Checkout <b>down</b>"  # not PWNED: no script ran
    assert text.startswith("Checkout <b>down</b> Session")
    for heading in ("1. Collect the facts", "7. ", "Action items", "Messages", "We're looking into a problem"):
        assert heading in text
    assert HOSTILE in " ".join(dom.text)  # shown as typed, every character
    tags = {tag for tag, _ in dom.tags}
    assert not tags & {"script", "img", "a", "svg", "iframe", "object"}
    body = next(attrs for tag, attrs in dom.tags if tag == "body")
    assert "data-pwned" not in body
    assert all(not name.startswith("on") for _, attrs in dom.tags for name in attrs)


def test_the_page_prints_every_word_even_an_unbroken_link(exported, tmp_path):
    page, browser = exported
    pdf = tmp_path / "report.pdf"
    done = _browse(browser, tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    assert pdf.exists() and pdf.stat().st_size > 0, done.stderr[-2000:]
    printed = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "Checkout <b>down</b>" in printed
    joined = "".join(printed.split())
    assert LONG in joined  # wrapped onto several lines, none of it cut off at the page's edge
    assert "".join(HOSTILE.split()) in joined
    pages = printed.count("\f")
    assert 1 <= pages <= 12
