"""The stdlib-tree path answers a module's findings exactly as the libcst frontend does, or declines."""

from __future__ import annotations

from pathlib import Path

import pytest

from porter.python import VISITOR_FOR_KIND, ModuleContext, port_with_libcst
from porter.python.report_only import IMPLEMENTED, RULED_OUT, report_only
from porter.python.safety.policies import POLICIES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PYTHON_FIXTURES = sorted(FIXTURES.rglob("*.py"))


def _both(ruleset, source: str, relpath: str = "m.py"):
    """The stdlib-tree path's answer and, where it answers, the libcst frontend's."""
    context = ModuleContext(relpath)
    fast = report_only(source, ruleset, frozenset(), context)
    return fast, None if fast is None else port_with_libcst(source, ruleset, frozenset(), context)


def _dicts(findings):
    return [finding.to_dict() for finding in findings]


def test_every_fixture_it_answers_gets_libcsts_findings(ruleset):
    answered = 0
    for path in PYTHON_FIXTURES:
        source = path.read_text(encoding="utf-8", errors="replace")
        fast, libcst = _both(ruleset, source, str(path.relative_to(FIXTURES)))
        if fast is None:
            continue
        new_source, findings = libcst
        answered += 1
        assert new_source is None, path
        assert _dicts(fast) == _dicts(findings), path
    assert answered >= 30  # the comparison covers real fixtures, not only the trivial ones


@pytest.mark.parametrize("rule_id", ["PY414", "PY415", "PY417", "PY418", "PY419"])
def test_advice_fixtures_are_answered_without_a_libcst_pass_over_the_module(ruleset, rule_id):
    for name in ("before.py", "after.py"):
        fast, libcst = _both(ruleset, (FIXTURES / "rules" / rule_id / name).read_text(encoding="utf-8"))
        assert fast is not None and any(f.rule_id == rule_id for f in fast)
        assert _dicts(fast) == _dicts(libcst[1])


@pytest.mark.parametrize("source", [
    "import apex\nimport os, amp_C ,  sys\n",  # an import rule; an alias's code runs to the next name
    "from apex.optimizers import (FusedAdam,\n    FusedLAMB,  # c\n)\nx = 1; from apex import amp ;y = 2\n",
    "import torch\nmodel = torch.compile(model)\nf = torch.jit.script\n",  # report-only renames
    "import torch as t\n\n\ndef f():\n    from torch import jit\n    return jit.trace(m, x)\n",  # aliases, scopes
    "use_cuda = True\nif args.no_cuda and use_cuda:\n    kernels = os.path.join(src, 'cuda_kernels')\n",  # residual
    "import torch\nx = torch.cuda.nvtx.range_push('a')\ny = torch.cuda.not_an_api()\n",  # covered; unmapped
    "def f(use_cuda=False, *cuda_args, **kw):\n    global HAS_CUDA\n    g(cuda_flag=1)\n",  # names in other places
    "s = 'é' + 'cudnn_v8'\nclass CudaThing:\n    pass\n",  # columns count characters
    "try:\n    import pycuda.driver as cuda\nexcept ImportError:\n    from .nccl_utils import x as nccl\n",
    "import torch\nx = torch.cat([a, -b])\nm = torch.compile(model)\n",  # a fusion API without its rule's text
    # a class named for another backend that holds no finding: backend_implementation's veto changes nothing
    "use_cuda = 1\n\n\nclass XPUImpl:\n    z = use_cuda\n\n\n@register\nclass CPUOffload(XPUImpl):\n    pass\n",
    # advice, from libcst over the definitions that use the API (porter.python.fragments)
    "import torch.nn.functional as F\n\n\nclass A:\n    def f(self, q, k, v):\n        use_cuda = 1\n"
    "        return F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.p)\n",
    "import torch\n\n\ndef attend(q, k, v, cuda_mask):\n    attn = q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5\n"
    "    attn = attn.masked_fill(cuda_mask, -1e4).softmax(dim=-1)\n    return attn @ v\n",  # covers the identifier
    # the advice covers the written-out attention, the SDPA call's only its callee
    "import torch\n\n\n@torch.compile\ndef f(q, k, v):\n    return torch.softmax(q @ k.mT + cuda_bias, -1) @ v\n",
    "import torch.nn.functional as F\n\n\ndef f(q, k, v):\n"
    "    return F.scaled_dot_product_attention(q, k, v, attn_mask=cuda_mask)\n",
    "import torch\n\nm = torch.compile(model)\n\n\ndef f(x):\n    return x.softmax(-1)\n",  # no matmul: nothing
    # a definition parsed alone numbers its functions after the module's: `F` in g is g's own import
    "def f():\n    from mylib import functional as F\n    return F.scaled_dot_product_attention(1)\n\n\n"
    "def g(q, k, v):\n    import torch.nn.functional as F\n    return F.scaled_dot_product_attention(q, k, v)\n",
])
def test_answers_what_libcst_finds(ruleset, source):
    fast, (new_source, findings) = _both(ruleset, source)
    assert fast is not None
    assert new_source is None
    assert _dicts(fast) == _dicts(findings)
    assert findings  # each case has something to find


