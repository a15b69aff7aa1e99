"""The parity cases porter adds for what it converted (PY411 flash-attn calls, PY412 Apex, PY416 --fuse), run as a
user runs the suite: on the CPU both sides run porter's models of the operators, so the argument translation is
checked, and a wrong translation fails."""

import json
import re
import shutil
import subprocess
import sys

from click.testing import CliRunner

import torch

from porter.cli import main
from porter.parity.cases import InputSpec
from porter.parity.cli import parity
from porter.parity.converted_cases import KINDS
from porter.parity.inputs import random_tensor
from tests.parity.parity_helpers import REPO

FIXTURES = REPO / "fixtures" / "rules"


def _port(tmp_path, *flags):
    source, out = tmp_path / "src", tmp_path / "out"
    source.mkdir()
    shutil.copyfile(FIXTURES / "PY416" / "before.py", source / "norm.py")
    shutil.copyfile(FIXTURES / "PY411" / "before.py", source / "attn.py")
    result = CliRunner().invoke(main, ["port", str(source), "-o", str(out), "--no-cache", "-q", *flags])
    assert result.exit_code == 0, result.output
    return out / "parity"


def _compare(suite, report, prefixes=("flash", "npu_rms", "memory_efficient")):
    """In a fresh process, as a user runs it: the case module is imported anew."""
    done = subprocess.run([sys.executable, "-m", "porter", "parity", "compare", str(suite), "--device", "cpu",
                           "--json", str(report)], capture_output=True, text=True)
    statuses = {c["case"]: c["status"] for c in json.loads(report.read_text())["cases"]}
    return done.returncode, {name: status for name, status in statuses.items() if name.startswith(prefixes)}


def test_each_conversion_gets_a_case_and_a_wrong_translation_fails(tmp_path):
    suite = _port(tmp_path, "--fuse")
    module = (suite / "converted_cases.py").read_text()
    assert "converted_cases" in (suite / "parity.yaml").read_text()
    # PY416 rewrote two products; PY411's dense, qkv-, kv-packed and varlen calls without a dropout are five more,
    # its causal xFormers call and two decode calls on a KV cache the last three
    assert module.count("@parity_case(") == 10 and module.count("flash_attn.flash_attn_func(") == 2
    assert module.count("flash_attn.flash_attn_with_kvcache(") == 2
    assert "xformers_ops.memory_efficient_attention(query, key, value, attn_bias=xformers_ops.LowerTriangularMask())" \
        in module
    assert "flash_attn.flash_attn_qkvpacked_func(" in module and "flash_attn.flash_attn_kvpacked_func(" in module
    assert "flash_attn.flash_attn_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q" in module
    assert "from torch import rsqrt" in module and "causal = False  # `self.causal` at run time" in module
    assert CliRunner().invoke(parity, ["record", str(suite), "--device", "cpu"]).exit_code == 0
    code, statuses = _compare(suite, tmp_path / "p.json")
    assert code == 0 and len(statuses) == 20 and set(statuses.values()) == {"pass"}, statuses

    wrong = module.replace('"BSND", scale=0.125)[0]', '"BSND", scale=0.25)[0]')
    wrong = wrong.replace("epsilon=1e-6)[0]", "epsilon=0.25)[0]")
    wrong = wrong.replace("actual_seq_qlen=cu_seqlens_q[1:]", "actual_seq_qlen=cu_seqlens_k[1:]")  # other boundaries
    assert wrong != module
    (suite / "converted_cases.py").write_text(wrong)
    code, statuses = _compare(suite, tmp_path / "p.json")
    failed = sorted(name for name, status in statuses.items() if status == "fail")
    assert code == 1 and failed == ["flash_attn_func_attn_14_bf16", "flash_attn_func_attn_14_fp16",
                                    "flash_attn_varlen_func_attn_18_bf16", "flash_attn_varlen_func_attn_18_fp16",
                                    "npu_rms_norm_norm_11_bf16", "npu_rms_norm_norm_11_fp32"], statuses


