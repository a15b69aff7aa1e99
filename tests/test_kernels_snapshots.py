"""The fixture extensions' generated Ascend C projects, byte for byte (PORTER_UPDATE_SNAPSHOTS=1 refreshes them),
and every Ascend C name they use checked against the cited list in porter/kernels/ascendc_names.yaml."""

import os
import re
from pathlib import Path

import pytest
import yaml

from porter.kernels import port_kernels
from porter.ruleset import RuleSet, load_rule_file

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "fixtures" / "native"
EXTENSIONS = ["ext_elementwise", "ext_bias_act", "ext_reduction"]
RULES = RuleSet(tuple(load_rule_file(ROOT / "rules" / "kernels.yaml")), "2.13.0")
NAMES = yaml.safe_load((ROOT / "porter" / "kernels" / "ascendc_names.yaml").read_text(encoding="utf-8"))["names"]


def _sources(extension: str) -> list[Path]:
    return sorted((NATIVE / extension).rglob("*.cu"))


def _port(extension: str, source: Path):
    relpath = source.relative_to(NATIVE / extension).as_posix()
    return relpath, port_kernels(relpath, source.read_bytes(), RULES)


def _outputs(extension: str) -> dict[str, bytes]:
    files = {}
    for source in _sources(extension):
        relpath, port = _port(extension, source)
        files.update(port.generated)
        lines = [f"{f.rule_id} {f.status.value} {f.span.line}:{f.span.column} {f.message}" for f in port.findings]
        files[f"{relpath}.findings.txt"] = ("\n".join(lines) + "\n").encode()
    return files


@pytest.mark.parametrize("extension", EXTENSIONS)
def test_generated_files_match_snapshots(extension):
    expected_dir = NATIVE / f"{extension}.expected"
    produced = _outputs(extension)
    if os.environ.get("PORTER_UPDATE_SNAPSHOTS"):
        for path, data in produced.items():
            (expected_dir / path).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / path).write_bytes(data)
    expected = {p.relative_to(expected_dir).as_posix(): p.read_bytes() for p in expected_dir.rglob("*") if p.is_file()}
    assert sorted(produced) == sorted(expected)
    for path, data in produced.items():
        assert data == expected[path], f"{extension}: {path} differs from its snapshot"


@pytest.mark.parametrize("extension", EXTENSIONS)
def test_porting_twice_generates_the_same_bytes(extension):
    assert _outputs(extension) == _outputs(extension)


def test_the_fixtures_cover_every_outcome():
    """Synthesised, scaffold with composite, and manual kernels all occur, with the reasons the rules promise."""
    findings = [f for ext in EXTENSIONS for src in _sources(ext) for f in _port(ext, src)[1].findings]
    by_rule = {rule: [f.message for f in findings if f.rule_id == rule] for rule in ("KRN301", "KRN302", "KRN303", "KRN304")}
    assert len(by_rule["KRN301"]) == 3  # fused_fma, scaled_mul, bias_silu
    assert any("`bias[i % channels]` is broadcast" in m and "composite fallback" in m for m in by_rule["KRN302"])
    assert any("row_sum_kernel`: reduction" in m for m in by_rule["KRN302"])
    assert len(by_rule["KRN303"]) == 5
    assert {m.split(":")[0] for m in by_rule["KRN304"]} >= {"__shared__ memory", "atomics", "thread barriers"}


@pytest.mark.parametrize("extension", EXTENSIONS)
def test_generated_python_compiles(extension):
    for path, data in _outputs(extension).items():
        if path.endswith(".py"):
            compile(data, path, "exec")


def _emitted_names(text: str) -> set[str]:
    names = set(re.findall(r"AscendC::(\w+)", text))
    names |= set(re.findall(r"\b(__aicore__|__global__|__vector__|__gm__)\b", text))
    names |= {m for m in re.findall(r'#include [<"]([^>"]+)[>"]', text)
              if m not in ("torch/extension.h", "cstdint") and "tiling" not in m}  # torch's, the C++ library's, porter's
    names |= set(re.findall(r"\.(SetGlobalBuffer|InitBuffer|AllocTensor|EnQue|DeQue|FreeTensor|Get)\b", text))
    names |= set(re.findall(r"c10_npu::\w+", text)) | set(re.findall(r"RoundMode::(\w+)", text))
    names |= set(re.findall(r"Kernel<(\w+), (?:true|false)>", text)) - {"float"}  # element types instantiated
    return names


def test_every_emitted_ascendc_name_is_cited():
    texts = [data.decode() for ext in EXTENSIONS for path, data in _outputs(ext).items() if path.endswith(".asc")]
    texts += [p.read_text(encoding="utf-8") for p in (ROOT / "templates").glob("ascendc*.j2")]
    texts += [f"AscendC::{names[0]}" for names in RULES.by_id("KRN301").contexts["vector_ops"].values() if names[0]]
    emitted = set().union(*(_emitted_names(t) for t in texts))
    assert {"DataCopyPad", "TQue", "Add", "Mul", "Exp", "Div", "__vector__", "bfloat16_t"} <= emitted  # the check sees real output
    assert not emitted - set(NAMES), f"uncited Ascend C names: {sorted(emitted - set(NAMES))}"
    assert all(NAMES[name].endswith((".asc", ".md")) for name in NAMES)


def test_the_name_check_catches_an_uncited_name():
    assert "MulAddRelu" in _emitted_names("AscendC::MulAddRelu(dst, a, b, count);") - set(NAMES)
