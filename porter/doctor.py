"""`porter doctor`: is this machine ready to run the port? torch / torch_npu / CANN versions, torch_npu importable,
NPUs visible, device and HCCL environment, and the tools porter's own checks use. Each problem comes with a fix.

torch_npu is never imported in porter's process (a broken install breaks `import torch` through torch's backend
autoload); a child interpreter tries it instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from porter.surface import release

OK, WARN, FAIL = "ok", "warn", "FAIL"
CANN_HOME_VARS = ("ASCEND_TOOLKIT_HOME", "ASCEND_HOME_PATH")
SET_ENV = "source /usr/local/Ascend/ascend-toolkit/set_env.sh  (or the set_env.sh of your CANN install)"
PROBE = ("import json, torch, torch_npu\n"
         "print(json.dumps({'torch': torch.__version__, 'torch_npu': getattr(torch_npu, '__version__', '?'),"
         " 'npus': torch.npu.device_count()}))")


@dataclass
class Check:
    name: str
    state: str
    detail: str
    fix: str | None = None

    def render(self) -> str:
        line = f"[{self.state:>4}] {self.name}: {self.detail}"
        return line + (f"\n       fix: {self.fix}" if self.fix else "")


@dataclass
class Machine:
    """What doctor looks at: environment variables, where distributions are installed, the interpreter to probe."""

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    site_dirs: list[str] | None = None  # None: this interpreter's sys.path
    python: str = sys.executable

    def distribution(self, name: str) -> metadata.Distribution | None:
        found = metadata.distributions(name=name, path=self.site_dirs if self.site_dirs is not None else sys.path)
        return next(iter(found), None)

    def probe_env(self) -> dict[str, str]:
        env = dict(self.env)
        if self.site_dirs is not None:
            env["PYTHONPATH"] = os.pathsep.join([*self.site_dirs, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        return env


def _required_torch(dist: metadata.Distribution) -> str | None:
    for requirement in dist.requires or ():
        match = re.match(r"torch\s*==\s*([\d.]+)", requirement)
        if match:
            return match[1].rstrip(".")
    return None


def _cann_version(home: Path) -> str | None:
    for info in [home / "version.cfg", *sorted(home.glob("*/ascend_toolkit_install.info"))]:
        try:
            text = info.read_text(errors="replace")
        except OSError:
            continue
        match = re.search(r"(?m)^\s*(?:version|Version)\s*=\s*\[?([\w.\-]+)", text)
        if match:
            return match[1]
    return None


def _versions(machine: Machine, target: str) -> tuple[list[Check], bool]:
    checks = []
    torch = machine.distribution("torch")
    npu = machine.distribution("torch_npu") or machine.distribution("torch-npu")
    if torch is None:
        checks.append(Check("torch", FAIL, "not installed", f'pip install "torch=={target}.*"'))
    else:
        checks.append(Check("torch", OK, torch.version))
    if npu is None:
        checks.append(Check("torch_npu", FAIL, "not installed", f'pip install "torch-npu=={target}"'))
        return checks, False
    checks.append(Check("torch_npu", OK, npu.version))
    wanted = _required_torch(npu)
    if torch is not None and wanted and release(torch.version) != release(wanted):
        checks.append(Check("torch / torch_npu pairing", FAIL,
                            f"torch_npu {npu.version} requires torch {wanted}.*, found torch {torch.version}",
                            f'pip install "torch=={wanted}.*"  (or the torch_npu release built for torch '
                            f'{".".join(map(str, release(torch.version)))})'))
    elif torch is not None:
        checks.append(Check("torch / torch_npu pairing", OK, f"torch_npu {npu.version} is built for torch {wanted or '?'}"))
    if release(npu.version) != release(target):
        checks.append(Check("port target", WARN, f"the port was made for torch_npu {target}, this machine has "
                            f"{npu.version}", f"porter port SRC -o DST --target {'.'.join(map(str, release(npu.version)))}"
                            f'  (or pip install "torch-npu=={target}")'))
    else:
        checks.append(Check("port target", OK, f"torch_npu {target}"))
    return checks, True


def _cann(machine: Machine) -> Check:
    homes = [(var, machine.env[var]) for var in CANN_HOME_VARS if machine.env.get(var)]
    if not homes:
        return Check("CANN", FAIL, f"none of {', '.join(CANN_HOME_VARS)} is set: the CANN toolkit is not on this "
                     "shell's environment", SET_ENV)
    var, home = homes[0]
    if not Path(home).is_dir():
        return Check("CANN", FAIL, f"{var}={home} does not exist", SET_ENV)
    version = _cann_version(Path(home))
    return Check("CANN", OK if version else WARN, f"{var}={home}, version {version or 'unknown (no version file)'}")


def _import_probe(machine: Machine) -> list[Check]:
    try:
        done = subprocess.run([machine.python, "-c", PROBE], capture_output=True, text=True, timeout=300,
                              env=machine.probe_env(), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [Check("torch_npu import", FAIL, f"could not run {machine.python}: {exc}")]
    if done.returncode != 0:
        # torch's backend autoload wraps the real error; the first exception line of the chain names the cause
        errors = re.findall(r"(?m)^\w*(?:Error|Exception)\b.*$", done.stderr) or [done.stderr.strip() or "(no output)"]
        detail = errors[0] + (f" (then: {errors[-1]})" if len(errors) > 1 else "")
        fix = SET_ENV if re.search(r"\.so\b|libascend|libhccl|ASCEND|CANN", done.stderr) else \
            "reinstall the matching pair: pip install torch==X torch-npu==X (see the pairing check above)"
        return [Check("torch_npu import", FAIL, f"`import torch, torch_npu` fails: {detail}", fix)]
    try:
        seen = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return [Check("torch_npu import", WARN, f"unexpected probe output: {done.stdout[-200:]!r}")]
    checks = [Check("torch_npu import", OK, f"torch {seen['torch']}, torch_npu {seen['torch_npu']}")]
    if seen["npus"]:
        checks.append(Check("NPUs visible", OK, str(seen["npus"])))
    else:
        checks.append(Check("NPUs visible", FAIL, "torch.npu.device_count() is 0",
                            "check `npu-smi info` (driver) and ASCEND_RT_VISIBLE_DEVICES"))
    return checks


def _device_env(machine: Machine) -> list[Check]:
    env = machine.env
    checks = []
    if env.get("CUDA_VISIBLE_DEVICES") is not None and env.get("ASCEND_RT_VISIBLE_DEVICES") is None:
        checks.append(Check("device selection", WARN, "CUDA_VISIBLE_DEVICES is set but has no effect on NPUs",
                            f"export ASCEND_RT_VISIBLE_DEVICES={env['CUDA_VISIBLE_DEVICES']}"))
    nccl = sorted(name for name in env if name.startswith("NCCL_"))
    if nccl:
        checks.append(Check("HCCL environment", WARN, f"{', '.join(nccl)} set: NCCL variables do nothing under HCCL",
                            "port the launcher with porter (rule PY302 maps each to its HCCL twin or says none exists)"))
    else:
        hccl = sorted(name for name in env if name.startswith("HCCL_"))
        checks.append(Check("HCCL environment", OK, ", ".join(hccl) if hccl else "defaults (no HCCL_* variable set)"))
    return checks


def _tools(machine: Machine) -> list[Check]:
    path = machine.env.get("PATH", "")
    checks = []
    for tool, use in (("g++", "building C++/Ascend C extensions"), ("chromium", "porter's HTML report browser test")):
        found = shutil.which(tool, path=path)
        checks.append(Check(tool, OK if found else WARN, found or f"not found (needed for {use})",
                            None if found else f"apt-get install {'g++' if tool == 'g++' else 'chromium'}"))
    return checks


def diagnose(machine: Machine, target: str) -> list[Check]:
    checks = [Check("python", OK, sys.version.split()[0] if machine.python == sys.executable else machine.python)]
    version_checks, has_npu = _versions(machine, target)
    checks += version_checks
    checks.append(_cann(machine))
    if has_npu:
        checks += _import_probe(machine)
    checks += _device_env(machine) + _tools(machine)
    return checks
