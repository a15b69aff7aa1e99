"""Report views on a fixed report: review digest, snapshots of each renderer, SARIF schema, CSV columns, and the
`porter report` / `porter analyze` commands."""

import csv
import io
import json
import os
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from porter.cli import main
from porter.findings import FileResult, Finding, Outcome, Report, Span, Status
from porter.report import RENDERERS, load_report, write_reports
from porter.report.review import LOW, UNMAPPED, review, tier

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "report"
SARIF_SCHEMA = Path(__file__).resolve().parent / "schemas" / "sarif-schema-2.1.0.json"
UPDATE = os.environ.get("PORTER_UPDATE_SNAPSHOTS") == "1"
EVIL = "<img src=x onerror=alert(1)>.py"


def _f(rule, status, message, line, original, replacement=None, category="device"):
    return Finding(rule, category, status, message, Span(line, 5, line, 4 + max(len(original), 1)), original,
                   replacement)


def sample_report() -> Report:
    """Rule IDs outside the built-in catalogue (T...) keep the snapshots independent of the shipped rule data."""
    kernel = "a CUDA kernel: write the Ascend C kernel and register it as an NPU operator"
    files = [
        FileResult("train.py", "python", Outcome.CONVERTED, [
            _f("T201", Status.CONVERTED, "device string becomes npu", 3, '"cuda"', '"npu"'),
            _f("T201", Status.CONVERTED, "device string becomes npu", 9, '"cuda:0"', '"npu:0"'),
            _f("T900", Status.UNKNOWN, "identifier `use_cuda` looks CUDA-specific", 4, "use_cuda", category="unknown"),
            _f("T900", Status.UNKNOWN, "`torch.cuda.mystery` has no mapping", 12, "torch.cuda.mystery",
               category="unknown"),
            _f("T401", Status.REVIEW, "CUDA extensions must be rebuilt for NPU; use NpuExtension", 1,
               "torch.utils.cpp_extension.CUDAExtension", category="third-party"),
        ], diff='--- a/train.py\n+++ b/train.py\n@@ -3 +3 @@\n-x = "cuda"\n+x = "npu"\n'),
        FileResult("copy_a/k.cu", "native", Outcome.FLAGGED, [
            _f("T002", Status.UNSUPPORTED, f"{kernel} (kernel `scale`)", 7, "__global__ void scale", category="native"),
        ]),
        FileResult("copy_b/k.cu", "native", Outcome.FLAGGED, [
            _f("T002", Status.UNSUPPORTED, f"{kernel} (kernel `scale`)", 7, "__global__ void scale", category="native"),
            _f("T002", Status.UNSUPPORTED, f"{kernel} (kernel `shift`)", 20, "__global__ void shift", category="native"),
        ]),
        FileResult(EVIL, "python", Outcome.FLAGGED, [
            _f("T900", Status.UNKNOWN, "identifier `use_cuda` looks CUDA-specific", 2, "use_cuda", category="unknown"),
            _f("T900", Status.UNKNOWN, "string '<script>alert(2)</script>' looks CUDA-specific", 5,
               "'<script>alert(2)</script>'", category="unknown"),
        ]),
        FileResult("legacy.py", "python", Outcome.ERROR, [
            Finding("T001", "input", Status.UNSUPPORTED, "not valid Python 3: copied unchanged"),
        ], error="line 3: parser error"),
        FileResult("README.md", "other", Outcome.COPIED),
    ]
    support = {"target": "npu", "other_backends": ["xpu"],
               "evidence": [{"path": EVIL, "line": 1, "what": "imports `torch_npu`"}]}
    return Report("0.1.0", "abc123", "2.13.0", "/src/proj", "/out/proj", files, parity_suite="/out/proj/parity",
                  backend_support=support)


def test_review_folds_identical_findings_and_ranks_by_urgency():
    rev = review(sample_report())
    assert [a.status for a in rev.todo] == ["unsupported", "unsupported", "review", "unknown"]
    kernels = next(a for a in rev.todo if a.rule_id == "T002")
    assert kernels.count == 3 and len(kernels.items) == 2  # `scale` in two copies of the tree is one item
    assert kernels.items[0].files == ["copy_a/k.cu", "copy_b/k.cu"]
    assert kernels.title == "a CUDA kernel" and kernels.detail(kernels.items[1]) == ""  # the code says `shift`
    unmapped = next(a for a in rev.todo if a.rule_id == "T900")
    assert unmapped.advice == "`torch.cuda.mystery` has no mapping" and unmapped.detail(unmapped.items[0]) == ""
    assert [(i.code, i.files) for i in rev.low][0] == ("use_cuda", [EVIL, "train.py"])
    assert rev.parity["verdict"] == "not run"


