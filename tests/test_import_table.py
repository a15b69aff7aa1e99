"""Qualified names from the import table (porter.python.import_table) against libcst's scope analysis: the
table must answer what the scope analysis answers, for every name a rule can ask about, or not answer at all."""

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider, QualifiedNameSource, ScopeProvider

from porter.python import ModuleContext, port_python
from porter.python.base import CallIndex, Proposals, RuleVisitor, root_name, scan_names
from porter.python.prefilter import triggers_of
from porter.python.span_index import Containers
from porter.ruleset import load_ruleset

REPO = Path(__file__).resolve().parents[1]
TRICKY = '''
import os.path
import torch, torch.distributed as dist
import torch.nn.functional
import numpy as np
from . import sibling
from .pkg.mod import helper as h
from apex.optimizers import FusedAdam
from apex import amp
from flash_attn import *
import a.b.c
try:
    from fast import kernel
except ImportError:
    from slow import kernel
try:
    import triton
except ImportError:
    triton = None
if os.path.exists("x"):
    import yaml

def f(x, np_alias=np):
    import json
    torch.cuda.synchronize()
    dist.all_reduce(x)
    y = torch.nn.functional.gelu(x, approximate="tanh")
    amp.initialize(x, opt_level="O1")
    kernel(x)
    json.dumps(1)
    a.b.c.d(); a.x; os.path.join("a"); os.getcwd()
    return FusedAdam(x, lr=1e-3), sibling.g(), h(), np.linalg.norm(x), yaml.safe_load, triton.jit

class Model(torch.nn.Module):
    amp = None
    def forward(self, x):
        global np
        return amp, x.cuda(), torch.cuda.amp.autocast(enabled=True)

def g(dist):
    return dist.barrier

try:
    from te import Linear, Norm
except ImportError:
    Linear, Norm = None, None

def outer():
    import numpy as np
    try:
        from fast import fused
    except ImportError:
        fused = None
    @np.vectorize
    def inner(x=np.pi):
        return np.sqrt(x), fused(x), Linear, Norm
    return np, inner

@torch.no_grad()
def shadowed():
    sqrt = None
    return sqrt(2)

def imports_sqrt():
    from math import sqrt
    return sqrt

def decorated():
    from fast import wrap
    @wrap.deco  # evaluated in decorated(), not in the function it decorates
    def wrapped():
        from slow import wrap
        return wrap.inner
    return wrapped

def early():
    dynamo = getattr(torch, "_dynamo", None)  # before the import: libcst resolves this use to the assignment only
    if dynamo is None:
        import torch._dynamo as dynamo
    return dynamo.config

try:
    from fast import setup
    setup.run()  # sees the first import only
except ImportError:
    from slow import setup

class Holder:
    import pickle
    dumps = pickle.dumps
    def method(self):
        return pickle, np.ones

from ckpt import save, gather
from kit import tool, norm, clip
import wrapper
wrapper = wrapper.wrap(1)  # uses the import: the assignment comes after it
wrapper.after()

class Trainer:
    def save(self, path):  # binds `save` in the class body only: the method bodies see the import
        return save(path), gather(self)
    def gather(self):
        return norm
    @staticmethod
    def tool():
        return tool.run
    alias = tool  # the class body names it: left to the scope analysis

def loader(norm, *args, **kwargs):  # a parameter the body never names
    return save(args)

def keeps(clip):  # a parameter the body names: the scope analysis decides
    return clip(1)

def prepares(model):
    from torch.distributed.tensor import DTensor
    sharded = isinstance(model, DTensor)  # the import below binds it the same way: answered alike
    from torch.distributed.tensor import DTensor
    return sharded, DTensor

def probes():
    import torch
    ready = torch.xpu.is_available()  # before `import torch.mps`, which reads `torch.xpu` the same way
    import torch.mps
    return ready, torch.mps.current_allocated_memory()

def engines(flag):
    if flag:
        import intel_engine as te
        te.setup()  # sees the first import only: the scope analysis decides
    else:
        import transformer_engine.pytorch as te
    return te.Linear

try:
    from functools import cached_property
except ImportError:
    def cached_property(func):  # the definition's own name answers as the scope analysis says: the import
        return func

def provider(kind):
    def build(n):  # a function that defines and imports one name: the scope analysis decides
        return n
    if kind:
        from pretrain import build
    return 1

def takes(marshal):
    import marshal  # a parameter its function imports
    return 1

def lazily():
    import zlib
    return zlib

def elsewhere():
    return zlib.crc32  # no import in reach: nothing an import binds, as the scope analysis says

from inspect import signature
import groups_mod as groups

class Record:
    signature: tuple  # a class attribute the class body never reads: the methods see the import
    rank = None
    def check(self):
        return signature(self), groups.size()

def rebinds():
    groups = None  # hides the import in this function only: the scope analysis decides here
    return groups.rank

def reads_groups():
    return groups.rank_of()
'''