def test_without_fuse_only_the_library_conversions_get_cases(tmp_path):
    module = (_port(tmp_path) / "converted_cases.py").read_text()
    assert module.count("@parity_case(") == 8 and "npu_rms_norm" not in module


def test_apex_conversions_get_cases_that_catch_a_changed_hyperparameter(tmp_path):
    """PY412's norms and optimizers: the Apex call (porter's model of Apex on the CPU) against the PyTorch twin
    it became. A dropped eps, weight decay or nesterov flag fails; so would Apex's defaults carried over wrongly."""
    source, out = tmp_path / "src", tmp_path / "out"
    source.mkdir()
    shutil.copyfile(FIXTURES / "PY412" / "before.py", source / "opt.py")
    assert CliRunner().invoke(main, ["port", str(source), "-o", str(out), "--no-cache", "-q"]).exit_code == 0
    suite = out / "parity"
    module = (suite / "converted_cases.py").read_text()
    assert module.count("@parity_case(") == 5 and "normalized_shape = 1024  # `args.hidden` at run time" in module
    assert "optimizer_steps(lambda params: apex_optimizers.FusedAdam(params, lr, weight_decay=weight_decay)" in module
    assert CliRunner().invoke(parity, ["record", str(suite), "--device", "cpu"]).exit_code == 0
    code, statuses = _compare(suite, tmp_path / "p.json", "Fused")
    assert code == 0 and len(statuses) == 7 and set(statuses.values()) == {"pass"}, statuses

    wrong = module.replace("AdamW(params, lr=lr, weight_decay=weight_decay)", "AdamW(params, lr=lr)")
    wrong = wrong.replace("momentum=0.9, nesterov=True)", "momentum=0.9)")
    wrong = wrong.replace("RMSNorm(normalized_shape, eps=1e-05)", "RMSNorm(normalized_shape)")
    (suite / "converted_cases.py").write_text(wrong)
    code, statuses = _compare(suite, tmp_path / "p.json", "Fused")
    failed = sorted(name for name, status in statuses.items() if status == "fail")
    assert code == 1 and failed == ["FusedAdam_opt_15", "FusedRMSNorm_opt_14_bf16", "FusedRMSNorm_opt_14_fp32",
                                    "FusedSGD_opt_17"], statuses


def test_options_at_their_defaults_keep_a_case_and_a_call_over_lines_stays_readable(tmp_path):
    """Found on nanotron 0.4: every flash_attn_varlen_func call passes return_attn_probs=False over 11 lines."""
    source, out = tmp_path / "src", tmp_path / "out"
    source.mkdir()
    (source / "attn.py").write_text(
        "from flash_attn import flash_attn_func\n\n\ndef attend(q, k, v):\n    return flash_attn_func(\n"
        "        q, k, v,  # [batch, seq, heads, dim]\n        causal=True,\n        return_attn_probs=False,\n"
        "        window_size=(-1, -1),\n    )\n")
    assert CliRunner().invoke(main, ["port", str(source), "-o", str(out), "--no-cache", "-q"]).exit_code == 0
    module = (out / "parity" / "converted_cases.py").read_text()
    compile(module, "converted_cases.py", "exec")
    assert module.count("@parity_case(") == 1
    assert "    return flash_attn.flash_attn_func(\n        q, k, v,  # [batch, seq, heads, dim]\n" in module
    assert "        return_attn_probs=False,\n        window_size=(-1, -1),\n    )\n" in module


XFORMERS_AND_DECODE = '''import xformers.ops as xops
from flash_attn import flash_attn_with_kvcache
from xformers.ops import LowerTriangularFromBottomRightMask, memory_efficient_attention


def attend(q, k, v, k_cache, v_cache, lengths):
    top_left = xops.memory_efficient_attention(q, k, v, attn_bias=xops.LowerTriangularMask())
    bottom_right = memory_efficient_attention(q, k, v, LowerTriangularFromBottomRightMask(), scale=0.125)
    cast = xops.memory_efficient_attention(q.float(), k.float(), v.float(), scale=0.2)
    decode = flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=lengths, softmax_scale=0.1)
    causal = flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=lengths, causal=True)
    whole = flash_attn_with_kvcache(q, k_cache, v_cache, causal=True, num_splits=0)
    biased = xops.memory_efficient_attention(q, k, v, attn_bias=xops.fmha.BlockDiagonalMask.from_seqlens([2]))
    return top_left, bottom_right, cast, decode, causal, whole, biased
'''


