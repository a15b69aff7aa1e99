"""Snapshot the ACL and HCCL error codes of a torch_npu wheel (name, value, header comment) as JSON for
`porter explain`. The wheel is read as a zip, never installed or imported.

    python scripts/extract_error_codes.py torch_npu-2.13.0-...whl rules/targets/errors-torch_npu-2.13.0.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zipfile
from pathlib import Path

ACL_HEADERS = re.compile(r"^torch_npu/include/acl/(acl_base_rt\.h|error_codes/[^/]+\.h)$")
HCCL_TYPES = "torch_npu/include/third_party/hccl/inc/hccl/hccl_types.h"
# `static const int ACL_X = 1;`, `static const uint32_t ACL_X = 1U;` or `#define ACL_X 1 // comment`
ACL_CONSTANT = re.compile(
    r"^\s*(?:static\s+const\s+\w+\s+(?P<n1>ACL_\w+)\s*=\s*(?P<v1>\d+)U?\s*;|#define\s+(?P<n2>ACL_\w+)\s+(?P<v2>\d+)U?)"
    r"\s*(?://\s*(?P<comment>.*))?$")
HCCL_ENUM = re.compile(r"^\s*(?P<name>HCCL_\w+)\s*=\s*(?P<value>\d+)\s*,?\s*(?:/\*\*<\s*(?P<comment>.*?)\s*\*/)?")


def acl_codes(header: str, text: str) -> list[dict]:
    codes = []
    for line in text.splitlines():
        match = ACL_CONSTANT.match(line)
        if match:
            codes.append({"family": "acl", "name": match["n1"] or match["n2"], "value": int(match["v1"] or match["v2"]),
                          "comment": (match["comment"] or "").strip(), "header": header})
    return codes


def hccl_codes(header: str, text: str) -> list[dict]:
    body = re.search(r"typedef\s+enum\s*\{(?P<body>[^}]*)\}\s*HcclResult\s*;", text, re.S)
    if body is None:
        return []
    return [{"family": "hccl", "name": m["name"], "value": int(m["value"]), "comment": (m["comment"] or "").strip(),
             "header": header}
            for m in map(HCCL_ENUM.match, body["body"].splitlines()) if m]


def extract(wheel: Path) -> dict:
    codes = []
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            if ACL_HEADERS.match(name):
                codes += acl_codes(name.removeprefix("torch_npu/include/"), archive.read(name).decode("utf-8", "replace"))
            elif name == HCCL_TYPES:
                codes += hccl_codes(name.removeprefix("torch_npu/include/"), archive.read(name).decode("utf-8", "replace"))
    version = re.search(r"torch_npu-([^-]+)-", wheel.name)
    return {"source": f"torch-npu {version[1] if version else '?'} wheel headers", "codes": codes}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    data = extract(args.wheel)
    args.output.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(data['codes'])} codes -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