class _Probe(RuleVisitor):
    """Asks for every name, as rules do, and keeps what the scope analysis alone said (the previous resolution)."""

    METADATA_DEPENDENCIES = (PositionProvider, ScopeProvider)

    def __init__(self, proposals):
        super().__init__(None, proposals)
        self.pairs = []

    def _probe(self, node):
        bound = self.proposals.import_bound
        scope = self.get_metadata(ScopeProvider, node, None)
        if (bound is not None and root_name(node) not in bound) or scope is None:
            by_scope = frozenset()
        else:
            by_scope = frozenset(q.name for q in scope.get_qualified_names_for(node)
                                 if q.source in (QualifiedNameSource.IMPORT, QualifiedNameSource.BUILTIN))
        self.pairs.append((cst.Module([]).code_for_node(node), self.imported_names(node), by_scope,
                           self.is_imported(node)))

    def visit_Name(self, node):
        self._probe(node)

    def visit_Attribute(self, node):
        self._probe(node)

    def visit_Call(self, node):
        self._probe(node)


def _compare(source: str, unread: frozenset[str] = frozenset()):
    names = scan_names(source)
    wrapper = MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
    asked = []

    def scope_of(node):  # what port_python's lazy scope analysis answers, noting who asked
        asked.append(node)
        return wrapper.resolve(ScopeProvider).get(node)

    proposals = Proposals(edits=[], findings=[], covered=Containers(source.count("\n") + 1),
                          import_bound=names.import_bound, call_funcs={}, imports=names.imports, scope_of=scope_of,
                          unread=unread)
    probe = _Probe(proposals)
    wrapper.visit_batched([CallIndex(proposals), probe])
    return probe.pairs, asked


def _sources():
    return sorted(path for path in (REPO / "fixtures").rglob("*.py"))


def test_the_table_answers_what_the_scope_analysis_answers_on_tricky_imports():
    pairs, asked = _compare(TRICKY)
    wrong = [(code, fast, slow) for code, fast, slow, _ in pairs if fast != slow]
    assert not wrong, wrong
    by_scope = {cst.Module([]).code_for_node(node) for node in asked}
    answered = {code: fast for code, fast, slow, _ in pairs if fast and code not in by_scope}
    assert answered["torch.nn.functional.gelu"] == {"torch.nn.functional.gelu"}
    assert answered["os.path.join"] == {"os.path.join"} and answered["FusedAdam"] == {"apex.optimizers.FusedAdam"}
    assert answered["sibling.g"] == {".sibling.g"} and answered["h"] == {".pkg.mod.helper"}
    assert answered["a.b.c.d"] == {"a.b.c.d"}
    assert answered["kernel"] == {"fast.kernel", "slow.kernel"}  # a fallback chain: both, as the scope analysis says
    assert answered["triton.jit"] == {"triton.jit"}  # `triton = None` in the fallback is a local name
    assert answered["json.dumps"] == {"json.dumps"}  # imported inside the function that uses it
    assert answered["Linear"] == {"te.Linear"}  # `Linear, Norm = None, None` in the fallback: local names
    assert answered["fused"] == {"fast.fused"}  # a fallback inside the function that imports it
    assert answered["wrap.deco"] == {"fast.wrap.deco"} and answered["wrap.inner"] == {"slow.wrap.inner"}
    assert answered["save"] == {"ckpt.save"} and answered["gather"] == {"ckpt.gather"}  # beside methods so named
    assert answered["norm"] == {"kit.norm"}  # beside a parameter so named
    assert answered["wrapper.wrap"] == {"wrapper.wrap"} and answered["wrapper.after"] == {"wrapper.after"}
    assert answered["torch.xpu.is_available"] == {"torch.xpu.is_available"}
    assert {code for code in answered if code == "DTensor"} and "DTensor" not in by_scope
    assert answered["cached_property"] == {"functools.cached_property"}  # beside a module-level fallback def
    assert answered["amp"] == {"apex.amp"}  # Model.forward reads the import, not the class attribute `amp = None`
    assert answered["signature"] == {"inspect.signature"} and answered["groups.rank_of"] == {"groups_mod.rank_of"}
    assert answered["groups.size"] == {"groups_mod.size"} and "groups.rank" in by_scope
    assert "zlib.crc32" not in by_scope and "zlib.crc32" not in answered
    # bound otherwise too (np, dist, sqrt), imported in a class body (pickle), used before a later binding in
    # the same scope (dynamo, setup): the scope analysis decides
    assert by_scope >= {"np", "dist", "sqrt", "pickle", "dynamo.config", "setup.run", "tool.run", "clip",
                        "te.setup"}
    assert not by_scope & {"torch", "FusedAdam", "h", "kernel", "json", "Linear", "fused", "save", "gather", "norm",
                           "wrapper.wrap"}


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_the_table_agrees_with_the_scope_analysis_on_every_fixture(path):
    source = path.read_text(encoding="utf-8")
    try:
        pairs, _ = _compare(source)
    except cst.ParserSyntaxError:
        pytest.skip("not Python 3")
    wrong = [(code, fast, slow) for code, fast, slow, _ in pairs if fast != slow]
    assert not wrong, wrong