def test_xformers_and_kvcache_conversions_get_cases_that_catch_a_wrong_translation(tmp_path):
    """xFormers' two causal masks (spelled through porter's stand-ins on the CPU), its SDPA form, and decode
    attention on a read-only cache: with per-batch lengths, causal or not, and on the whole cache. Queries are
    fewer than keys, so the masks' alignment counts; the cache is filled to fewer positions than it has."""
    suite, module = _ported_suite(tmp_path, XFORMERS_AND_DECODE)
    assert module.count("@parity_case(") == 6  # not the block-diagonal mask, which porter leaves to the user
    assert "xformers_ops.memory_efficient_attention(query, key, value, attn_bias=xformers_ops.LowerTriangularMask())" \
        in module and "xformers_ops.LowerTriangularFromBottomRightMask(), scale=0.125)" in module
    assert "actual_seq_lengths_kv=torch.as_tensor(cache_seqlens).reshape(-1).tolist())[0]" in module
    assert "'cache_seqlens': {'shape': [2], 'dtype': 'int32', 'init': 'randint', 'low': 5, 'high': 256}" in module
    prefixes = ("memory_efficient", "flash_attn_with")
    code, statuses = _compare(suite, tmp_path / "p.json", prefixes)
    assert code == 0 and len(statuses) == 12 and set(statuses.values()) == {"pass"}, statuses

    wrong = module.replace("sparse_mode=2)[0]", "sparse_mode=3)[0]")  # top-left mask taken as bottom-right
    wrong = wrong.replace("scale=0.2).transpose", "scale=0.25).transpose")
    wrong = wrong.replace(", actual_seq_lengths_kv=torch.as_tensor(cache_seqlens).reshape(-1).tolist())[0]", ")[0]")
    causal_mask = (", atten_mask=torch.arange(k_cache.shape[1], device=q.device) >= torch.as_tensor(cache_seqlens, "
                   "device=q.device).reshape(-1, 1, 1, 1) + torch.arange(1 - q.shape[1], 1, device=q.device)[:, None]")
    wrong = wrong.replace(f"{causal_mask})[0]", ")[0]")
    assert wrong.count("sparse_mode=3)[0]") == 3 and wrong.count("actual_seq_lengths_kv") == 1
    assert causal_mask not in wrong and "scale=0.25)" in wrong
    (suite / "converted_cases.py").write_text(wrong)
    code, statuses = _compare(suite, tmp_path / "p.json", prefixes)
    failed = sorted(name for name, status in statuses.items() if status == "fail")
    assert code == 1 and failed == _in_each_dtype(
        "flash_attn_with_kvcache_decode_10", "flash_attn_with_kvcache_decode_11",  # no lengths; no causal mask
        "memory_efficient_attention_decode_7", "memory_efficient_attention_decode_9"), statuses
    (suite / "converted_cases.py").write_text(module.replace("sparse_mode=3)[0]", "sparse_mode=2)[0]"))
    code, statuses = _compare(suite, tmp_path / "p.json", prefixes)  # bottom-right masks taken as top-left
    failed = sorted(name for name, status in statuses.items() if status == "fail")
    assert code == 1 and failed == _in_each_dtype("flash_attn_with_kvcache_decode_12",
                                                  "memory_efficient_attention_decode_8"), statuses


def _ported_suite(tmp_path, text, file="decode.py", *flags):
    """The parity suite of `text` ported as `file`, recorded on the CPU, and its converted cases' module."""
    source, out = tmp_path / "src", tmp_path / "out"
    source.mkdir()
    (source / file).write_text(text)
    assert CliRunner().invoke(main, ["port", str(source), "-o", str(out), "--no-cache", "-q", *flags]).exit_code == 0
    suite = out / "parity"
    assert CliRunner().invoke(parity, ["record", str(suite), "--device", "cpu"]).exit_code == 0
    return suite, (suite / "converted_cases.py").read_text()


