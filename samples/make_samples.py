"""Re-create the cut-down sample files from the real published versions shipped in tests/data.

Run from the repository root: ``python samples/make_samples.py [DATA_DIR]`` (default: the
tests/data archive, unpacked by tests/datafiles.py; or an unpacked collection such as
../shared/data).
Each sample keeps the top-level keys, the order of tags and the pretty-printing of the original,
including its CRLF line endings; only the list of tags is cut down.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

KEEP = (
    "AzureAdvancedThreatProtection",
    "AzureActiveDirectory",
    "AzureCloud.westeurope",
    "AzureCloud.northeurope",
    "AzureMonitor.WestEurope",
    "Storage.WestEurope",
)
SOURCES = {
    "ServiceTags_Public_20250728.sample.json": "public/ServiceTags_Public_20250728.json",
    "ServiceTags_Public_20250804.sample.json": "public/ServiceTags_Public_20250804.json",
}


def main() -> None:
    here = Path(__file__).resolve().parent
    if len(sys.argv) > 1:
        shared = Path(sys.argv[1])
    else:
        sys.path.insert(0, str(here.parent / "tests"))
        from datafiles import ensure

        shared = ensure()
    for sample_name, relative in SOURCES.items():
        raw = (shared / "servicetags" / relative).read_bytes()
        document = json.loads(raw)
        newline = "\r\n" if b"\r\n" in raw else "\n"
        document["values"] = [v for v in document["values"] if v["name"] in KEEP]
        text = json.dumps(document, indent=2).replace("\n", newline)
        (here / sample_name).write_bytes(text.encode())
        print(sample_name, "from", relative, "sha256", hashlib.sha256(raw).hexdigest())


if __name__ == "__main__":
    main()
