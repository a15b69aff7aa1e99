"""flash-attn and xFormers attention calls -> torch_npu.npu_fusion_attention (or SDPA where shapes are not at hand);
flash-attn's decode call on a KV cache -> torch_npu.npu_fused_infer_attention_score.

Facts the translation rests on (torch-npu 2.13.0 `_op_plugin_docs.py`, flash-attn 2.x docstrings):
- flash-attn takes [batch, seq, heads, dim] (BSND) or packed [tokens, heads, dim] (TND with cumulative lengths);
  npu_fusion_attention needs the head count and the layout spelled out and returns a tuple: output is item 0.
- flash-attn's default scale is 1/sqrt(head dim); npu_fusion_attention's is 1.0, so the scale is always passed.
- dropout probability p becomes keep_prob = 1 - p.
- flash-attn >= 2.1 aligns the causal mask to the bottom-right corner: sparse_mode=3 (rightDownCausal) with the
  2048x2048 mask whose True entries are masked. xFormers' LowerTriangularMask is top-left: sparse_mode=2.
- cu_seqlens holds [0, l0, l0+l1, ...]; actual_seq_qlen/kvlen want the running sums without the leading 0.
- flash_attn_with_kvcache attends to k_cache[b, :cache_seqlens[b]] (the whole cache without cache_seqlens), causal
  bottom-right against that length; npu_fused_infer_attention_score's actual_seq_lengths_kv is each batch's valid
  key count (one value: every batch), its atten_mask may be (B, 1, S_q, S_kv) with True masked (sparse_mode=0).
"""

from __future__ import annotations

from porter.python.transforms.args import UNKNOWN, CallArgs, Refuse, Rewrite, advice, atom, keywords, signature

NPU_ATTENTION = "torch_npu.npu_fusion_attention"
NPU_INFER_ATTENTION = "torch_npu.npu_fused_infer_attention_score"
SDPA = "torch.nn.functional.scaled_dot_product_attention"
_MASK = "torch.ones(2048, 2048, dtype=torch.bool, device={device}).triu(1)"
_BSND_FROM_PACKED = ".permute(2, 0, 3, 1, 4).unbind(0)"  # [B, S, n, H, D] -> n tensors of [B, H, S, D]

_FLAGS = (  # parameter, library default, status when set, why
    ("window_size", (-1, -1), "unsupported", "a sliding window has no one-to-one form; npu_fusion_attention's band "
     "mode (sparse_mode=4 with pre_tockens/next_tockens) can express one: convert by hand and check on device"),
    ("softcap", 0.0, "unsupported", "logit soft-capping has no npu_fusion_attention equivalent"),
    ("alibi_slopes", None, "unsupported", "ALiBi slopes: npu_fusion_attention takes a position bias as `pse`, "
     "which has to be built from the slopes by hand"),
    ("deterministic", False, "review", "a deterministic backward is a global switch on NPU: "
     "torch.use_deterministic_algorithms(True)"),
    ("return_attn_probs", False, "unsupported", "npu_fusion_attention returns softmax statistics, not the "
     "attention probabilities"),
    ("block_table", None, "unsupported", "a paged KV cache: torch_npu.npu_fused_infer_attention_score pages its "
     "cache through block_table/block_size, but not in the TND layout (torch-npu 2.13.0 docs): pad the batch to "
     "BSND or gather the cache rows by hand"),
    ("output_dtype", None, "unsupported", "npu_fusion_attention returns the input dtype"),
)

DENSE = ("q", "k", "v", "dropout_p", "softmax_scale", "causal", "window_size", "softcap", "alibi_slopes",
         "deterministic", "return_attn_probs")
QKV_PACKED = ("qkv", *DENSE[3:])
KV_PACKED = ("q", "kv", *DENSE[3:])
VARLEN = ("q", "k", "v", "cu_seqlens_q", "cu_seqlens_k", "max_seqlen_q", "max_seqlen_k", *DENSE[3:], "block_table")
XFORMERS = ("query", "key", "value", "attn_bias", "p", "scale", "op", "output_dtype")
SDPA_PARAMS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
KVCACHE = ("q", "k_cache", "v_cache", "k", "v", "rotary_cos", "rotary_sin", "cache_seqlens", "cache_batch_idx",
           "cache_leftpad", "block_table", "softmax_scale", "causal", "window_size", "softcap", "rotary_interleaved",
           "alibi_slopes", "num_splits", "return_softmax_lse")

