"""Summarise a CORE_FUZZ_COLLECT file: each distinct failure once, with its shortest input.

CORE_FUZZ_COLLECT=/tmp/fuzz.jsonl CORE_FUZZ_EXAMPLES=2000 CORE_FUZZ_RANDOM=1 pytest tests/fuzz
python -m tests.fuzz.report /tmp/fuzz.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import Counter


def main(path: str) -> None:
    shortest: dict[tuple[str, str], str] = {}
    seen: Counter[tuple[str, str]] = Counter()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            key = (item["check"], item["signature"])
            seen[key] += 1
            if key not in shortest or len(item["context"]) < len(shortest[key]):
                shortest[key] = item["context"]
    for (check, signature), count in sorted(seen.items()):
        print(f"=== {check} [{signature}] x{count}\n{shortest[(check, signature)][:3000]}\n")


if __name__ == "__main__":
    main(sys.argv[1])