READ = triggers_of(load_ruleset("2.13.0")).read


def _beside_read(name: str) -> bool:
    return any(read.startswith(name) or name.startswith(read) for read in READ)


@pytest.mark.parametrize("path", [None, *_sources()], ids=lambda p: "TRICKY" if p is None else str(p.relative_to(REPO)))
def test_a_name_no_rule_reads_resolves_to_nothing_a_rule_reads(path):
    """ImportTable.unread: whatever the scope analysis answers for such a name is no rule's; the frontend then
    answers nothing for it (is_imported still asks the scope analysis whether it is imported)."""
    source = TRICKY if path is None else path.read_text(encoding="utf-8")
    names = scan_names(source)
    if names.imports is None:
        pytest.skip("not Python 3")
    unread = names.imports.unread(READ)
    pairs, _ = _compare(source, unread)
    for code, fast, slow, imported in pairs:
        root = code.split(".")[0].split("(")[0]
        assert imported == bool(slow), code
        if root in unread:
            assert not any(map(_beside_read, slow)), (code, slow)
            assert fast in (slow, frozenset()), (code, fast, slow)
        else:
            assert fast == slow, (code, fast, slow)


def test_which_imported_names_no_rule_reads():
    names = scan_names('''
import torch.distributed as dist
import socket
import os.path
from dataclasses import field
from .helpers import cuda_state
from deepspeed.utils import groups
from deepspeed import ops
from deepspeed import comm as dist
from apex import amp
from numba import jit
from functools import reduce
from builtins import open as print
''')
    unread = names.imports.unread(READ)
    assert {"socket", "os", "field", "cuda_state", "groups", "reduce", "jit"} <= unread
    # torch (read), deepspeed.ops (a rule names names below it), apex.amp, a name `dist` one of whose imports is
    # read, builtins named as a rule's
    assert not unread & {"dist", "ops", "amp"}
    assert "print" in unread  # `builtins.open`: no rule reads builtins


_BOUND_OTHERWISE = '''
import torch
from .connections import socket


def serve(sockets):
    for socket in sockets:  # binds the name otherwise: the import table leaves `socket` to the scope analysis
        socket.close()
    torch.cuda.synchronize()
'''


def test_a_module_whose_unanswered_names_no_rule_reads_needs_no_scope_analysis(ruleset, monkeypatch):
    resolved = []
    original = MetadataWrapper.resolve

    def resolve(self, provider):
        resolved.append(provider)
        return original(self, provider)

    monkeypatch.setattr(MetadataWrapper, "resolve", resolve)
    new, findings = port_python(_BOUND_OTHERWISE, ruleset, context=ModuleContext("serve.py"))
    assert "torch.npu.synchronize()" in new and ScopeProvider not in resolved
    # a method a rule renames on that name: whether it is imported is the scope analysis's to say
    new, _ = port_python(_BOUND_OTHERWISE.replace("socket.close()", "socket.cuda()"), ruleset,
                         context=ModuleContext("serve.py"))
    assert "socket.npu()" in new and ScopeProvider in resolved
