"""Static discovery of the numerically important ops a repository uses, with the sizes and dtypes
its code spells as constants. Source text only: nothing is imported or executed.
"""

from __future__ import annotations

import ast
import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from porter.python.ast_nodes import nodes_with_depth
from porter.python.base import dotted_text, parsed

# Canonical dotted name (after resolving imports) -> op kind.
CALLS = {
    "torch.matmul": "matmul", "torch.mm": "matmul", "torch.bmm": "bmm", "torch.baddbmm": "bmm",
    "torch.einsum": "einsum", "torch.nn.Linear": "linear", "torch.nn.functional.linear": "linear",
    "torch.nn.Conv1d": "conv1d", "torch.nn.functional.conv1d": "conv1d",
    "torch.nn.Conv2d": "conv2d", "torch.nn.functional.conv2d": "conv2d",
    "torch.nn.functional.scaled_dot_product_attention": "sdpa",
    "torch_npu.npu_fusion_attention": "npu_fusion_attention",
    "torch.nn.LayerNorm": "layer_norm", "torch.nn.functional.layer_norm": "layer_norm",
    "torch.nn.RMSNorm": "rms_norm", "torch.nn.functional.rms_norm": "rms_norm", "torch_npu.npu_rms_norm": "rms_norm",
    "torch.softmax": "softmax", "torch.nn.functional.softmax": "softmax", "torch.nn.Softmax": "softmax",
    "torch.log_softmax": "log_softmax", "torch.nn.functional.log_softmax": "log_softmax",
    "torch.nn.functional.gelu": "gelu", "torch.nn.GELU": "gelu",
    "torch.nn.functional.silu": "silu", "torch.nn.SiLU": "silu", "torch_npu.npu_swiglu": "swiglu",
    "torch.nn.Embedding": "embedding", "torch.nn.functional.embedding": "embedding",
    "torch.nn.functional.cross_entropy": "cross_entropy", "torch.nn.CrossEntropyLoss": "cross_entropy",
    "torch.topk": "topk",
    "torch.optim.AdamW": "adamw", "torch.optim.Adam": "adam", "torch.optim.SGD": "sgd",
    "apex.optimizers.FusedAdam": "adamw",
    "torch.distributed.all_reduce": "all_reduce", "torch.distributed.broadcast": "broadcast",
    "torch.distributed.all_gather": "all_gather", "torch.distributed.all_gather_into_tensor": "all_gather",
    "torch.distributed.reduce_scatter": "reduce_scatter", "torch.distributed.reduce_scatter_tensor": "reduce_scatter",
    "torch.nn.parallel.DistributedDataParallel": "all_reduce",
}
CALL_PREFIXES = {"flash_attn.": "npu_fusion_attention"}  # flash_attn_func and friends: BSND layout
METHODS = {"matmul": "matmul", "mm": "matmul", "bmm": "bmm", "softmax": "softmax", "log_softmax": "log_softmax",
           "topk": "topk"}
# Locally defined modules recognised by name (e.g. a repository's own LayerNorm / RMSNorm class).
CLASS_SUFFIXES = {"RMSNorm": "rms_norm", "LayerNorm": "layer_norm"}
FSDP = "torch.distributed.fsdp.FullyShardedDataParallel"

DTYPE_SPELLINGS = {
    "float32": "fp32", "float": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16",
    "fp16": "fp16", "bf16": "bf16", "fp32": "fp32",
}

# Model-wide sizes, by the names repositories commonly give them.
MODEL_SIZES = {
    "hidden": ("n_embd", "hidden_size", "d_model", "embed_dim", "n_embed", "hidden_dim"),  # not `dim`: an axis
    "heads": ("n_head", "num_heads", "n_heads", "num_attention_heads"),
    "seq": ("block_size", "max_seq_len", "seq_len", "max_position_embeddings", "context_length", "n_positions",
            "max_seq_length"),
    "vocab": ("vocab_size", "n_vocab", "num_tokens"),
}


@dataclass
class Usage:
    op: str
    where: str  # "path:line"
    dims: dict = field(default_factory=dict)  # sizes spelled as constants at the call
    params: dict = field(default_factory=dict)


@dataclass
class Analysis:
    usages: list[Usage]
    dtypes: list[str]  # fp32 first, then the reduced precisions the code names
    sizes: dict  # model-wide sizes found: hidden, heads, seq, vocab


