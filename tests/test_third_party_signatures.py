"""Every call a library transform writes uses parameters the target really has.

torch_npu ops are checked against the parameter names in the API snapshot (`signatures`, extracted from the
wheel's op schemas by scripts/extract_api_surface.py); torch APIs against the installed torch 2.13.0.
"""

import dataclasses
import importlib.util
import inspect
import json
import re
import sys
from pathlib import Path

import libcst as cst
import pytest
import torch

from porter.python import port_python
from porter.python.base import dotted_text
from porter.python.transforms import TRANSFORMS, lookup, transforms_of
from porter.resources import data_dir
from porter.ruleset import RuleError

ROOT = Path(__file__).resolve().parent.parent
CORPUS = [ROOT / "fixtures" / "rules" / rule_id / "before.py" for rule_id in ("PY401", "PY411", "PY412")]
EXTRA = """
import xformers.ops as xops
from flash_attn import flash_attn_func, flash_attn_kvpacked_func
from apex.parallel import SyncBatchNorm
from apex.optimizers import FusedAdam
a = flash_attn_kvpacked_func(q.float(), kv, dropout_p=0.1, softmax_scale=0.5)
b = flash_attn_func(q, k, v, dropout_p=0.1, causal=True, softmax_scale=None, deterministic=False)
c = xops.memory_efficient_attention(q.float(), k, v, p=0.1, scale=0.5)
d = xops.memory_efficient_attention(q, k, v, attn_bias=xops.fmha.attn_bias.LowerTriangularFromBottomRightMask())
e = SyncBatchNorm(64, eps=1e-3, momentum=0.05, affine=True, track_running_stats=True, process_group=group)
f = FusedAdam(params, lr=1e-3, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=False, set_grad_none=True)
"""


def _npu_signatures() -> dict[str, list[str]]:
    return json.loads((data_dir("rules") / "targets" / "torch_npu-2.13.0.json").read_text())["signatures"]


def _torch_parameters(dotted: str) -> list[str]:
    obj = torch
    for part in dotted.split(".")[1:]:
        obj = getattr(obj, part)
    try:
        return list(inspect.signature(obj).parameters)
    except ValueError:  # a builtin: its docstring starts with the signature, some with annotations
        head = re.match(r"\s*\w+\((.*?)\)\s*->", obj.__doc__, re.S).group(1)
        return [re.split("[=:]", arg)[0].strip(" *") for arg in head.split(",") if arg.strip(" *")]


def _emitted_calls(ruleset):
    sources = [path.read_text() for path in CORPUS] + [EXTRA]
    for source in sources:
        new, _ = port_python(source, ruleset)
        calls = []

        class Collect(cst.CSTVisitor):
            def visit_Call(self, node):
                name = dotted_text(node.func)
                if name and name.split(".")[0] in ("torch", "torch_npu"):
                    calls.append((name, node))

        cst.parse_module(new).visit(Collect())
        yield from calls


def test_transforms_emit_only_real_parameters(ruleset):
    torch_npu = _npu_signatures()
    seen = set()
    for name, call in _emitted_calls(ruleset):
        params = torch_npu[name] if name.startswith("torch_npu.") else _torch_parameters(name)
        keywords = [arg.keyword.value for arg in call.args if arg.keyword]
        positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
        assert set(keywords) <= set(params), f"{name} has no parameter {set(keywords) - set(params)}"
        assert len(positional) <= len(params) or name == "torch.ones", name
        seen.add(name)
    assert {"torch_npu.npu_fusion_attention", "torch_npu.npu_fused_infer_attention_score", "torch.as_tensor",
            "torch.arange", "torch.nn.functional.scaled_dot_product_attention", "torch.optim.AdamW",
            "torch.optim.Adam", "torch.optim.SGD", "torch.nn.RMSNorm", "torch.nn.LayerNorm", "torch.nn.SyncBatchNorm",
            "torch.nn.parallel.DistributedDataParallel", "torch.nn.SyncBatchNorm.convert_sync_batchnorm"} <= seen


def test_npu_fusion_attention_positional_order():
    """head_num and input_layout are passed positionally: they must be the 4th and 5th parameters."""
    assert _npu_signatures()["torch_npu.npu_fusion_attention"][:5] == ["query", "key", "value", "head_num",
                                                                     "input_layout"]


def test_every_transform_in_the_rules_exists(ruleset):
    named = {e.transform for r in ruleset.of_kind("call_transform") for e in r.entries}
    assert named and named <= set(TRANSFORMS)
    for name in named:
        transform = lookup(name)
        assert transform.positional <= len(transform.params)
    with pytest.raises(KeyError, match="known:"):
        lookup("attention.no_such_transform")


def test_a_rule_naming_an_unknown_transform_is_named_in_the_error(ruleset):
    rule = ruleset.of_kind("call_transform")[0]
    broken = dataclasses.replace(rule, entries=[dataclasses.replace(rule.entries[0], transform="apex.nothing")])
    with pytest.raises(RuleError, match=rf"rule {rule.id}: unknown transform 'apex.nothing'"):
        transforms_of(broken)
    assert transforms_of(rule) == {e.pattern: lookup(e.transform) for e in rule.entries}


def test_every_call_transform_replacement_exists(ruleset):
    from porter.surface import load_surface

    npu, torch_surface = load_surface("torch_npu", "2.13.0"), load_surface("torch", "2.13.0")
    for rule in ruleset.of_kind("call_transform"):
        for entry in rule.entries:
            name = entry.replacement
            if not (npu.has_python(name) or torch_surface.has_python(name)):
                assert _torch_parameters(name), f"{name}: neither in a snapshot nor in torch"  # torch.optim is not snapshotted


@pytest.fixture(scope="module")
def extractor():
    spec = importlib.util.spec_from_file_location("extract_api_surface_sigs", ROOT / "scripts" / "extract_api_surface.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_schema_parameters_are_read_whole(extractor, tmp_path):
    aten = tmp_path / "torch_npu" / "csrc" / "aten"
    aten.mkdir(parents=True)
    (aten / "ops.yaml").write_text(
        "official:\n  - func: add(Tensor self, Tensor other) -> Tensor\n"
        "custom:\n"
        "  - func: npu_fake(Tensor self, int[2] stride=[1, 1], *, float eps=1e-6, str mode=\"a,b\") -> Tensor\n"
        "  - func: npu_fake.out(Tensor self, *, Tensor(a!) out) -> Tensor(a!)\n")
    wheel = extractor.Wheel(tmp_path, "torch_npu", "9.9.0", "x.whl")
    assert extractor.op_signatures(wheel) == {"torch_npu.npu_fake": ["self", "stride", "eps", "mode"]}
