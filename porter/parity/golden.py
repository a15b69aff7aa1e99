"""Golden files: one safetensors file per case plus ``manifest.json`` with hashes and the environment.

Nothing here unpickles: tensors are safetensors, metadata is JSON. Every file is checked against
the SHA-256 the manifest holds before it is parsed, and every tensor against its own hash, shape
and dtype after; any difference is a ``GoldenError`` naming the case. Inputs and cotangents that a
case's seed regenerates are not stored: compare regenerates them and checks their hashes. Stored tensors
are byte-shuffled (all first bytes, then all second bytes, ...) and the file is zlib-compressed: lossless,
and float exponents and signs, which vary little, compress where whole elements do not.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import zlib
from pathlib import Path

import torch
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

import porter
from porter.parity.cases import Case
from porter.parity.dtypes import TORCH_DTYPES, dtype_name
from porter.parity.inputs import make_cotangent, make_inputs

FORMAT = "porter-parity-golden"
FORMAT_VERSION = 3  # 2: inputs and cotangents the seed regenerates are hashed, not stored; 3: shuffled, compressed
READABLE_VERSIONS = (1, 2, 3)
MANIFEST = "manifest.json"
SUFFIX = ".safetensors.zlib"
SUFFIX_OF_VERSION = {1: ".safetensors", 2: ".safetensors", 3: SUFFIX}
COMPRESSION_LEVEL = 6  # measured on litgpt's goldens: level 1 keeps 78% of the bytes, 6 keeps 77%, 9 is 3x slower


class GoldenError(ValueError):
    """A golden set that is missing, corrupt, or recorded from another case definition."""


class NoGoldenSet(GoldenError):
    """Nothing recorded yet: the one golden problem that is not a broken golden set."""


def tensor_sha256(tensor: torch.Tensor) -> str:
    raw = tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    return hashlib.sha256(raw).hexdigest()


def write(golden_dir: Path, environment: dict, recorded: dict[str, tuple[Case, dict]],
          inferred: dict[str, dict[str, str]] | None = None, max_mb: float | None = None) -> Path:
    """Replace the golden set in ``golden_dir`` with ``recorded`` (case name -> (case, tensors)).

    Inputs and cotangents that the case's seed regenerates bit for bit are kept as hashes only;
    compare regenerates and verifies them. ``inferred``: per case, the standards inferred for a
    custom op's outputs. ``max_mb``: refuse (GoldenError) a set larger than that (MiB), writing nothing.
    """
    files, cases = {}, {}
    for name, (case, tensors) in sorted(recorded.items()):
        tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        hashes = {k: tensor_sha256(t) for k, t in tensors.items()}
        regenerated = _regenerable(case, tensors, hashes)
        stored = {k: _shuffled(t) for k, t in tensors.items() if k not in regenerated}
        data = zlib.compress(save_bytes(stored, metadata={"case": name, "format": FORMAT}), COMPRESSION_LEVEL)
        files[name] = data
        cases[name] = {
            "op": case.op, "dtype": case.dtype, "seed": case.seed, "spec_sha256": case.spec_hash(),
            "file": f"{name}{SUFFIX}", "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "tensors": {k: {"shape": list(t.shape), "dtype": dtype_name(t.dtype), "sha256": hashes[k],
                            **({"regenerated": True} if k in regenerated else {})}
                        for k, t in sorted(tensors.items())},
        }
        if inferred and name in inferred:
            cases[name]["standards"] = inferred[name]
    total = sum(len(data) for data in files.values())
    if max_mb is not None and total > max_mb * 2**20:
        largest = sorted(files, key=lambda n: -len(files[n]))[:5]
        raise GoldenError(f"the golden set would take {_mb(total)}, over the limit of {max_mb:g} MB; largest cases: "
                          + ", ".join(f"{n} ({_mb(len(files[n]))})" for n in largest)
                          + ". Shrink their inputs in parity.yaml, record fewer cases (-k), or raise --max-golden-mb")
    golden_dir.mkdir(parents=True, exist_ok=True)
    for stale in {*golden_dir.glob(f"*{SUFFIX}"), *golden_dir.glob("*.safetensors")}:
        stale.unlink()
    for name, data in files.items():
        (golden_dir / f"{name}{SUFFIX}").write_bytes(data)
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "porter_version": porter.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment, "cases": cases,
    }
    path = golden_dir / MANIFEST
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)
    return path


def _shuffled(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor's bytes as a (element size, elements) uint8 tensor: byte k of every element in row k."""
    flat = tensor.reshape(-1)
    return flat.view(torch.uint8).reshape(-1, flat.element_size()).t().contiguous()


def _unshuffled(stored: torch.Tensor, meta: dict) -> torch.Tensor:
    dtype = TORCH_DTYPES.get(meta.get("dtype"))
    if dtype is None or stored.dtype != torch.uint8 or stored.dim() != 2:
        raise ValueError(f"not a shuffled {meta.get('dtype')} tensor")
    return stored.t().reshape(-1).view(dtype).reshape(meta.get("shape", []))