_APPEND = ("appends the new keys/values to k_cache/v_cache in place at cache_seqlens before attending: write them "
           "into the cache first (row b: `k_cache[b, n:n + k.shape[1]] = k[b]` with n = cache_seqlens[b]), then the "
           "call without k/v and with cache_seqlens + k.shape[1] converts")
_ROTARY = ("the kernel rotates q and the appended k at positions cache_seqlens + i: apply the rotary embedding "
           "beforehand (torch_npu.npu_rotary_mul), then the call without rotary_cos/rotary_sin converts")
_KVCACHE_FLAGS = (  # with _FLAGS' window_size, softcap and alibi_slopes
    ("k", None, "review", _APPEND),
    ("v", None, "review", _APPEND),
    ("rotary_cos", None, "review", _ROTARY),
    ("rotary_sin", None, "review", _ROTARY),
    ("cache_batch_idx", None, "review", "the cache rows are picked by cache_batch_idx, which "
     "npu_fused_infer_attention_score has no counterpart for: gather k_cache[cache_batch_idx] (a copy) or keep the "
     "cache in batch order"),
    ("cache_leftpad", None, "review", "a left-padded cache: the NPU op reads keys from KV_S - kv_padding_size - "
     "actual_seq_lengths_kv to KV_S - kv_padding_size, so kv_padding_size = k_cache.shape[1] - cache_seqlens and "
     "actual_seq_lengths_kv = cache_seqlens - cache_leftpad; translate by hand and check on device"),
    ("block_table", None, "review", "a paged cache: npu_fused_infer_attention_score takes block_table with "
     "block_size and needs actual_seq_lengths_kv, but for BSND queries its cache is (num_blocks, block_size, "
     "kv_heads * head_dim) where flash-attn's is (num_blocks, block_size, kv_heads, head_dim): reshape and check "
     "on device"),
    ("return_softmax_lse", False, "review", "npu_fused_infer_attention_score returns the log-sum-exp with "
     "softmax_lse_flag=True, shaped (batch, heads, seq, 1) where flash-attn's is (batch, heads, seq)"),
)

_TOP_LEFT_MASKS = {"xformers.ops.LowerTriangularMask", "xformers.ops.fmha.LowerTriangularMask",
                   "xformers.ops.fmha.attn_bias.LowerTriangularMask"}
_BOTTOM_RIGHT_MASKS = {"xformers.ops.LowerTriangularFromBottomRightMask",
                       "xformers.ops.fmha.attn_bias.LowerTriangularFromBottomRightMask"}


def _flag_problem(args: CallArgs, flags: tuple = _FLAGS) -> Refuse | None:
    """Every flag that blocks the conversion, so that one report entry says all that stands in the way."""
    if args.error:
        return Refuse("review", f"cannot bind the arguments statically: {args.error}")
    named: dict[str, list[str]] = {}  # why -> the arguments it explains
    hedges: dict[str, str] = {}  # why -> how sure the report can be, when an argument is not a literal
    statuses = set()
    for name, default, status, why in flags:
        if not args.given(name) or args.is_default(name, default):
            continue
        named.setdefault(why, []).append(f"`{name}={args.code(name)}`")
        if args.literal(name) is UNKNOWN:
            hedges.setdefault(why, " (unless it is None at run time)" if default is None else " (decided at run time)")
            status = "review"
        statuses.add(status)
    if not named:
        return None
    reason = "; ".join(f"{', '.join(names)}{hedges.get(why, '')}: {why}" for why, names in named.items())
    return Refuse("unsupported" if "unsupported" in statuses else "review", reason)


def _scale(args: CallArgs, name: str, head_dim_of: str) -> str | Refuse:
    default = f"{head_dim_of}.shape[-1] ** -0.5"
    value = args.literal(name)
    if value is None:
        return default
    if value is not UNKNOWN or not args.is_plain(name):
        return args.code(name) if value is not UNKNOWN else Refuse(
            "review", f"`{name}={args.code(name)}` may be None at run time; pass the scale explicitly")
    scale = args.code(name)
    return f"{scale} if {scale} is not None else {default}"


def _keep_prob(args: CallArgs, name: str) -> str | None:
    return None if args.is_default(name, 0.0) else f"1 - {atom(args.code(name))}"


