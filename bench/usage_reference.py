#!/usr/bin/env python3
"""The straightforward Python reference for the token-usage budget: one json.loads per transcript line.

Reads every *.jsonl under DIRECTORY the way a small script (or ccusage's loop) would: parse each line, take
message.usage, de-duplicate on message.id + requestId, sum per model. Prints one JSON line: bytes, seconds, MB/s and
the totals (so the bench can check that both agree).

    python3 bench/usage_reference.py DIRECTORY
"""
import json
import os
import sys
import time


def main():
    root = sys.argv[1]
    started = time.perf_counter()
    seen, totals, size = set(), {}, 0
    for folder, _, names in os.walk(root):
        for name in sorted(names):
            if not name.endswith(".jsonl"):
                continue
            with open(os.path.join(folder, name), "rb") as f:
                for line in f:
                    size += len(line)
                    try:
                        value = json.loads(line)
                    except ValueError:
                        continue
                    message = value.get("message") if isinstance(value, dict) else None
                    usage = message.get("usage") if isinstance(message, dict) else None
                    if not isinstance(usage, dict):
                        continue
                    key = (message.get("id"), value.get("requestId"))
                    if None not in key:
                        if key in seen:
                            continue
                        seen.add(key)
                    model = totals.setdefault(message.get("model") or "unknown", [0, 0, 0, 0, 0])
                    model[0] += usage.get("input_tokens", 0)
                    model[1] += usage.get("output_tokens", 0)
                    model[2] += usage.get("cache_creation_input_tokens", 0)
                    model[3] += usage.get("cache_read_input_tokens", 0)
                    model[4] += 1
    seconds = time.perf_counter() - started
    print(json.dumps({"bytes": size, "seconds": seconds, "mb_per_second": size / 1e6 / seconds, "models": totals}))


if __name__ == "__main__":
    main()