@pytest.mark.parametrize("source,relpath", [
    ("import torch\nx = torch.zeros(1).to('cuda')\n", "m.py"),  # a device string: context_string edits it
    ("model.cuda()\n", "m.py"),  # a method rule
    ("import torch\nok = torch.cuda.is_available()\n", "m.py"),  # a rename with a replacement
    ("x = 'cu' 'da:0'\n", "m.py"),  # libcst reads each literal alone
    ("x = f'{rank}cuda'\n", "m.py"),  # an f-string mentioning CUDA
    ("import torch\nm = (torch.compile)(model)\n", "m.py"),  # parentheses are part of libcst's code
    ("import torch\nm = (  # a comment\n    torch.compile\n)(model)\n", "m.py"),  # so with a comment inside
    ("if True:\n    from apex.optimizers import (FusedAdam,\n        FusedLAMB)\n", "m.py"),  # dedented by libcst
    ("class HPUAccelerator:\n    use_cuda = 1\n", "m.py"),  # backend_implementation drops findings
    ("use_cuda = 1\n", "accelerator/npu_accelerator.py"),  # the path names another backend
    ("if is_npu_available():\n    use_cuda = 0\n", "m.py"),  # backend_dispatch explains this chain
    ("import torch\ndef f(m):\n    torch = g()\n    return torch.compile(m)\n", "m.py"),  # libcst's scopes decide
    ("import torch\np = scores.\\\n    softmax(-1)\nm = torch.compile(model)\n", "m.py"),  # a fusion method across a line
    ("import torch\nx = torch.cat(\n    (-b, a))\nm = torch.compile(model)\n", "m.py"),  # with the text
    ("match x:\n    case cuda_mode:\n        pass\n", "m.py"),
    ("use_cuda = 1\r\n", "m.py"),
    # advice read off a module-level statement, whose block is the module's
    ("import torch\nuse_cuda = 1\ny = torch.softmax(q @ k.mT, -1) @ v\n", "m.py"),
    ("import torch.nn.functional as F\nuse_cuda = 1\ny = F.scaled_dot_product_attention(q, k, v)\n", "m.py"),
    # whether a receiver is imported is the scope analysis's to say (`scores` is bound by an import and a loop)
    ("from .helpers import scores\nuse_cuda = 1\n\n\ndef f(v):\n    for scores in v:\n        pass\n"
     "    return scores.softmax(-1) @ v\n", "m.py"),
])
def test_declines_what_it_does_not_reproduce(ruleset, source, relpath):
    fast, _ = _both(ruleset, source, relpath)
    assert fast is None


def test_knows_every_kind_the_libcst_frontend_runs():
    assert {*VISITOR_FOR_KIND, *POLICIES, "support_import"} == {*IMPLEMENTED, *RULED_OUT}