def _mask(args: CallArgs, causal: str | bool | None, sparse_mode: int, device_of: str) -> list | Refuse:
    """atten_mask/sparse_mode keywords for a causal flag: a parameter (a literal, or a plain name decided at run
    time), True (the call is known to be causal) or None (it is not)."""
    mask = _MASK.format(device=f"{device_of}.device")
    if causal is None or (causal is not True and args.is_default(causal, False)):
        return []
    if causal is True or args.literal(causal) is not UNKNOWN:
        return [("atten_mask", mask), ("sparse_mode", str(sparse_mode))]
    if not args.is_plain(causal):
        return Refuse("review", f"`{causal}={args.code(causal)}` is decided at run time; name it so it can be read twice")
    flag = args.code(causal)
    return [("atten_mask", f"{mask} if {flag} else None"), ("sparse_mode", f"{sparse_mode} if {flag} else 0")]


def _npu_call(tensors: tuple[str, str, str], head_num: str, layout: str, extra: list, head_dim_of: str,
              args: CallArgs, scale: str, dropout: str, causal: str | bool | None, sparse_mode: int = 3) -> Rewrite | Refuse:
    scale_code = _scale(args, scale, head_dim_of)
    mask = _mask(args, causal, sparse_mode, head_dim_of)
    for problem in (scale_code, mask):
        if isinstance(problem, Refuse):
            return problem
    pairs = [("scale", scale_code), ("keep_prob", _keep_prob(args, dropout)), *mask, *extra]
    code = f'{NPU_ATTENTION}({", ".join(tensors)}, {head_num}, "{layout}", {keywords(pairs)})[0]'
    return Rewrite(code, ("torch_npu", "torch") if mask else ("torch_npu",))


def _sdpa_call(tensors: str, args: CallArgs, scale: str, dropout: str, causal: str | None,
               gqa: bool) -> Rewrite | Refuse:
    """SDPA on [B, H, S, D] views: flash-attn's default scale is SDPA's too, and a scale of None means it."""
    if causal is not None and not args.is_default(causal, False):
        return Refuse("review", "a causal mask on SDPA is top-left aligned, flash-attn's bottom-right: they differ "
                                "when query and key lengths differ; bind the inputs to names so the fused op can be used")
    pairs = [("dropout_p", None if args.is_default(dropout, 0.0) else args.code(dropout)),
             ("scale", None if args.is_default(scale, None) else args.code(scale)),
             ("enable_gqa", "True" if gqa else None)]
    code = f"{SDPA}({', '.join([tensors, keywords(pairs)]).rstrip(', ')}).transpose(1, 2).contiguous()"
    return Rewrite(code, ("torch",), note="fell back to SDPA: the head count cannot be read from these arguments")


def _bhsd(code: str) -> str:
    return f"{atom(code)}.transpose(1, 2)"


@signature(DENSE, 6)
def flash_attn_func(args: CallArgs) -> Rewrite | Refuse:
    problem = _flag_problem(args)
    if problem:
        return problem
    q, k, v = (args.code(name) for name in ("q", "k", "v"))
    if not args.is_plain("q"):
        return _sdpa_call(", ".join(map(_bhsd, (q, k, v))), args, "softmax_scale", "dropout_p", "causal", gqa=True)
    return _npu_call((q, k, v), f"{q}.shape[2]", "BSND", [], q, args, "softmax_scale", "dropout_p", "causal")


@signature(QKV_PACKED, 4)
def flash_attn_qkvpacked_func(args: CallArgs) -> Rewrite | Refuse:
    problem = _flag_problem(args)
    if problem:
        return problem
    qkv = args.code("qkv")
    if not args.is_plain("qkv"):
        return _sdpa_call(f"*{atom(qkv)}{_BSND_FROM_PACKED}", args, "softmax_scale", "dropout_p", "causal", gqa=False)
    tensors = tuple(f"{qkv}[:, :, {index}]" for index in range(3))
    return _npu_call(tensors, f"{qkv}.shape[3]", "BSND", [], qkv, args, "softmax_scale", "dropout_p", "causal")


