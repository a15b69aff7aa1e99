"""Targeted behaviour of the Python frontend, including the failure modes seen in the official tool."""

import textwrap

import pytest

from porter.findings import Status
from porter.python import port_python


def port(source, ruleset):
    new, findings = port_python(textwrap.dedent(source), ruleset)
    return new, findings


@pytest.mark.parametrize(
    "source, expected_line",
    [
        ("import torch.cuda as tc\ntc.synchronize()\n", "torch.npu.synchronize()"),
        ("from torch import cuda\ncuda.synchronize()\n", "torch.npu.synchronize()"),
        ("import torch as th\nth.cuda.synchronize()\n", "th.npu.synchronize()"),
        ("from torch.cuda import synchronize as sync\nsync()\n", "torch.npu.synchronize()"),
        ("from torch.cuda.amp import autocast\nwith autocast():\n    pass\n", 'with torch.amp.autocast("npu"):'),
    ],
)
def test_names_resolve_through_imports_and_aliases(ruleset, source, expected_line):
    new, _ = port(source, ruleset)
    assert expected_line in new.splitlines()


def test_comments_docstrings_and_unrelated_strings_are_untouched(ruleset):
    source = '''\
        """Runs on cuda."""
        import os
        import torch
        # move to cuda
        LOG = "copying to cuda"
        path = os.path.join(root, "cuda")
        def f():
            """cuda docstring"""
            return torch.zeros(1, device="cuda")  # cuda comment
        '''
    new, findings = port(source, ruleset)
    expected = textwrap.dedent(source).replace('device="cuda"', 'device="npu"').replace(
        "import torch\n", "import torch\nimport torch_npu\n", 1)
    assert [line for line in new.splitlines() if line] == [line for line in expected.splitlines() if line]
    unknown = [f for f in findings if f.status is Status.UNKNOWN]
    assert [f.original for f in unknown] == ['"cuda"']  # the path component, reported not changed


def test_identifiers_containing_cuda_are_not_renamed(ruleset):
    new, findings = port("import torch\ncuda_ok = torch.cuda.is_available()\nprint(cuda_ok)\n", ruleset)
    assert "cuda_ok = torch.npu.is_available()" in new.splitlines()
    assert any(f.original == "cuda_ok" and f.status is Status.UNKNOWN for f in findings)


def test_model_module_and_to_calls_with_variables_are_left_alone(ruleset):
    source = "import torch\nraw = model.module\nx = x.to(device)\ny = y.to(rank)\n"
    new, findings = port(source, ruleset)
    assert new is None and not findings


def test_file_without_cuda_is_returned_unchanged(ruleset):
    new, findings = port("import torch\nx = torch.zeros(3)\n", ruleset)
    assert new is None and findings == []


def test_support_import_not_duplicated_inside_try_block(ruleset):
    source = "import torch\ntry:\n    import torch_npu\nexcept ImportError:\n    pass\ntorch.cuda.synchronize()\n"
    new, _ = port(source, ruleset)
    assert new.count("import torch_npu") == 1


def test_formatting_is_preserved(ruleset):
    source = "import torch\nx = torch.zeros(\n    3,\n    device = 'cuda:1',   # keep me\n)\n"
    new, _ = port(source, ruleset)
    assert "    device = 'npu:1',   # keep me\n" in new


def test_backend_comparison_and_fstring_device(ruleset):
    source = '''\
        import torch.distributed as dist
        def init(backend, rank):
            if backend == "nccl":
                dist.init_process_group(backend)
            return f"cuda:{rank}" if backend != "gloo" else "cpu"
        '''
    new, findings = port(source, ruleset)
    assert 'if backend == "hccl":' in new
    assert 'f"cuda:{rank}"' in new  # a return value of `init`, not of a device-named function: reported, not changed
    assert [f.status.value for f in findings if f.original == 'f"cuda:{rank}"'] == ["unknown"]


def test_positional_autocast_arguments_become_keywords(ruleset):
    new, _ = port("import torch\nwith torch.cuda.amp.autocast(True, torch.bfloat16):\n    pass\n", ruleset)
    assert 'torch.amp.autocast("npu", enabled=True, dtype=torch.bfloat16)' in new


def test_unknown_torch_cuda_api_is_reported(ruleset):
    new, findings = port("import torch\ntorch.cuda.some_future_api()\n", ruleset)
    assert new is None
    assert [(f.rule_id, f.status) for f in findings] == [("PY900", Status.UNKNOWN)]


def test_findings_carry_exact_spans(ruleset):
    _, findings = port("import torch\nx = 1; torch.cuda.synchronize()\n", ruleset)
    span = next(f.span for f in findings if f.rule_id == "PY101")
    assert (span.line, span.column, span.end_line, span.end_column) == (2, 8, 2, 29)


def test_imports_left_unused_by_a_rewrite_are_dropped_and_used_ones_kept(ruleset):
    new, _ = port("from torch.cuda import synchronize as s, Stream\nimport torch.cuda as tc\ns()\nx = tc\n", ruleset)
    assert new.splitlines() == ["from torch.cuda import Stream", "import torch.cuda as tc", "import torch",
                                "import torch_npu", "torch.npu.synchronize()", "x = tc"]


def test_attribute_of_a_converted_call_result_is_not_reported(ruleset):
    _, findings = port("import torch\nmem = torch.cuda.get_device_properties(0).total_memory\n", ruleset)
    assert [f.rule_id for f in findings if f.rule_id != "PY001"] == ["PY101"]


def test_the_repositorys_own_package_is_not_a_third_party_import(ruleset):
    source = "from causal_conv1d.interface import causal_conv1d_fn\nimport triton\n"
    _, own = port_python(source, ruleset, local_modules=frozenset({"causal_conv1d"}))
    assert [f.original for f in own] == ["triton"]
    _, foreign = port_python(source, ruleset)
    assert len(foreign) == 2


def test_an_fstring_device_and_an_api_in_its_placeholder_are_both_ported(ruleset):
    new, _ = port('import torch\ndevice = f"cuda:{torch.cuda.current_device()}"\n', ruleset)
    assert 'device = f"npu:{torch.npu.current_device()}"' in new  # found half-ported in diffusers