def test_backend_support_opens_the_report():
    for fmt, name in (("md", "report.md"), ("html", "report.html")):
        text = RENDERERS[fmt](sample_report())[name]
        assert text.index("Other backends") < text.index("distinct item"), fmt
        assert "xpu" in text and "in 1 place(s)" in text


@pytest.mark.parametrize("code, expected", [
    ("use_cuda", LOW), ('"TORCH_CUDA_ARCH_LIST"', LOW), ("f'cuda:{rank}'", LOW),
    ("torch.cuda._lazy_call", UNMAPPED), ("args.cuda", UNMAPPED),
])
def test_unknown_findings_are_low_priority_only_for_plain_names_and_strings(code, expected):
    assert tier(Finding("T900", "unknown", Status.UNKNOWN, "m", None, code)) == expected


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_renderer_snapshot(fmt, tmp_path):
    written = write_reports(sample_report(), tmp_path, [fmt])
    assert written
    for path in written:
        text = path.read_text()
        snapshot = SNAPSHOTS / path.name
        if UPDATE:
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            snapshot.write_text(text)
        assert text == snapshot.read_text(), f"{path.name} changed: review, then PORTER_UPDATE_SNAPSHOTS=1"


def test_markdown_opens_with_what_to_do():
    text = RENDERERS["md"](sample_report())["report.md"]
    head = text.split("## Needs a human")[0]
    assert "## What to do" in head and "person-hours" in head and "Numeric parity: **not run**" in head
    assert head.index("a CUDA kernel") < head.index("CUDA extensions must be rebuilt")  # unsupported first
    assert "use_cuda" not in head  # low priority is summarised, never a top action
    assert text.index("## Lowest priority") > text.index("## Converted automatically")


def _validate_sarif(text):
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator(schema).validate(json.loads(text))


