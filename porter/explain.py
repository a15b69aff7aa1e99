"""`porter explain CODE`: a rule's page, the findings of a report at a place or of a rule, or an ACL / HCCL error
code decoded from the enums of the torch_npu wheel's headers (snapshot in rules/targets/errors-torch_npu-*.json)."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

from porter.findings import Report
from porter.resources import data_dir
from porter.surface import available_versions

# Where the first digit of a six-digit ACL code puts the fault (the headers group them so: 1xxxxx parameters,
# 2xxxxx resources and features, 3xxxxx storage, 5xxxxx internal and device failures).
ACL_CLASSES = {
    "1": ("the caller passed something the runtime rejects", [
        "a device id, stream, event or pointer from another device or process (set the device in every process: "
        "`torch.npu.set_device(local_rank)`)",
        "a CUDA-shaped call ported without its ACL differences (capacity arguments, allocation policy)"]),
    "2": ("a resource or feature is not available", [
        "device memory exhausted (lower the batch size; `torch.npu.memory_summary()`)",
        "a feature or data type this chip or CANN version does not support (check the torch_npu / CANN pairing "
        "with `porter doctor`)"]),
    "3": ("a storage limit was exceeded", ["a dump or profiling directory on a full disk"]),
    "5": ("an internal failure in the runtime, driver or device", [
        "an operator fault on the device (AI Core / vector core exception): rerun with `ASCEND_LAUNCH_BLOCKING=1` "
        "to find the operator, then read the device log (`$HOME/ascend/log`, `npu-smi info`)",
        "a device or link failure: check `npu-smi info` and the HCCL network (`hccn_tool`)"]),
}
# Causes worth naming for codes a port meets often; every other code gets its class's causes.
LIKELY_CAUSES = {
    "ACL_ERROR_RT_CONTEXT_NULL": ["no device was set in this thread or process: call `torch.npu.set_device(rank)` "
                                  "before the first NPU tensor (a CUDA habit of relying on device 0)"],
    "ACL_ERROR_RT_INVALID_DEVICEID": ["the device index is not visible: compare `LOCAL_RANK` with "
                                      "`ASCEND_RT_VISIBLE_DEVICES` (CUDA_VISIBLE_DEVICES has no effect on NPUs)"],
    "ACL_ERROR_RT_MEMORY_ALLOCATION": ["device memory exhausted: lower the batch size or enable activation "
                                       "checkpointing; `PYTORCH_NPU_ALLOC_CONF` tunes the caching allocator"],
    "ACL_ERROR_RT_DEVICE_OOM": ["device memory exhausted: lower the batch size; `torch.npu.memory_summary()`"],
    "ACL_ERROR_RT_AICORE_TIMEOUT": ["an operator ran too long or hung (often a collective waiting for a rank "
                                    "that died): check every rank's log"],
    "ACL_ERROR_RT_AICORE_EXCEPTION": ["an operator faulted on the device (out-of-bounds access in a custom "
                                      "kernel, unsupported shape): rerun with `ASCEND_LAUNCH_BLOCKING=1`"],
    "ACL_ERROR_RT_FEATURE_NOT_SUPPORT": ["an API or dtype this chip does not support (fp64 or complex ops, "
                                         "a CUDA-only feature reached through a compatibility shim)"],
    "HCCL_E_TIMEOUT": ["a rank did not join the collective in time: one rank crashed or ranks run different "
                       "code paths; raise `HCCL_CONNECT_TIMEOUT` / `HCCL_EXEC_TIMEOUT` only after checking"],
    "HCCL_E_TCP_CONNECT": ["ranks cannot reach each other: `MASTER_ADDR`/`MASTER_PORT`, a firewall, or HCCL "
                           "picking the wrong host network interface (set it through CANN's HCCL environment)"],
    "HCCL_E_ROCE_CONNECT": ["the device network between NPUs is down or misconfigured: check `hccn_tool` "
                            "link state and the device IPs"],
    "HCCL_E_PARA": ["a collective was called with mismatched arguments across ranks (count, dtype, root) or a "
                    "reduce op HCCL lacks (no AVG: sum and divide)"],
    "HCCL_E_NOT_SUPPORT": ["a collective or dtype HCCL does not offer (e.g. ReduceOp.AVG, some int types)"],
    "HCCL_E_MEMORY": ["device memory for the communicator ran out (`HCCL_BUFFSIZE` sets its buffer, in MB)"],
    "HCCL_E_OOM": ["device memory for the communicator ran out (`HCCL_BUFFSIZE` sets its buffer, in MB)"],
}


@dataclass(frozen=True)
class ErrorCode:
    family: str  # acl | hccl
    name: str
    value: int
    comment: str
    header: str


@functools.cache
def error_codes(target: str | None = None) -> tuple[ErrorCode, ...]:
    versions = available_versions("torch_npu")
    version = target if target in versions else (versions[-1] if versions else "")
    path = data_dir("rules") / "targets" / f"errors-torch_npu-{version}.json"
    if not path.is_file():
        return ()
    return tuple(ErrorCode(**code) for code in json.loads(path.read_text(encoding="utf-8"))["codes"])


def find_error(query: str, target: str | None = None) -> list[ErrorCode]:
    """Codes matching a name (`ACL_ERROR_RT_CONTEXT_NULL`), a number (`107002`) or a family and number (`hccl 7`)."""
    text = query.strip()
    match = re.fullmatch(r"(?i)(acl|hccl)?[\s:=#-]*(\d+)", text)
    codes = error_codes(target)
    if match:
        family, value = (match[1] or "").lower(), int(match[2])
        found = [c for c in codes if c.value == value and (not family or c.family == family)]
        return [c for c in found if c.value != 0] or found  # 0 is success in every family
    return [c for c in codes if c.name == text.upper()]


def explain_error(code: ErrorCode) -> str:
    lines = [f"{code.name} = {code.value} ({code.family.upper()}, {code.header})"]
    if code.comment:
        lines.append(f"  header says: {code.comment}")
    if code.value == 0:
        lines.append("  success: not an error")
        return "\n".join(lines)
    causes = list(LIKELY_CAUSES.get(code.name, ()))
    if code.family == "acl" and len(str(code.value)) == 6 and str(code.value)[0] in ACL_CLASSES:
        meaning, generic = ACL_CLASSES[str(code.value)[0]]
        lines.append(f"  class: {meaning}")
        causes = causes or list(generic)  # a code's own causes are sharper than its class's
    if code.family == "hccl" and not causes:
        causes.append("read the HCCL log of every rank (`ASCEND_GLOBAL_LOG_LEVEL=1`, `$HOME/ascend/log`); the "
                      "first rank to fail names the cause")
    lines.append("  likely causes:")
    lines += [f"  - {cause}" for cause in causes]
    return "\n".join(lines)


def explain_place(report: Report, place: str) -> str | None:
    """The findings of a report at `path` or `path:line`, with what to do; None when nothing is there."""
    path, _, line = place.rpartition(":") if re.search(r":\d+$", place) else (place, "", "")
    hits = [f for r in report.files if r.path == path for f in r.findings
            if not line or (f.span and f.span.line <= int(line) <= f.span.end_line)]
    if not hits:
        return None
    out = []
    for f in hits:
        where = f"{path}:{f.span.line}" if f.span else path
        change = f" → {f.replacement}" if f.replacement is not None else ""
        out.append(f"{where} [{f.rule_id} {f.status.value}] {f.original}{change}\n  {f.message}\n  "
                   f"(rule page: porter explain {f.rule_id})")
    return "\n".join(out)


def rule_findings(report: Report, rule_id: str) -> str:
    hits = [(r.path, f) for r in report.files for f in r.findings if f.rule_id == rule_id]
    if not hits:
        return f"No {rule_id} finding in this report."
    lines = [f"{len(hits)} {rule_id} finding(s) in this report:"]
    for path, f in hits:
        lines.append(f"  {path}:{f.span.line if f.span else ''} [{f.status.value}] {f.original}")
    return "\n".join(lines)