def _failed_with(suite, tmp_path, module, prefixes):
    """The exit code of comparing the suite with `module` as its converted cases, and the cases that fail."""
    (suite / "converted_cases.py").write_text(module)
    code, statuses = _compare(suite, tmp_path / "p.json", prefixes)
    return code, sorted(name for name, status in statuses.items() if status == "fail")


def _in_each_dtype(*cases):
    return [f"{case}_{dtype}" for case in cases for dtype in ("bf16", "fp16")]


CAUSAL = '''from flash_attn import flash_attn_func, flash_attn_kvpacked_func, flash_attn_qkvpacked_func


def attend(q, k, v, kv, qkv):
    dense = flash_attn_func(q, k, v, causal=True)
    pair = flash_attn_kvpacked_func(q, kv, causal=True)
    packed = flash_attn_qkvpacked_func(qkv, causal=True)
    return dense, pair, packed
'''


def test_causal_flash_attn_cases_have_fewer_queries_than_keys_so_a_top_left_mask_fails(tmp_path):
    """flash-attn >= 2.1 aligns a causal mask to the bottom right (sparse_mode=3). The dense and kv-packed cases
    attend 128 queries to 256 keys, where the top-left mask (sparse_mode=2, SDPA's is_causal) differs; a qkv-packed
    call has as many queries as keys, where the two masks are the same, so its case cannot tell them apart."""
    suite, module = _ported_suite(tmp_path, CAUSAL, "causal.py")
    assert module.count("sparse_mode=3)[0]") == 3 and "inputs={'q': [2, 128, 8, 64], 'k': [2, 256, 8, 64]" in module
    code, failed = _failed_with(suite, tmp_path, module, ("flash",))
    assert code == 0 and not failed
    code, failed = _failed_with(suite, tmp_path, module.replace("sparse_mode=3)[0]", "sparse_mode=2)[0]"), ("flash",))
    assert code == 1 and failed == _in_each_dtype("flash_attn_func_causal_5", "flash_attn_kvpacked_func_causal_6")


CAUSAL_DECODE = '''from flash_attn import flash_attn_with_kvcache


def attend(q, k_cache, v_cache, lengths):
    causal = flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=lengths, causal=True)
    fixed = flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=100, causal=True)
    return causal, fixed
'''


def test_a_causal_decode_case_needs_no_key_lengths_but_catches_a_mask_aligned_to_the_cache_end(tmp_path):
    """The causal mask porter builds from cache_seqlens hides key j from query row i when j > length - S_q + i: its
    last row already hides every key past the length, so without actual_seq_lengths_kv the call computes the same
    (nothing to catch). Aligned to the cache's end instead of each length, it would hide nothing there: that fails."""
    suite, module = _ported_suite(tmp_path, CAUSAL_DECODE)
    assert module.count("actual_seq_lengths_kv=") == 2 and "cache_seqlens=100, causal=True)" in module
    no_lengths = re.sub(r", actual_seq_lengths_kv=[^=]*(?=, atten_mask=)", "", module)
    assert "actual_seq_lengths_kv" not in no_lengths
    assert _failed_with(suite, tmp_path, no_lengths, ("flash",)) == (0, [])
    cache_end = re.sub(r"torch\.as_tensor\((cache_seqlens|100), device", "torch.as_tensor(k_cache.shape[1], device",
                       module)
    assert cache_end.count("torch.as_tensor(k_cache.shape[1], device") == 2
    assert _failed_with(suite, tmp_path, cache_end, ("flash",)) == (
        1, _in_each_dtype("flash_attn_with_kvcache_decode_5", "flash_attn_with_kvcache_decode_6"))


LITERALS_AND_ALIASES = '''import xformers.ops as xops
from flash_attn import flash_attn_with_kvcache
from xformers.ops import LowerTriangularFromBottomRightMask as FromBottomRight, LowerTriangularMask as Causal


def attend(q, k, v, k_cache, v_cache):
    top_left = xops.memory_efficient_attention(q, k, v, attn_bias=Causal())
    bottom_right = xops.memory_efficient_attention(q, k, v, attn_bias=FromBottomRight())
    fixed = flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=100, num_splits=4)
    past_the_cache = flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=1000)
    return top_left, bottom_right, fixed, past_the_cache
'''