@signature(KV_PACKED, 5)
def flash_attn_kvpacked_func(args: CallArgs) -> Rewrite | Refuse:
    problem = _flag_problem(args)
    if problem:
        return problem
    q, kv = args.code("q"), args.code("kv")
    if not (args.is_plain("q") and args.is_plain("kv")):
        tensors = f"{_bhsd(q)}, *{atom(kv)}{_BSND_FROM_PACKED}"
        return _sdpa_call(tensors, args, "softmax_scale", "dropout_p", "causal", gqa=True)
    tensors = (q, f"{kv}[:, :, 0]", f"{kv}[:, :, 1]")
    return _npu_call(tensors, f"{q}.shape[2]", "BSND", [], q, args, "softmax_scale", "dropout_p", "causal")


@signature(VARLEN, 10)
def flash_attn_varlen_func(args: CallArgs) -> Rewrite | Refuse:
    problem = _flag_problem(args)
    if problem:
        return problem
    if not args.is_plain("q"):
        return Refuse("review", f"`{args.code('q')}`: bind the query to a name so its head count can be read")
    if args.code("cu_seqlens_q") is None or args.code("cu_seqlens_k") is None:  # not a valid call: flash-attn raises
        return Refuse("review", "no cu_seqlens_q/cu_seqlens_k: the sequence boundaries cannot be translated")
    q, k, v = (args.code(name) for name in ("q", "k", "v"))
    lengths = [(f"actual_seq_{side}len", f"{atom(args.code(f'cu_seqlens_{key}'))}[1:].tolist()")
               for side, key in (("q", "q"), ("kv", "k"))]
    return _npu_call((q, k, v), f"{q}.shape[1]", "TND", lengths, q, args, "softmax_scale", "dropout_p", "causal")


@signature(XFORMERS, 6)
def memory_efficient_attention(args: CallArgs) -> Rewrite | Refuse:
    problem = _flag_problem(args)
    if problem:
        return problem
    bias, masks = args.code("attn_bias"), args.calls("attn_bias")
    if args.is_default("attn_bias", None):
        sparse_mode = None
    elif masks & _TOP_LEFT_MASKS:
        sparse_mode = 2
    elif masks & _BOTTOM_RIGHT_MASKS:
        sparse_mode = 3
    else:
        return Refuse("review", f"`attn_bias={bias}`: a bias tensor maps to `pse`, a block-diagonal mask to the TND "
                                "layout with actual_seq_qlen/kvlen; decide by hand")
    q, k, v = (args.code(name) for name in ("query", "key", "value"))
    if not args.is_plain("query"):
        if sparse_mode is not None:
            return Refuse("review", f"`{q}`: bind the query to a name so the causal mask can be built")
        rewrite = _sdpa_call(", ".join(map(_bhsd, (q, k, v))), args, "scale", "p", None, gqa=False)
    else:
        rewrite = _npu_call((q, k, v), f"{q}.shape[2]", "BSND", [], q, args, "scale", "p",
                            True if sparse_mode else None, sparse_mode or 0)
    if isinstance(rewrite, Refuse):
        return rewrite
    note = "assumes 4-D [batch, seq, heads, dim] inputs; 3-D [batch, seq, dim] inputs need one head"
    return Rewrite(rewrite.code, rewrite.needs, note=" ".join(filter(None, (rewrite.note, note))), review=True)


def _kv_lengths(args: CallArgs) -> str | None:
    """actual_seq_lengths_kv from cache_seqlens, an int (every batch) or a (batch,) tensor."""
    lengths = args.literal("cache_seqlens")
    if lengths is None:
        return None
    if isinstance(lengths, int):
        return f"[{lengths}]"
    return f"torch.as_tensor({args.code('cache_seqlens')}).reshape(-1).tolist()"


def _causal_length_mask(args: CallArgs, q: str, k_cache: str) -> list | Refuse:
    """Bottom-right causal against each batch's cache_seqlens, as a (B or 1, 1, S_q, S_kv) mask: row i of the query
    sees keys j <= cache_seqlens - S_q + i."""
    if args.is_default("causal", False):
        return []
    if args.literal("cache_seqlens") is UNKNOWN and not args.is_plain("cache_seqlens"):
        return Refuse("review", f"`cache_seqlens={args.code('cache_seqlens')}` is needed twice for the causal mask; "
                                "bind it to a name")
    device = f"device={q}.device"
    mask = (f"torch.arange({k_cache}.shape[1], {device}) >= torch.as_tensor({args.code('cache_seqlens')}, {device})"
            f".reshape(-1, 1, 1, 1) + torch.arange(1 - {q}.shape[1], 1, {device})[:, None]")
    if args.literal("causal") is not UNKNOWN:
        return [("atten_mask", mask)]
    if not args.is_plain("causal"):
        return Refuse("review", f"`causal={args.code('causal')}` is decided at run time; name it so it can be read twice")
    return [("atten_mask", f"{mask} if {args.code('causal')} else None")]


