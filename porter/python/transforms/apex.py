"""NVIDIA Apex optimizers, norms and data-parallel wrappers -> their PyTorch twins, where the semantics match.

Parameter lists are Apex's (apex/optimizers, apex/normalization, apex/parallel). Each argument is carried over by
name; an Apex option without a PyTorch counterpart makes the transform refuse unless it has its default value.
"""

from __future__ import annotations

from porter.python.transforms.args import UNKNOWN, CallArgs, Refuse, Rewrite, keywords, signature

ADAM = ("params", "lr", "bias_correction", "betas", "eps", "adam_w_mode", "weight_decay", "amsgrad", "set_grad_none",
        "capturable", "master_weights")
SGD = ("params", "lr", "momentum", "dampening", "weight_decay", "nesterov", "wd_after_momentum",
       "materialize_master_grads", "set_grad_none")
NORM = ("normalized_shape", "eps", "elementwise_affine", "memory_efficient")
DDP = ("module", "message_size", "delay_allreduce", "shared_param", "allreduce_trigger_params",
       "retain_allreduce_buffers", "allreduce_always_fp32", "num_allreduce_streams", "allreduce_communicators",
       "gradient_average", "gradient_predivide_factor", "gradient_average_split_factor", "prof")
SYNC_BN = ("num_features", "eps", "momentum", "affine", "track_running_stats", "process_group", "channel_last",
           "fuse_relu")
CONVERT_SYNC_BN = ("module", "process_group", "channel_last")


def _refuse_unless_default(args: CallArgs, defaults: dict) -> Refuse | None:
    """Refuse when an option PyTorch lacks is set to anything but its Apex default."""
    if args.error:
        return Refuse("review", f"cannot bind the arguments statically: {args.error}")
    for name, default in defaults.items():
        if args.given(name) and not args.is_default(name, default):
            status = "review" if args.literal(name) is UNKNOWN else "unsupported"
            return Refuse(status, f"`{name}={args.code(name)}` has no counterpart in PyTorch")
    return None


def _call(api: str, first: str, args: CallArgs, names: tuple[str, ...], **fixed: str) -> str:
    pairs = [(name, fixed.get(name, args.code(name))) for name in names]
    return f"{api}({', '.join(filter(None, [args.code(first), keywords(pairs)]))})"


@signature(ADAM, 9)
def fused_adam(args: CallArgs) -> Rewrite | Refuse:
    """Apex's default is decoupled weight decay (AdamW) with weight_decay=0, torch.optim.AdamW's is 0.01: pass it."""
    problem = _refuse_unless_default(args, {"bias_correction": True, "amsgrad": False, "capturable": False,
                                            "master_weights": False})
    if problem:
        return problem
    decoupled = args.literal("adam_w_mode", True)
    if decoupled is UNKNOWN:
        return Refuse("review", f"`adam_w_mode={args.code('adam_w_mode')}` decides between Adam and AdamW at run time")
    api = "torch.optim.AdamW" if decoupled else "torch.optim.Adam"
    weight_decay = args.code("weight_decay", "0.0")
    code = _call(api, "params", args, ("lr", "betas", "eps", "weight_decay"), weight_decay=weight_decay)
    return _grad_none_note(args, code)


@signature(SGD, 8)
def fused_sgd(args: CallArgs) -> Rewrite | Refuse:
    problem = _refuse_unless_default(args, {"wd_after_momentum": False})
    if problem:
        return problem
    code = _call("torch.optim.SGD", "params", args, ("lr", "momentum", "dampening", "weight_decay", "nesterov"))
    return _grad_none_note(args, code)


def _grad_none_note(args: CallArgs, code: str) -> Rewrite:
    """PyTorch's zero_grad() sets gradients to None; an explicit set_grad_none=False asked for zeros."""
    if args.is_default("set_grad_none", True) or not args.given("set_grad_none"):
        return Rewrite(code, ("torch",))
    return Rewrite(code, ("torch",), review=True,
                   note="zero_grad() now sets gradients to None; call zero_grad(set_to_none=False) where zeros are needed")


@signature(NORM, 3)
def fused_layer_norm(args: CallArgs) -> Rewrite | Refuse:
    """Same defaults (eps=1e-5, affine); `memory_efficient` only trades memory for recomputation."""
    problem = _refuse_unless_default(args, {})
    if problem:
        return problem
    return Rewrite(_call("torch.nn.LayerNorm", "normalized_shape", args, ("eps", "elementwise_affine")), ("torch",))


@signature(NORM, 3)
def fused_rms_norm(args: CallArgs) -> Rewrite | Refuse:
    """torch.nn.RMSNorm's eps defaults to the dtype's machine epsilon, Apex's to 1e-5: always pass it."""
    problem = _refuse_unless_default(args, {})
    if problem:
        return problem
    code = _call("torch.nn.RMSNorm", "normalized_shape", args, ("eps", "elementwise_affine"),
                 eps=args.code("eps", "1e-05"))
    return Rewrite(code, ("torch",), note="torch_npu.npu_rms_norm(x, weight, epsilon=eps)[0] is the fused NPU kernel")


@signature(DDP, 1)
def distributed_data_parallel(args: CallArgs) -> Rewrite | Refuse:
    """Apex DDP averages gradients over all ranks like torch's DDP; its tuning knobs have no one-to-one twin."""
    problem = _refuse_unless_default(args, {"message_size": 10000000, "delay_allreduce": False, "shared_param": None,
                                            "allreduce_trigger_params": None, "retain_allreduce_buffers": False,
                                            "allreduce_always_fp32": False, "num_allreduce_streams": 1,
                                            "allreduce_communicators": None, "gradient_average": True,
                                            "gradient_predivide_factor": 1.0,
                                            "gradient_average_split_factor": None, "prof": False})
    if problem:
        return problem
    return Rewrite(_call("torch.nn.parallel.DistributedDataParallel", "module", args, ()), ("torch",))


@signature(SYNC_BN, 6)
def sync_batch_norm(args: CallArgs) -> Rewrite | Refuse:
    problem = _refuse_unless_default(args, {"channel_last": False, "fuse_relu": False})
    if problem:
        return problem
    names = ("eps", "momentum", "affine", "track_running_stats", "process_group")
    return Rewrite(_call("torch.nn.SyncBatchNorm", "num_features", args, names), ("torch",))


@signature(CONVERT_SYNC_BN, 2)
def convert_syncbn_model(args: CallArgs) -> Rewrite | Refuse:
    problem = _refuse_unless_default(args, {"channel_last": False})
    if problem:
        return problem
    return Rewrite(_call("torch.nn.SyncBatchNorm.convert_sync_batchnorm", "module", args, ("process_group",)),
                   ("torch",))


TRANSFORMS = (fused_adam, fused_sgd, fused_layer_norm, fused_rms_norm, distributed_data_parallel, sync_batch_norm,
              convert_syncbn_model)
