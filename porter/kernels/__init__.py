"""CUDA kernels: inventory and classification of every `__global__` kernel and `<<<...>>>` launch, Ascend C
synthesis of elementwise kernels, scaffolds for the rest, pure-torch composites and parity cases.

`port_kernels` is a pure function of (path, bytes, rules), called by the native frontend for .cu/.cuh files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from porter.findings import Finding, entry_finding
from porter.kernels.generate import PARITY_MODULE, folder, generate
from porter.kernels.inventory import FEATURES, kernels, launches
from porter.kernels.plan import KernelPlan, OpPlan, bound_ops, default_ops, plan_kernel
from porter.kernels.syntax import outline, parse, span, text
from porter.ruleset import Rule, RuleSet

SYNTHESISED, SCAFFOLDED, LAUNCH, FEATURE = "KRN301", "KRN302", "KRN303", "KRN304"


def parity_modules(generated_paths) -> tuple[str, ...]:
    """The dotted names of the generated parity case modules among output-tree paths, for the parity suite."""
    return tuple(sorted(path.removesuffix(".py").replace("/", ".") for path in generated_paths
                        if path.endswith("_ascendc/" + PARITY_MODULE)))


@dataclass
class KernelPort:
    findings: list[Finding] = field(default_factory=list)
    generated: dict[str, bytes] = field(default_factory=dict)  # output-tree relative path -> bytes


def _finding(rule: Rule, pattern: str, node, detail: str) -> Finding:
    entry = next(e for e in rule.entries if e.pattern == pattern)
    return entry_finding(rule, entry, span(node), " ".join(text(node).split())[:120], detail=detail)


def _kernel_finding(rules: dict[str, Rule], plan: KernelPlan, ops: list[OpPlan], out: str) -> Finding:
    c = plan.classification
    detail = f"kernel `{plan.kernel.name}`: {c.kind}, difficulty {c.difficulty}"
    head = plan.kernel.node.child_by_field_name("declarator") or plan.kernel.node
    if plan.synthesised:
        return _finding(rules[SYNTHESISED], "synthesised", head, f"{detail}; generated in {out}/")
    composite = any(op.kernel is plan and op.composite for op in ops)
    return _finding(rules[SCAFFOLDED], "composite" if composite else "manual", head,
                    f"{detail}; synthesis stopped: {plan.reason}; advice: {c.advice}; scaffold in {out}/")


def port_kernels(relpath: str, data: bytes, ruleset: RuleSet) -> KernelPort:
    rules = {rule.id: rule for rule in ruleset.of_kind("kernel")}
    if set(rules) < {SYNTHESISED, SCAFFOLDED, LAUNCH, FEATURE}:
        return KernelPort()
    if b"__global__" not in data and b"<<<" not in data:  # nothing a kernel rule could report
        return KernelPort()
    contexts = rules[SYNTHESISED].contexts
    patterns = {name: re.compile(regex) for name, regex in rules[FEATURE].contexts.items()}
    root = parse(data)
    definitions, launch_nodes = outline(root)
    found = kernels(definitions, patterns)
    calls = launches(launch_nodes)
    plans = {kernel.name: plan_kernel(kernel, contexts) for kernel in found}
    torch_functions = {op: names[1] for op, names in contexts["vector_ops"].items()}
    ops = bound_ops(definitions, plans, calls, torch_functions)
    define_ops = not ops
    if define_ops:
        ops = default_ops(relpath.rsplit("/", 1)[-1].rsplit(".", 1)[0], list(plans.values()), torch_functions)
    out = folder(relpath)
    port = KernelPort()
    for plan in plans.values():
        port.findings.append(_kernel_finding(rules, plan, ops, out))
        for feature in FEATURES:
            nodes = plan.kernel.features.get(feature)
            if nodes:
                port.findings.append(_finding(rules[FEATURE], feature, nodes[0],
                                              f"kernel `{plan.kernel.name}`, {len(nodes)} use(s)"))
    for call in calls:
        config = ", ".join(call.config)
        port.findings.append(_finding(rules[LAUNCH], "launch", call.node, f"`{call.kernel}<<<{config}>>>`"))
    for op in ops:
        if op.kernel is None or not op.binding.returns:
            port.findings.append(_finding(rules[SCAFFOLDED], "manual", op.node or root,
                                          f"op `{op.binding.namespace}::{op.binding.name}`: {op.reason}"))
    port.findings.sort(key=lambda f: (f.span.line, f.span.column, f.rule_id))
    port.generated = generate(relpath, list(plans.values()), ops, define_ops, contexts)
    return port