def test_literal_cache_lengths_other_split_counts_and_aliased_masks_get_cases(tmp_path):
    """A literal cache_seqlens the case's cache can hold stays in the call (flash-attn takes an int for every batch)
    and the case has no such input; num_splits, which only splits the GPU's work, may be any literal; a mask class
    imported under another name is spelled through the library by the name its import gives. A length past the
    case's 256 positions gets no case. A dropped length or swapped mask alignment fails."""
    suite, module = _ported_suite(tmp_path, LITERALS_AND_ALIASES)
    assert module.count("@parity_case(") == 3 and "'cache_seqlens'" not in module
    assert "flash_attn.flash_attn_with_kvcache(q, k_cache, v_cache, cache_seqlens=100, num_splits=4)" in module
    assert "attn_bias=xformers_ops.LowerTriangularMask())" in module
    assert "attn_bias=xformers_ops.LowerTriangularFromBottomRightMask())" in module
    prefixes = ("memory_efficient", "flash_attn_with")
    assert _failed_with(suite, tmp_path, module, prefixes) == (0, [])
    swapped = module.replace("sparse_mode=2)", "sparse_mode=0)").replace("sparse_mode=3)", "sparse_mode=2)")
    wrong = swapped.replace("sparse_mode=0)", "sparse_mode=3)").replace(", actual_seq_lengths_kv=[100])", ")")
    assert wrong.count("sparse_mode=") == 2 and "actual_seq_lengths_kv" not in wrong
    assert _failed_with(suite, tmp_path, wrong, prefixes) == (1, _in_each_dtype(
        "flash_attn_with_kvcache_decode_9", "memory_efficient_attention_decode_7",
        "memory_efficient_attention_decode_8"))


def test_generated_cache_lengths_are_longer_than_the_query_and_shorter_than_the_cache():
    """No query row is left without a key, and keys past each batch's length exist to be wrongly read."""
    inputs = KINDS["flash_attn_with_kvcache"].inputs
    queries, positions = inputs["q"][1], inputs["k_cache"][1]
    lengths = torch.stack([random_tensor(InputSpec(**inputs["cache_seqlens"]), torch.int32, seed)
                           for seed in range(200)])
    assert lengths.shape == (200, inputs["q"][0]) and lengths.dtype == torch.int32
    assert queries < int(lengths.min()) and int(lengths.max()) < positions


def test_a_fused_swiglu_case_runs_the_split_halves_and_catches_swapped_halves(tmp_path):
    """PY421 rewrote `silu(y_1) * y_2` after `y_1, y_2 = torch.chunk(y, 2, -1)`: the case runs the product with the
    halves spelled from that split against npu_swiglu (porter's model on the CPU); gating the other way fails."""
    suite, module = _ported_suite(tmp_path, (FIXTURES / "PY421" / "before.py").read_text(), "mlp.py", "--fuse")
    assert "return F.silu(torch.chunk(x, 2, -1)[0]) * torch.chunk(x, 2, -1)[1]" in module
    assert "return x.chunk(2, dim=1)[1] * silu(x.chunk(2, dim=1)[0])" in module
    assert "from torch.nn.functional import silu" in module and module.count("@parity_case(") == 2
    code, failed = _failed_with(suite, tmp_path, module, ("npu_swiglu",))
    assert code == 0 and not failed
    swapped = re.sub(r"npu_swiglu\(x, dim=(-?\d)\)", r"npu_swiglu(torch.cat(x.chunk(2, \1)[::-1], \1), dim=\1)", module)
    code, failed = _failed_with(suite, tmp_path, swapped, ("npu_swiglu",))  # the second half gating the first
    assert code == 1 and failed == [f"npu_swiglu_mlp_{line}_{dtype}" for line in (13, 8) for dtype in ("bf16", "fp32")]
