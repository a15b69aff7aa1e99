"""CMake files: every CUDA construct (`enable_language(CUDA)`, `find_package(CUDAToolkit)`, `CUDA::cudart`,
`.cu` sources, CUDA properties and variables) gets one finding at its argument, from the `cmake_command` rules.
Parsed with tree-sitter-cmake, so comments never count. Other build files go to the text frontend."""

from __future__ import annotations

import fnmatch
from typing import Any

import tree_sitter_cmake
from tree_sitter import Language, Parser

from porter.findings import FileResult, Finding, Outcome, entry_finding
from porter.native.syntax import Locator, walk
from porter.ruleset import RuleSet
from porter.text_frontend import port_text_file
from porter.lossless_io import looks_binary

_PARSER = Parser(Language(tree_sitter_cmake.language()))


def is_cmake(relpath: str) -> bool:
    name = relpath.rsplit("/", 1)[-1]
    return name == "CMakeLists.txt" or name.lower().endswith(".cmake")


def _commands(data: bytes):
    """(command name, [argument nodes]) of every command invocation."""
    for node in walk(_PARSER.parse(data).root_node):
        if node.type != "normal_command":
            continue
        name = node.named_children[0]
        arguments = next((c for c in node.named_children if c.type == "argument_list"), None)
        yield data[name.start_byte : name.end_byte].decode().lower(), arguments.named_children if arguments else []


def cmake_findings(data: bytes, ruleset: RuleSet) -> list[Finding]:
    """An entry `command ARGUMENT-GLOB` (command `*`: any) claims each argument that matches."""
    locate = Locator(data)
    findings = []
    rules = ruleset.of_kind("cmake_command")
    patterns = [(rule, entry, *entry.pattern.split(None, 1)) for rule in rules for entry in rule.entries]
    for command, arguments in _commands(data):
        for argument in arguments:
            text = data[argument.start_byte : argument.end_byte].decode(errors="replace").strip('"')
            for rule, entry, want_command, glob in patterns:
                if want_command in ("*", command) and any(fnmatch.fnmatchcase(part, glob) for part in text.split(";")):
                    findings.append(entry_finding(rule, entry, locate.span(argument.start_byte, argument.end_byte),
                                                  text, detail=f"`{command}(... {text} ...)`"))
                    break
    return findings


def port_build(relpath: str, data: bytes, ruleset: RuleSet, context: Any = None) -> FileResult:
    """The frontend for build files: CMake constructs precisely, the rest as text."""
    if not is_cmake(relpath) or looks_binary(data) or not ruleset.of_kind("cmake_command"):
        return port_text_file(relpath, "build", data, ruleset)
    findings = cmake_findings(data, ruleset)
    if not findings:
        return port_text_file(relpath, "build", data, ruleset)
    return FileResult(relpath, "build", Outcome.FLAGGED, findings)
