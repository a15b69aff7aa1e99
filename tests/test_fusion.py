"""PY416 (--fuse): the fused call computes what the written-out product did, checked on CPU with a model of
torch_npu.npu_rms_norm written from its documentation (porter.parity.models); and nothing is fused unless the user asks."""

import types

import pytest
import torch

from porter.parity.models import npu_rms_norm
from porter.python import port_python

FORMS = [
    "x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight",
    "weight * x * torch.rsqrt(x.square().mean(dim=-1, keepdim=True) + eps)",
    "weight * (x * torch.rsqrt((x ** 2).mean(-1, keepdim=True) + 1e-5))",
    "torch.rsqrt(eps + x.pow(2).mean(-1, keepdim=True)) * weight * x",
]


def _ported(expression: str, ruleset) -> str:
    source = f"import torch\n\n\ndef norm(x, weight, eps):\n    return {expression}\n"
    new, findings = port_python(source, ruleset)
    assert new is not None and any(f.rule_id == "PY416" for f in findings), (source, findings)
    return new


def _run(source: str, x, weight, eps):
    scope = {"torch_npu": types.SimpleNamespace(npu_rms_norm=npu_rms_norm)}
    exec(compile(source.replace("import torch_npu\n", ""), "<ported>", "exec"), scope)
    return scope["norm"](x, weight, eps)


@pytest.mark.parametrize("expression", FORMS)
def test_the_fused_call_computes_the_written_out_product(expression, ruleset):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 64, generator=generator, dtype=torch.float64)
    weight = torch.rand(64, generator=generator, dtype=torch.float64) + 0.5
    eps = 1e-5
    written_out = eval(expression, {"torch": torch, "x": x, "weight": weight, "eps": eps})
    fused = _run(_ported(expression, ruleset.enabling("fuse")), x, weight, eps)
    torch.testing.assert_close(fused, written_out, rtol=1e-12, atol=0)


def test_without_fuse_the_product_only_gets_advice(ruleset):
    source = f"import torch\n\n\ndef norm(x, weight, eps):\n    return {FORMS[0]}\n"
    new, findings = port_python(source, ruleset)
    assert new is None and {f.rule_id for f in findings} == {"PY414"}


def test_fuse_is_part_of_the_rule_set_identity(ruleset):
    """The cache key and the prefilter's triggers come from it: a --fuse run never reuses a plain run's results."""
    assert ruleset.enabling("fuse").content_hash != ruleset.content_hash


def test_the_cli_fuses_only_with_the_flag(tmp_path):
    from click.testing import CliRunner

    from porter.cli import main

    source = tmp_path / "src"
    source.mkdir()
    (source / "norm.py").write_text(f"import torch\n\n\ndef norm(x, weight, eps):\n    return {FORMS[0]}\n")
    for flags, fused in (([], False), (["--fuse"], True)):
        out = tmp_path / f"out{len(flags)}"
        result = CliRunner().invoke(main, ["port", str(source), "-o", str(out), "--no-parity", "--no-cache", *flags])
        assert result.exit_code == 0, result.output
        assert ("torch_npu.npu_rms_norm(x, weight, epsilon=eps)[0]" in (out / "norm.py").read_text()) is fused