@dataclass
class FileFacts:
    """What one file contributes, before the repository's constants are known: plain data, so it can be cached
    by the file's text and a changed file is the only one read again."""

    assigned: dict[str, list]  # name -> [[value, count], ...] in the order first seen
    keywords: dict[str, list]
    usages: list[list]  # [op, where, name, call source or None]: sizes and parameters read at the merge
    dtypes: dict[str, int]

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "FileFacts":
        return cls(**json.loads(data))


def facts_json(path: str, text: str) -> bytes:
    """`file_facts` as bytes (`null` for a file the standard parser cannot read): porter.engine's FactsReader,
    run where each file is ported."""
    facts = file_facts(path, text)
    return b"null" if facts is None else facts.to_json()


def facts_from_json(data: bytes) -> FileFacts | None:
    return None if data == b"null" else FileFacts.from_json(data)


def facts_of(sources: Mapping[str, str]) -> dict[str, FileFacts | None]:
    """Path -> facts, for sources in hand (porter port reads the facts where it ports each file)."""
    return {path: file_facts(path, text) for path, text in sources.items()}


def file_facts(path: str, text: str) -> FileFacts | None:
    """None for a file the standard parser cannot read."""
    tree = parsed(text)
    if tree is None:
        return None
    walked = _Walked(tree)
    constants = _Constants()
    for *_, node in sorted(walked.constant_sources):
        constants.collect(node)
    imports = [node for *_, node in sorted(walked.imports)]
    visitor = _Visitor(path, _aliases(imports))
    visitor.visit_nodes(walked.candidates)
    calls = {id(usage): (name, ast.unparse(node)) for usage, name, node in visitor.deferred}
    usages = [[u.op, u.where, *calls.get(id(u), ("", None))] for u in visitor.usages]
    return FileFacts(_table(constants.assigned), _table(constants.keywords), usages, dict(visitor.dtypes))


_CONSTANT_SOURCES = frozenset({ast.arguments, ast.Assign, ast.AnnAssign, ast.keyword, ast.Call})


class _Walked:
    """One walk of a file's tree, each node before its children in field order (ast.NodeVisitor's order): the
    nodes the usage visitor reads, in that order, and the nodes constants and imports come from, ranked in
    ast.walk's order (breadth first: by depth, then by this walk's order), which decides ties between constants
    and which of two imports binds a name."""

    def __init__(self, tree: ast.AST) -> None:
        self.candidates: list[ast.AST] = []
        self.constant_sources: list[tuple[int, int, ast.AST]] = []  # (depth, order, node): the order is unique
        self.imports: list[tuple[int, int, ast.AST]] = []
        for order, (node, depth) in enumerate(nodes_with_depth(tree)):
            cls = type(node)
            if cls in _VISITED:
                self.candidates.append(node)
            if cls in _CONSTANT_SOURCES:
                self.constant_sources.append((depth, order, node))
            elif cls is ast.Import or cls is ast.ImportFrom:
                self.imports.append((depth, order, node))


def analyze(facts_by_path: Mapping[str, FileFacts | None]) -> Analysis:
    """Every file's facts (None: a file the standard parser cannot read) merged, then sizes at each call,
    evaluated once every file's constants are known."""
    constants = _Constants()
    usages, dtypes, deferred = [], Counter(), []
    for path in sorted(facts_by_path):
        facts = facts_by_path[path]
        if facts is None:
            continue
        for table, merged in ((facts.assigned, constants.assigned), (facts.keywords, constants.keywords)):
            for name, counts in table.items():
                for value, count in counts:
                    merged[name][value] += count
        for op, where, name, call in facts.usages:
            usages.append(Usage(op, where))
            if call is not None:
                deferred.append((usages[-1], name, ast.parse(call, mode="eval").body))
        dtypes.update(facts.dtypes)
    for usage, name, node in deferred:
        usage.dims, usage.params = _sizes(constants, usage.op, name, node), _params(constants, usage.op, name, node)
    found = [d for d in ("bf16", "fp16") if dtypes[d]]
    sizes = {name: constants.first(*names) for name, names in MODEL_SIZES.items()}
    return Analysis(usages, ["fp32", *found], {k: v for k, v in sizes.items() if v})


def _table(table: dict[str, Counter]) -> dict[str, list]:
    return {name: [[value, count] for value, count in counts.items()] for name, counts in table.items()}


