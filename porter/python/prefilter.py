"""Whether a module can need the libcst pass at all, decided from the rule data before anything expensive runs.

Sound by construction: a file is skipped only when no rule kind could match anything in it.
1. Text any residual, string, environment-variable or method rule (or a fusion rule's method after a dot,
   `.addcdiv_`, or the text a fusion rule's detectors require, its `contexts.text`) looks for (`cuda`, `"nccl"`)
   anywhere in the file but in a line that is only a comment (no rule reads a comment): parse it.
2. No word of any API pattern (`distributed` of `torch.distributed.init_process_group`) anywhere: skip it.
3. Otherwise the stdlib parser (about ten times cheaper than libcst) resolves every dotted name through the
   module's imports, ignoring scopes (which can only add candidates), and the file is parsed only if some name or
   import is one a rule matches. libcst then resolves the same names exactly.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass

from porter.python.ast_nodes import nodes
from porter.python.base import dotted_text, parsed
from porter.ruleset import RuleSet

API_KINDS = ("rename", "call_transform", "fusion", "import")  # kinds that match qualified names or module paths
TEXT_KINDS = ("env_var", "context_string", "method")  # kinds that match a string value or an attribute name
DETECTORS_READ = ("torch",)  # what the detectors of porter.python.transforms compare names with beyond their
# entries (`torch.matmul` for `@`, the dropouts, `torch.chunk`): all below torch


@dataclass(frozen=True)
class Triggers:
    anywhere: tuple[re.Pattern[str], ...]  # step 1
    api_words: re.Pattern[str]  # step 2
    apis: frozenset[str]  # qualified names matched exactly
    api_prefixes: tuple[str, ...]  # qualified names matched with everything below them
    modules: frozenset[str]  # module paths an import rule matches, with everything below them
    read: tuple[str, ...]  # every qualified name any code compares a name with: each dotted name in the rule data,
    # and DETECTORS_READ


def _api_word(pattern: str, kind: str) -> str:
    """A word every file using `pattern` must contain. Each segment of a used dotted name is spelled somewhere
    in the file (in the use, or in the import that binds it), so any one is sound. For an API the first
    segment after the root (`cuda` in `torch.cuda.Event`) is the most selective; a module path is spelled
    whole in its import, so its longest segment is."""
    segments = pattern.split(".")
    if len(segments) == 1:
        return segments[0]
    return max(segments, key=len) if kind == "import" else segments[1]


def api_name(pattern: str) -> str:
    """`torch.cuda.get_device_properties().major` (an entry on a call's result) is used as its callee."""
    return pattern.split("(", 1)[0]


# `.name`, with what Python allows between the two: spaces, line continuations, comments (inside brackets)
_ATTRIBUTE = r"\.(?:\s|\\\n|#[^\n]*\n)*{}\b"

_OF_RULESET: dict[str, Triggers] = {}


def fusion_methods(ruleset: RuleSet, besides: frozenset[str] = frozenset()) -> list[str]:
    """A fusion rule's method entries (but those named in `besides`) as text: the name after a dot (`.addcdiv_`)."""
    return sorted({_ATTRIBUTE.format(re.escape(api_name(e.pattern))) for r in ruleset.of_kind("fusion")
                   for e in r.entries if e.pattern.endswith("()") and api_name(e.pattern) not in besides})


def fusion_texts(ruleset: RuleSet) -> list[str]:
    """The text a fusion rule's detectors need (its `contexts.text`)."""
    return [r.contexts["text"] for r in ruleset.of_kind("fusion") if "text" in r.contexts]


def triggers_of(ruleset: RuleSet) -> Triggers:
    triggers = _OF_RULESET.get(ruleset.content_hash)
    if triggers is None:
        texts = [e for r in ruleset.of_kind(*TEXT_KINDS) for e in r.entries]
        literals = sorted({re.escape(api_name(e.pattern)) for e in texts})
        literals += fusion_methods(ruleset)
        anywhere_texts = [r.contexts[k] for r in ruleset.of_kind("residual") for k in ("identifier", "string")]
        anywhere_texts += fusion_texts(ruleset)
        api_rules = [r for r in ruleset.of_kind(*API_KINDS) if "text" not in r.contexts]  # those found by their text
        words = {_api_word(api_name(e.pattern), r.kind) for r in api_rules for e in r.entries}
        report_only = [e.pattern for r in ruleset.of_kind("rename") for e in r.entries if e.replacement is None]
        residual = [p for r in ruleset.of_kind("residual") for p in r.contexts.get("api_prefixes", ())]
        triggers = _OF_RULESET[ruleset.content_hash] = Triggers(
            anywhere=tuple(re.compile(t) for t in ["|".join(literals) or r"(?!)", *dict.fromkeys(anywhere_texts)]),
            api_words=re.compile("|".join(sorted(map(re.escape, words))) or r"(?!)"),
            apis=frozenset(api_name(e.pattern) for r in api_rules if r.kind != "import" for e in r.entries),
            api_prefixes=tuple(sorted({*report_only, *residual})),
            modules=frozenset(e.pattern for r in ruleset.of_kind("import") for e in r.entries),
            read=tuple(sorted({*_dotted_names(ruleset), *DETECTORS_READ})),
        )
    return triggers


_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def _dotted_names(ruleset: RuleSet) -> set[str]:
    """Each name in the rule data: the entry patterns (a call's result read as its callee), and each dotted string,
    key or value, of every rule's contexts (a context_string rule's `calls`, a residual rule's `api_prefixes`)."""
    found = {name for r in ruleset.rules for e in r.entries if _NAME.fullmatch(name := api_name(e.pattern))}
    stack: list = [r.contexts for r in ruleset.rules]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack += [*value, *value.values()]
        elif isinstance(value, (list, tuple)):
            stack += value
        elif isinstance(value, str) and "." in value and _NAME.fullmatch(value):
            found.add(value)
    return found


def might_need_porting(ruleset: RuleSet, text: str) -> bool:
    triggers = triggers_of(ruleset)
    if _text_outside_comment_lines(text, triggers.anywhere):
        return True
    if not triggers.api_words.search(text):
        return False
    tree = parsed(text)
    if tree is None:
        return True  # libcst decides, and reports what it cannot read
    return _names_an_api(tree, triggers)


_LINE_END = re.compile(r"\r\n|\r|\n")  # what Python's tokenizer counts as a line end
_COMMENT_LINE = re.compile(r"[ \t\f]*(#[^\r\n]*)")


def _text_outside_comment_lines(text: str, patterns: tuple[re.Pattern[str], ...]) -> bool:
    """Whether a pattern matches the text once every line that is only a comment is blanked. Blanking needs the
    stdlib tree (a `#` line inside a string that spans lines is no comment), so it is done only when every match
    in the text as it is starts on a line that looks like a comment."""
    found = False
    for pattern in patterns:
        for match in pattern.finditer(text):
            after_newline = text.rfind("\n", 0, match.start()) + 1
            line_start = max(after_newline, text.rfind("\r", after_newline, match.start()) + 1)
            if not _COMMENT_LINE.match(text, line_start):
                return True
            found = True
    if not found:
        return False
    tree = parsed(text)
    if tree is None:
        return True  # libcst decides
    in_strings = {line for node in nodes(tree) if isinstance(node, (ast.Constant, ast.JoinedStr))
                  for line in range(node.lineno + 1, node.end_lineno + 1)}
    line_starts = [0] + [m.end() for m in _LINE_END.finditer(text)]
    pieces, kept = [], 0
    for line, start in enumerate(line_starts, 1):
        comment = _COMMENT_LINE.match(text, start)
        if comment is not None and line not in in_strings:
            pieces += [text[kept:comment.start(1)], " " * (comment.end(1) - comment.start(1))]
            kept = comment.end(1)
    code = "".join(pieces) + text[kept:]
    return any(pattern.search(code) for pattern in patterns)


def _below(path: str, roots) -> bool:
    """Whether `path` is one of `roots` or lies below one (`a.b.c` below `a.b`)."""
    return any(path == root or path.startswith(root + ".") for root in roots)


def _names_an_api(tree: ast.Module, triggers: Triggers) -> bool:
    bound: dict[str, set[str]] = defaultdict(set)  # local name -> every module path an import binds it to
    names: list[ast.Name | ast.Attribute] = []  # read after the imports: one walk of the tree
    for node in nodes(tree):
        if isinstance(node, (ast.Name, ast.Attribute)):
            names.append(node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _below(alias.name, triggers.modules):
                    return True
                local = alias.asname or alias.name.split(".")[0]
                bound[local].add(alias.name if alias.asname else local)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if _below(node.module, triggers.modules):
                return True
            for alias in node.names:
                path = f"{node.module}.{alias.name}"
                if _below(path, triggers.modules):
                    return True
                bound[alias.asname or alias.name].add(path)
    if not bound:
        return False
    for node in names:
        dotted = dotted_text(node)
        if dotted is None:
            continue
        root, _, rest = dotted.partition(".")
        for origin in bound.get(root, ()):
            qualified = f"{origin}.{rest}" if rest else origin
            if qualified in triggers.apis or qualified.startswith(triggers.api_prefixes):
                return True
    return False
