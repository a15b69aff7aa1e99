"""The HTML report: escaping, self-containment, and (where Chromium is installed) filtering in a real browser."""

import html
import json
import re
import shutil
import subprocess

import pytest

from porter.report import RENDERERS
from tests.test_report_views import EVIL, sample_report

BROWSER = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)),
               None)


def _html(report=None):
    return RENDERERS["html"](report or sample_report())["report.html"]


def test_user_content_is_escaped():
    text = _html()
    assert "<img" not in text and "<script>alert" not in text
    assert html.escape(EVIL) in text and "&lt;script&gt;alert(2)&lt;/script&gt;" in text


def test_self_contained_no_external_resources():
    text = _html()
    assert not re.search(r"<(link|iframe|object|embed)\b", text)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    assert "default-src 'none'" in text  # the page may not fetch anything, even if a future template tried
    assert text.count("<script>") == 1


def test_findings_link_to_rule_pages_and_diffs():
    text = _html()
    assert 'href="rules/T002.md"' in text
    assert 'href="#diff-' in text and '<span class="add">+x = &#34;npu&#34;</span>' in text


def _run_in_browser(page_html: str, tmp_path) -> dict:
    """Load the page in headless Chromium with a probe that drives the filters, and return what it saw."""
    probe_head = ("<script>window.__errors=[];window.__dialogs=[];"
                  "window.addEventListener('error',e=>window.__errors.push(String(e.message)));"
                  "['alert','confirm','prompt'].forEach(n=>window[n]=m=>window.__dialogs.push(String(m)));</script>")
    probe_tail = """<script>
    (function () {
      const set = (id, v) => { const el = document.getElementById(id); el.value = v; el.dispatchEvent(new Event('input')); };
      const visible = () => Array.from(document.querySelectorAll('#findings tbody tr')).filter(r => !r.hidden).map(
        r => r.dataset.status + ' ' + r.cells[0].textContent.trim());
      const out = {initial: visible()};
      set('f-status', 'unsupported'); out.unsupported = visible();
      set('f-status', ''); set('f-text', 'SHIFT'); out.search = visible();
      set('f-text', ''); set('f-tier', '*'); out.all = visible();
      set('f-tier', ''); set('f-rule', 'T201'); out.rule = visible();
      out.shown = document.getElementById('shown').textContent;
      out.imgs = document.querySelectorAll('img').length;
      out.errors = window.__errors; out.dialogs = window.__dialogs;
      const pre = document.createElement('pre'); pre.id = 'probe-result'; pre.textContent = JSON.stringify(out);
      document.body.appendChild(pre);
    })();
    </script>"""
    page = tmp_path / "report.html"
    page.write_text(page_html.replace("<head>", "<head>" + probe_head, 1).replace("</body>", probe_tail + "</body>", 1))
    done = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.skipif(BROWSER is None, reason="no Chromium installed (Debian: apt-get install chromium)")
def test_filtering_in_headless_chromium(tmp_path):
    seen = _run_in_browser(_html(), tmp_path)
    assert seen["errors"] == [] and seen["dialogs"] == [] and seen["imgs"] == 0
    total = sum(len(r.findings) for r in sample_report().files)
    assert len(seen["all"]) == total
    assert len(seen["initial"]) == total - 3  # low priority (CUDA-named identifiers and strings) hidden by default
    assert seen["unsupported"] and all(row.startswith("unsupported ") for row in seen["unsupported"])
    assert len(seen["unsupported"]) == 4
    assert seen["search"] == ["unsupported copy_b/k.cu"]
    assert seen["rule"] == ["converted train.py", "converted train.py"]
    assert seen["shown"] == f"2 of {total} findings shown"
    assert any(row.endswith(EVIL) for row in seen["all"])  # the hostile file name shows as text