def test_sarif_validates_against_the_official_schema():
    log = json.loads(RENDERERS["sarif"](sample_report())["report.sarif"])
    _validate_sarif(json.dumps(log))
    run = log["runs"][0]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == {"T001", "T002", "T201", "T401", "T900"}
    assert all(r["helpUri"] == f"rules/{r['id']}.md" for r in run["tool"]["driver"]["rules"])
    converted = [r for r in run["results"] if r["properties"]["status"] == "converted"]
    fix = converted[0]["fixes"][0]["artifactChanges"][0]
    assert fix["replacements"][0]["insertedContent"]["text"] == '"npu"'
    assert fix["replacements"][0]["deletedRegion"] == {"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 11}
    evil = next(r for r in run["results"] if "onerror" in r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
    assert "<" not in evil["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]  # percent-encoded
    assert {r["level"] for r in run["results"]} == {"error", "warning", "note", "none"}


def test_sarif_of_a_real_port_validates(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "fixtures" / "projects" / "mini_gpt", src, symlinks=True)
    result = CliRunner().invoke(main, ["analyze", str(src), "--report-dir", str(tmp_path / "rep"), "--format", "sarif",
                                       "-q"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "rep" / "report.sarif").read_text()
    _validate_sarif(text)
    rules = json.loads(text)["runs"][0]["tool"]["driver"]["rules"]
    assert all(rule["help"]["text"] and rule.get("name") for rule in rules)  # built-in rules carry their docs


def _rows(text):
    return list(csv.reader(io.StringIO(text)))


def test_csv_uses_msfmktransplt_columns():
    files = RENDERERS["csv"](sample_report())
    assert _rows(files["change_list.csv"])[0] == ["File", "Start Line", "End Line", "Operation Type", "Message"]
    unsupported = _rows(files["unsupported_api.csv"])
    assert unsupported[0] == ["File", "Start Line", "End Line", "OP", "Tips"]
    assert ["copy_b/k.cu", "20", "20", "__global__ void shift"] in [row[:4] for row in unsupported]
    assert _rows(files["change_list.csv"])[1][:4] == ["train.py", "3", "3", "replace"]
    findings = _rows(files["findings.csv"])
    assert len(findings) == 1 + sum(len(r.findings) for r in sample_report().files)
    assert {row[8] for row in findings[1:]} >= {"low priority", "unsupported", "converted"}


def test_csv_cells_never_start_a_formula():
    report = sample_report()
    report.files[0].findings[0].original = "=HYPERLINK(\"x\")"
    rows = _rows(RENDERERS["csv"](report)["findings.csv"])
    assert all(not cell.startswith("=") for row in rows for cell in row)


def test_report_command_rerenders_and_reads_an_older_schema(tmp_path):
    data = sample_report().to_dict()
    data["schema_version"] = "1.0"
    for file in data["files"]:
        file.pop("diff", None)  # 1.0 reports had no diffs
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(data))
    result = CliRunner().invoke(main, ["report", str(saved), "--format", "html", "--format", "csv", "-o",
                                       str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "report.html", "change_list.csv", "unsupported_api.csv", "unknown_api.csv", "findings.csv"}
    assert {r.path for r in load_report(saved).files} == {r.path for r in sample_report().files}


def test_report_command_writes_rule_pages_beside_the_views(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "fixtures" / "projects" / "mini_gpt", src, symlinks=True)
    assert CliRunner().invoke(main, ["analyze", str(src), "--report-dir", str(tmp_path / "rep"), "-q"]).exit_code == 0
    out = tmp_path / "elsewhere"
    result = CliRunner().invoke(main, ["report", str(tmp_path / "rep" / "report.json"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    linked = set(re.findall(r'href="rules/(\w+)\.md"', (out / "report.html").read_text()))
    assert linked and all((out / "rules" / f"{rule}.md").is_file() for rule in linked)


def test_report_command_rejects_another_major_schema(tmp_path):
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps({**sample_report().to_dict(), "schema_version": "2.0"}))
    result = CliRunner().invoke(main, ["report", str(saved)])
    assert result.exit_code == 2 and "schema" in result.output


def test_diff_survives_the_json_round_trip(tmp_path):
    write_reports(sample_report(), tmp_path, ["json"])
    by_path = {r.path: r for r in load_report(tmp_path / "report.json").files}
    assert by_path["train.py"].diff.endswith('+x = "npu"\n') and by_path["README.md"].diff is None


def test_a_report_read_back_renders_its_json_byte_for_byte(tmp_path):
    """`porter report` and the parity commands rewrite report.json from a loaded report: nothing may be lost,
    the generated Ascend C files of a kernel included."""
    report = sample_report()
    kernel = next(r for r in report.files if r.path == "copy_a/k.cu")
    kernel.generated = {"copy_a/k_ascendc/k.asc": b"kernel", "copy_a/k_ascendc/CMakeLists.txt": b"cmake"}
    write_reports(report, tmp_path, ["json"])
    saved = (tmp_path / "report.json").read_text()
    assert "copy_a/k_ascendc/k.asc" in saved
    assert RENDERERS["json"](load_report(tmp_path / "report.json"))["report.json"] == saved


def test_analyze_writes_nothing_unless_asked(tmp_path, monkeypatch):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "fixtures" / "projects" / "mini_gpt", src, symlinks=True)
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(main, ["analyze", str(src)])
    assert result.exit_code == 0, result.output
    assert "top actions:" in result.output and "person-hours" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before and not (src / "porter-report").exists()


def _with_generated_files() -> Report:
    report = sample_report()
    next(r for r in report.files if r.path == "copy_a/k.cu").generated = {"copy_a/k_ascendc/k.asc": b"kernel"}
    return report


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_every_view_is_a_function_of_report_json(tmp_path, fmt):
    """What caching the views under a hash of report.json relies on."""
    report = _with_generated_files()
    write_reports(report, tmp_path, ["json"])
    assert RENDERERS[fmt](load_report(tmp_path / "report.json")) == RENDERERS[fmt](report)


def test_views_come_from_the_cache_until_the_report_changes(tmp_path, monkeypatch):
    report, cache_dir = _with_generated_files(), tmp_path / "cache"
    first = {p.name: p.read_bytes() for p in write_reports(report, tmp_path / "a", ["json", "md", "html"], cache_dir)}
    rendered = []
    for fmt in ("md", "html"):
        monkeypatch.setitem(RENDERERS, fmt, lambda r, fmt=fmt, real=RENDERERS[fmt]: rendered.append(fmt) or real(r))
    again = {p.name: p.read_bytes() for p in write_reports(report, tmp_path / "b", ["json", "md", "html"], cache_dir)}
    assert again == first and rendered == []
    report.files[0].findings.pop()
    write_reports(report, tmp_path / "c", ["md", "html"], cache_dir)
    assert rendered == ["md", "html"]


def test_a_corrupt_cached_view_is_rendered_again(tmp_path):
    report, cache_dir = _with_generated_files(), tmp_path / "cache"
    write_reports(report, tmp_path / "a", ["md"], cache_dir)
    for entry in cache_dir.rglob("*.json"):
        entry.write_bytes(entry.read_bytes()[:-10])
    write_reports(report, tmp_path / "b", ["md"], cache_dir)
    assert (tmp_path / "b" / "report.md").read_bytes() == (tmp_path / "a" / "report.md").read_bytes()