def _mb(size: int) -> str:
    return f"{size / 2**20:.3g} MB"


def _regenerable(case: Case, tensors: dict[str, torch.Tensor], hashes: dict[str, str]) -> set[str]:
    """Inputs and cotangents the seed gives back bit for bit (never a collective's per-rank inputs)."""
    if case.kind.family == "collective":
        return set()
    generated = make_inputs(case)
    keys = set()
    for key, tensor in tensors.items():
        if key.startswith("input."):
            again = generated.get(key)
        elif key.startswith("cotangent."):
            again = make_cotangent(case, key, list(tensor.shape), tensor.dtype)
        else:
            continue
        if again is not None and again.shape == tensor.shape and again.dtype == tensor.dtype and tensor_sha256(again) == hashes[key]:
            keys.add(key)
    return keys


def _regenerate(case: Case, described: dict) -> dict[str, torch.Tensor]:
    keys = [k for k, meta in described.items() if meta.get("regenerated")]
    generated = make_inputs(case) if any(k.startswith("input.") for k in keys) else {}
    result = {}
    for key in keys:
        meta = described[key]
        if key.startswith("input.") and key in generated:
            result[key] = generated[key]
        elif key.startswith("cotangent.") and meta.get("dtype") in TORCH_DTYPES:
            result[key] = make_cotangent(case, key, meta.get("shape", []), TORCH_DTYPES[meta["dtype"]])
    return result


def load_manifest(golden_dir: Path) -> dict:
    path = golden_dir / MANIFEST
    if not path.is_file():
        raise NoGoldenSet(f"no golden set at {golden_dir} ({MANIFEST} missing): run `porter parity record` first")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GoldenError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise GoldenError(f"{path} is not a porter parity manifest")
    if manifest.get("format_version") not in READABLE_VERSIONS:
        raise GoldenError(f"{path} has format version {manifest.get('format_version')}; "
                          f"this porter reads version {FORMAT_VERSION}: re-record")
    if not isinstance(manifest.get("cases"), dict):
        raise GoldenError(f"{path} has no 'cases' mapping")
    return manifest


def load_case(golden_dir: Path, manifest: dict, case: Case) -> dict[str, torch.Tensor]:
    """The recorded tensors of ``case``, verified against the manifest."""
    where = f"golden for case {case.name!r}"
    entry = manifest["cases"].get(case.name)
    if entry is None:
        raise GoldenError(f"no {where} in {golden_dir}: it was added after recording or its recording failed")
    if entry.get("spec_sha256") != case.spec_hash():
        raise GoldenError(f"{where} was recorded from a different definition (op, dtype, seed, inputs or params "
                          "changed since): re-record")
    version = manifest.get("format_version")
    expected_file = f"{case.name}{SUFFIX_OF_VERSION[version]}"
    if entry.get("file") != expected_file:
        raise GoldenError(f"{where}: manifest names file {entry.get('file')!r}, expected {expected_file!r}")
    path = golden_dir / expected_file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GoldenError(f"{where}: cannot read {path}: {exc.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.get("sha256"):
        raise GoldenError(f"{where}: {path.name} is corrupt (sha256 {digest[:12]}…, manifest says "
                          f"{str(entry.get('sha256'))[:12]}…; {len(data)} of {entry.get('bytes')} bytes)")
    described = entry.get("tensors", {})
    try:
        tensors = load_bytes(zlib.decompress(data) if version >= 3 else data)
    except Exception as exc:  # zlib and safetensors raise their own error types for malformed data
        raise GoldenError(f"{where}: {path.name} is not a valid golden file: {exc}") from None
    stored = {k for k, meta in described.items() if not meta.get("regenerated")}
    if set(tensors) != stored:
        raise GoldenError(f"{where}: tensors {sorted(tensors)} differ from the manifest's {sorted(stored)}")
    if version >= 3:
        try:
            tensors = {k: _unshuffled(t, described[k]) for k, t in tensors.items()}
        except (ValueError, RuntimeError) as exc:
            raise GoldenError(f"{where}: {path.name}: {exc}") from None
    regenerated = _regenerate(case, described)
    for key, tensor in {**tensors, **regenerated}.items():
        meta = described[key]
        actual = {"shape": list(tensor.shape), "dtype": dtype_name(tensor.dtype), "sha256": tensor_sha256(tensor)}
        for field in ("shape", "dtype", "sha256"):
            if actual[field] != meta.get(field):
                how = ("regenerated from the seed here (this torch's CPU generator differs from the recorder's: "
                       "record again with this torch)") if key in regenerated else "stored"
                raise GoldenError(f"{where}: tensor {key} ({how}) has {field} {actual[field]}, manifest says {meta.get(field)}")
    missing = set(described) - set(tensors) - set(regenerated)
    if missing:
        raise GoldenError(f"{where}: cannot regenerate {', '.join(sorted(missing))}")
    return {**tensors, **regenerated}