def _aliases(imports: list[ast.Import | ast.ImportFrom]) -> dict[str, str]:
    """Local name -> dotted name, from the file's imports."""
    aliases = {}
    for node in imports:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    aliases[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


class _Constants:
    """Integer and boolean constants by bare name, from assignments, annotated fields and keywords."""

    def __init__(self):
        self.assigned: dict[str, Counter] = defaultdict(Counter)
        self.keywords: dict[str, Counter] = defaultdict(Counter)

    def collect(self, node: ast.AST) -> None:
        if isinstance(node, ast.arguments):  # `def __init__(self, n_embd=128)`: a config default
            positional = [*node.posonlyargs, *node.args]
            for arg, default in zip(positional[len(positional) - len(node.defaults):], node.defaults):
                self._add(self.assigned, ast.Name(arg.arg), default)
            for arg, default in zip(node.kwonlyargs, node.kw_defaults):
                if default is not None:
                    self._add(self.assigned, ast.Name(arg.arg), default)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            self._add(self.assigned, node.targets[0], node.value)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self._add(self.assigned, node.target, node.value)
        elif isinstance(node, ast.keyword) and node.arg:
            self._add(self.keywords, ast.Name(node.arg), node.value)
        elif isinstance(node, ast.Call) and (dotted_text(node.func) or "").endswith("add_argument") and node.args:
            flag = node.args[0]
            default = next((k.value for k in node.keywords if k.arg == "default"), None)
            if isinstance(flag, ast.Constant) and isinstance(flag.value, str) and default is not None:
                self._add(self.assigned, ast.Name(flag.value.lstrip("-").replace("-", "_")), default)

    def _add(self, table, target, value):
        name = target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else None
        if name and isinstance(value, ast.Constant) and isinstance(value.value, (bool, int)):
            table[name][value.value] += 1

    def lookup(self, name: str):
        for table in (self.assigned, self.keywords):
            if table.get(name):
                return table[name].most_common(1)[0][0]
        return None

    def first(self, *names: str):
        for name in names:
            value = self.lookup(name)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
        return None

    def evaluate(self, node):
        """An int or bool the expression denotes through constants and + - * //, else None."""
        if isinstance(node, ast.Constant) and isinstance(node.value, (bool, int)):
            return node.value
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self.lookup(node.id if isinstance(node, ast.Name) else node.attr)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = self.evaluate(node.operand)
            return -value if isinstance(value, int) and not isinstance(value, bool) else None
        if isinstance(node, ast.BinOp):
            left, right = self.evaluate(node.left), self.evaluate(node.right)
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (left, right)):
                return None
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, (ast.FloorDiv, ast.Div)) and right and left % right == 0:
                return left // right
        if isinstance(node, ast.Tuple) and node.elts:
            return self.evaluate(node.elts[0])
        return None


# Positional and keyword arguments that carry sizes, per op kind.
SIZE_ARGS = {
    "linear": (("in_features", "out_features"), ("bias",)),
    "conv1d": (("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"), ()),
    "conv2d": (("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"), ()),
    "layer_norm": (("hidden",), ("bias",)),
    "rms_norm": (("hidden",), ()),
    "embedding": (("num_embeddings", "embedding_dim"), ()),
}
KEYWORD_ALIASES = {"normalized_shape": "hidden", "dim": "hidden", "eps": None}
FUNCTIONAL = "torch.nn.functional."


def _is_size(name: str, value) -> bool:
    """``bias`` is a flag; every other size is an int (``padding=False`` or a tuple's bool is no size)."""
    if name == "bias":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return value >= 0 if name == "padding" else value > 0


_VISITED = frozenset({ast.Call, ast.BinOp, ast.Attribute, ast.Constant})


