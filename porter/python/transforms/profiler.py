"""`torch.profiler.profile` -> `torch_npu.profiler.profile`, rebuilt with the activities, schedule and trace handler
its arguments name, so that every profiler object in the call comes from the same package.

torch_npu's profiler drives its own `ProfilerAction` enum: a schedule made by `torch.profiler.schedule` answers
torch's enum, which it does not know, and its activities are `ProfilerActivity.CPU`/`NPU`. Parameter lists are
torch 2.13's (`torch/profiler/profiler.py`) and torch-npu 2.13.0's (`torch_npu/profiler/profiler.py`).
"""

from __future__ import annotations

import libcst as cst

from porter.python.base import code_of
from porter.python.transforms.args import UNKNOWN, CallArgs, Refuse, Rewrite, keywords, signature

PROFILE = ("activities", "schedule", "on_trace_ready", "record_shapes", "profile_memory", "with_stack", "with_flops",
           "with_modules", "experimental_config", "execution_trace_observer", "acc_events", "use_cuda",
           "custom_trace_id_callback", "post_processing_timeout_s")
KEPT = ("record_shapes", "profile_memory", "with_stack", "with_flops", "with_modules", "execution_trace_observer",
        "custom_trace_id_callback")  # same names and meaning in torch_npu.profiler.profile
HANDLER = ("dir_name", "worker_name", "use_gzip", "use_python_export")
TORCH, NPU = "torch.profiler", "torch_npu.profiler"
# torch_npu.profiler.ProfilerActivity is the binding of torch_npu::profiler::NpuActivityType (CPU, NPU)
ACTIVITIES = {f"{TORCH}.ProfilerActivity.CPU": f"{NPU}.ProfilerActivity.CPU",
              f"{TORCH}.ProfilerActivity.CUDA": f"{NPU}.ProfilerActivity.NPU"}
RESULTS_NOTE = ("torch_npu's profiler writes its results under the trace directory for MindStudio Insight or the "
                "TensorBoard plugin and has no key_averages()/events(): code that reads them from the profiler object "
                "needs another way")


@signature(PROFILE, 0)
def profile(args: CallArgs) -> Rewrite | Refuse:
    if args.error:
        return Refuse("review", f"cannot bind the arguments statically: {args.error}")
    for name, default in (("acc_events", False), ("post_processing_timeout_s", None)):
        if not args.is_default(name, default):
            return Refuse("unsupported", f"torch_npu.profiler.profile has no `{name}`")
    if args.given("use_cuda"):
        return Refuse("review", "`use_cuda` is deprecated: list the activities instead "
                                "(torch_npu.profiler.ProfilerActivity.NPU)")
    if args.given("experimental_config"):
        return Refuse("review", "torch_npu.profiler.profile takes its own experimental_config (torch_npu.profiler."
                                "_ExperimentalConfig: profiler level, AI Core metrics): set it by hand")
    pairs = []
    for name, rebuild in (("activities", _activities), ("schedule", _schedule), ("on_trace_ready", _trace_handler)):
        if args.given(name):
            code = rebuild(args, args.values[name])
            if isinstance(code, Refuse):
                return code
            pairs.append((name, code))
    pairs += [(name, args.code(name)) for name in KEPT]
    handler = args.values.get("on_trace_ready")
    custom_handler = handler is not None and not _calls(args, handler, "tensorboard_trace_handler")
    note = RESULTS_NOTE + ("; the on_trace_ready handler now receives torch_npu's profiler" if custom_handler else "")
    return Rewrite(f"{NPU}.profile({keywords(pairs)})", ("torch_npu.profiler",), note=note, review=True)


def _activities(args: CallArgs, node: cst.BaseExpression) -> str | Refuse:
    if not isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        return Refuse("review", f"activities=`{code_of(node)}` is made elsewhere: list "
                                "torch_npu.profiler.ProfilerActivity members here")
    members = []
    for element in node.elements:
        npu = next((ACTIVITIES[name] for name in args.resolve(element.value) if name in ACTIVITIES), None)
        if npu is None or isinstance(element, cst.StarredElement):
            return Refuse("review", f"activity `{code_of(element.value)}` has no "
                                    "torch_npu.profiler.ProfilerActivity twin")
        members.append(npu)
    open_, close = {cst.List: "[]", cst.Tuple: "()", cst.Set: "{}"}[type(node)]
    trailing = "," if isinstance(node, cst.Tuple) and len(members) == 1 else ""
    return f"{open_}{', '.join(members)}{trailing}{close}"


def _schedule(args: CallArgs, node: cst.BaseExpression) -> str | Refuse:
    if not _calls(args, node, "schedule"):
        return Refuse("review", f"schedule=`{code_of(node)}` is made elsewhere: torch_npu's profiler needs a "
                                "torch_npu.profiler.schedule (torch's answers torch's ProfilerAction, which it does "
                                "not know)")
    return f"{NPU}.schedule({_argument_code(node)})"


def _trace_handler(args: CallArgs, node: cst.BaseExpression) -> str | Refuse:
    if not _calls(args, node, "tensorboard_trace_handler"):
        return code_of(node)  # the user's own handler: kept, and the note says what it now receives
    handler = CallArgs(node, HANDLER, 2, args.resolve)
    if handler.error:
        return Refuse("review", f"tensorboard_trace_handler: {handler.error}")
    for name in ("use_gzip", "use_python_export"):
        if not handler.is_default(name, False):
            status = "review" if handler.literal(name) is UNKNOWN else "unsupported"
            return Refuse(status, f"torch_npu.profiler.tensorboard_trace_handler has no `{name}`")
    return f"{NPU}.tensorboard_trace_handler({keywords([(n, handler.code(n)) for n in ('dir_name', 'worker_name')])})"


def _calls(args: CallArgs, node: cst.BaseExpression, function: str) -> bool:
    return isinstance(node, cst.Call) and f"{TORCH}.{function}" in args.resolve(node.func)


def _argument_code(call: cst.Call) -> str:
    return ", ".join(f"{arg.star}{arg.keyword.value}={code_of(arg.value)}" if arg.keyword else
                     f"{arg.star}{code_of(arg.value)}" for arg in call.args)


@signature((), 0)
def elsewhere(args: CallArgs) -> Refuse:
    """A torch profiler object made outside a `torch.profiler.profile(...)` call porter converts."""
    return Refuse("review", "a torch.profiler object made outside the profile call that uses it: switch it to its "
                            "torch_npu.profiler twin together with that call (torch_npu's profiler accepts only its "
                            "own)")


profile.rebuilds_arguments = True  # porter.python.calls leaves the references inside a rebuilt call to it
TRANSFORMS = (profile, elsewhere)