@signature(KVCACHE, 8)
def flash_attn_with_kvcache(args: CallArgs) -> Rewrite | Refuse:
    """Attention of q on a KV cache that is only read: no append, rotary, paged or left-padded cache."""
    problem = _flag_problem(args, _KVCACHE_FLAGS + _FLAGS[:3])
    if problem:
        return problem
    if not (args.is_plain("q") and args.is_plain("k_cache")):
        return Refuse("review", "bind q and k_cache to names so their head counts can be read")
    q, k_cache, v_cache = (args.code(name) for name in ("q", "k_cache", "v_cache"))
    scale = _scale(args, "softmax_scale", q)
    lengths = _kv_lengths(args)
    mask = _mask(args, "causal", 3, q) if lengths is None else _causal_length_mask(args, q, k_cache)
    for problem in (scale, mask):
        if isinstance(problem, Refuse):
            return problem
    pairs = [("num_heads", f"{q}.shape[2]"), ("num_key_value_heads", f"{k_cache}.shape[2]"),
             ("input_layout", '"BSND"'), ("scale", scale), ("actual_seq_lengths_kv", lengths), *mask]
    code = f"{NPU_INFER_ATTENTION}({q}, {k_cache}, {v_cache}, {keywords(pairs)})[0]"
    return Rewrite(code, ("torch_npu", "torch") if mask or "torch." in (lengths or "") else ("torch_npu",))


@advice()
@signature(SDPA_PARAMS, 6)
def scaled_dot_product_attention_advice(args: CallArgs) -> Refuse:
    """Performance advice, never a rewrite: SDPA is correct on NPU as it is (torch_npu registers its own kernel)."""
    why = "SDPA already runs on NPU (torch_npu registers a kernel for it): measure the gain before switching"
    if args.error:
        return Refuse("review", f"torch_npu.npu_fusion_attention with input_layout=\"BNSD\" is the fused kernel: {why}")
    q, k, v = (atom(args.code(name)) for name in ("query", "key", "value"))
    keep_prob = _keep_prob(args, "dropout_p")
    pairs = [("scale", args.code("scale") if not args.is_default("scale", None) else f"{q}.shape[-1] ** -0.5"),
             ("keep_prob", keep_prob)]
    notes, when = [why], ""
    if not args.is_default("attn_mask", None):  # SDPA refuses a mask together with is_causal
        mask = atom(args.code("attn_mask"))
        pairs.append(("atten_mask", f"~{mask}"))
        when = f" when {mask} is boolean"
        notes.append(f"a boolean attn_mask keeps the positions where it is True, the NPU masks them, hence ~{mask}; "
                     f"an additive float mask becomes pse={mask} / scale instead of atten_mask (the NPU adds pse "
                     "before scaling)")
    elif not args.is_default("is_causal", False):
        causal, mask = args.code("is_causal"), _MASK.format(device=f"{q}.device")
        if args.literal("is_causal") is UNKNOWN:
            pairs += [("atten_mask", f"{mask} if {causal} else None"), ("sparse_mode", f"2 if {causal} else 0")]
        else:
            pairs += [("atten_mask", mask), ("sparse_mode", "2")]
        notes.append("is_causal is top-left aligned: sparse_mode=2 (leftUpCausal) with the 2048x2048 mask whose "
                     "True entries are masked")
    if keep_prob is not None:
        notes.append("SDPA drops out whenever dropout_p > 0, in eval too, as keep_prob=1 - dropout_p does")
    code = f'{NPU_ATTENTION}({q}, {k}, {v}, {q}.shape[1], "BNSD", {keywords(pairs)})[0]'
    return Refuse("review", f"`{code}` computes the same on [batch, heads, seq, dim] inputs{when} (K/V with fewer "
                            f"heads are grouped-query attention there too). {'; '.join(notes)}")


TRANSFORMS = (flash_attn_func, flash_attn_qkvpacked_func, flash_attn_kvpacked_func, flash_attn_varlen_func,
              memory_efficient_attention, flash_attn_with_kvcache, scaled_dot_product_attention_advice)