class _Visitor:
    def __init__(self, path: str, aliases: dict):
        self.path, self.aliases = path, aliases
        self.usages: list[Usage] = []
        self.deferred: list[tuple[Usage, str, ast.Call]] = []  # sizes and parameters to read once constants are known
        self.dtypes: Counter = Counter()
        self.handlers = {ast.Call: self.visit_Call, ast.BinOp: self.visit_BinOp, ast.Attribute: self.visit_Attribute,
                         ast.Constant: self.visit_Constant}  # the classes of _VISITED

    def visit_nodes(self, nodes: list[ast.AST]) -> None:
        for node in nodes:
            self.handlers[type(node)](node)

    def _canonical(self, func: ast.AST) -> str | None:
        name = dotted_text(func)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        if head in self.aliases:
            return f"{self.aliases[head]}.{rest}" if rest else self.aliases[head]
        return name

    def _add(self, op: str, node: ast.AST, dims=None, params=None):
        self.usages.append(Usage(op, f"{self.path}:{node.lineno}", dims or {}, params or {}))

    def visit_Call(self, node: ast.Call):
        name = self._canonical(node.func)
        op = self._op_for(name, node)
        if op:
            self._add(op, node)
            self.deferred.append((self.usages[-1], name or "", node))
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("half", "bfloat16") and not node.args:
            self.dtypes[DTYPE_SPELLINGS[node.func.attr]] += 1
        if name == FSDP:
            self._add("all_gather", node)
            self._add("reduce_scatter", node)

    def _op_for(self, name: str | None, node: ast.Call) -> str | None:
        if name in CALLS:
            return CALLS[name]
        if name:
            for prefix, op in CALL_PREFIXES.items():
                if name.startswith(prefix) and "attn" in name.rsplit(".", 1)[-1]:
                    return op
            last = name.rsplit(".", 1)[-1]
            for suffix, op in CLASS_SUFFIXES.items():
                if last.endswith(suffix):
                    return op
        # A method on a tensor, not a module function (torch.softmax is in CALLS already).
        if isinstance(node.func, ast.Attribute) and node.func.attr in METHODS:
            if name is None or name.split(".")[0] not in self.aliases:
                return METHODS[node.func.attr]
        return None

    def visit_BinOp(self, node: ast.BinOp):
        if isinstance(node.op, ast.MatMult):
            self._add("matmul", node)
        elif isinstance(node.op, ast.Mult) and any(self._is_silu(side) for side in (node.left, node.right)):
            self._add("swiglu", node)

    def _is_silu(self, node) -> bool:
        return isinstance(node, ast.Call) and CALLS.get(self._canonical(node.func) or "") == "silu"

    def visit_Attribute(self, node: ast.Attribute):
        if dotted_text(node.value) and self._canonical(node.value) == "torch" and node.attr in DTYPE_SPELLINGS:
            self.dtypes[DTYPE_SPELLINGS[node.attr]] += 1

    def visit_Constant(self, node: ast.Constant):
        if isinstance(node.value, str) and node.value in ("float16", "bfloat16", "fp16", "bf16"):
            self.dtypes[DTYPE_SPELLINGS[node.value]] += 1


def _sizes(constants: _Constants, op: str, name: str, node: ast.Call) -> dict:
    positional, keyword_only = SIZE_ARGS.get(op, ((), ()))
    args = node.args
    if name.startswith(FUNCTIONAL):
        # F.linear(x, w, b), F.conv2d(x, w, b, stride, padding): tensors, not module sizes; only a
        # normalisation's shape (F.layer_norm(x, (hidden,))) is a size.
        args = node.args[1:2] if op in ("layer_norm", "rms_norm") else []
    sizes = dict(zip(positional, (constants.evaluate(arg) for arg in args)))
    for kw in node.keywords:
        field_name = KEYWORD_ALIASES.get(kw.arg, kw.arg)
        if field_name in positional or field_name in keyword_only:
            sizes[field_name] = constants.evaluate(kw.value)
    return {k: v for k, v in sizes.items() if _is_size(k, v)}


def _params(constants: _Constants, op: str, name: str, node: ast.Call) -> dict:
    kwargs = {kw.arg: kw.value for kw in node.keywords if kw.arg}
    params = {}
    if op == "einsum" and node.args and isinstance(node.args[0], ast.Constant):
        params["equation"] = node.args[0].value
    if op in ("sdpa", "npu_fusion_attention"):
        causal = kwargs.get("is_causal", kwargs.get("causal"))
        if causal is not None:
            value = constants.evaluate(causal)
            params["is_causal"] = bool(value) if value is not None else True
        if name.startswith("flash_attn."):
            params["layout"] = "BSND"
    if op == "gelu" and isinstance(kwargs.get("approximate"), ast.Constant):
        params["approximate"] = kwargs["approximate"].value
    if op == "cross_entropy":
        for key in ("ignore_index", "label_smoothing"):
            if isinstance(kwargs.get(key), ast.Constant):
                params[key] = kwargs[key].value
    if op in ("adamw", "adam", "sgd"):
        if _true(constants, kwargs.get("fused")) or name.startswith("apex."):
            params["impl"] = "fused"
        elif _true(constants, kwargs.get("foreach")):
            params["impl"] = "foreach"
    if op == "topk" and len(node.args) >= (1 if isinstance(node.func, ast.Attribute) else 2):
        k = constants.evaluate(node.args[0 if isinstance(node.func, ast.Attribute) else 1])
        if isinstance(k, int) and k > 0:
            params["k"] = k
    return params


def _true(constants: _Constants, node) -> bool:
    return node is not None and constants.evaluate(node) is True
