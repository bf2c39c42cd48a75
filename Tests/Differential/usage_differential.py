#!/usr/bin/env python3
"""Differential test of the token-usage line reader against Python's json module.

Generates transcript-like lines (valid assistant lines, their mutations, invalid JSON, deep nesting, huge strings,
escapes, invalid UTF-8), feeds them to the `usage-lines` tool (one verdict per line) and compares each verdict with
the same rules written here over `json.loads` of the strictly decoded line. Exit status 1 on the first mismatch,
with the line saved for a unit test.

    python3 Tests/Differential/usage_differential.py BINARY [--lines N] [--seed S] [--seconds T]
"""
import argparse
import json
import os
import tempfile
import random
import re
import subprocess
import sys
import time

sys.set_int_max_str_digits(0)  # JSON has no digit limit; Python's default would call a long number invalid
MAXIMUM_DEPTH = 256
TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z")
VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")


def reject_constant(name):
    raise ValueError(f"not JSON: {name}")


def depth(value):
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def fnv_fmix(id_bytes, request_bytes):
    value = 0xCBF29CE484222325
    for byte in id_bytes + b"\xff" + request_bytes:
        value ^= byte
        value = (value * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    value ^= value >> 33
    value = (value * 0xFF51AFD7ED558CCD) & 0xFFFFFFFFFFFFFFFF
    value ^= value >> 33
    value = (value * 0xC4CEB9FE1A85EC53) & 0xFFFFFFFFFFFFFFFF
    value ^= value >> 33
    return value


def utf8(text):
    """The UTF-8 form of a decoded string, or None when it holds a lone surrogate."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def is_tokens(value):
    return type(value) is int and 0 <= value <= 2**32


def expected(line: bytes) -> str:
    """The reference verdict: the rules of Sources/TokenUsage/UsageLine.swift, over json.loads."""
    if b'"usage"' not in line:
        return "irrelevant"
    try:
        value = json.loads(line.decode("utf-8"), parse_constant=reject_constant)
    except (ValueError, RecursionError):
        return "skipped malformed"
    if depth(value) > MAXIMUM_DEPTH:
        return "skipped malformed"
    if not isinstance(value, dict) or not isinstance(value.get("message"), dict):
        return "irrelevant"
    message = value["message"]
    if "usage" not in message:
        return "irrelevant"
    usage = message["usage"]
    schema = "skipped schema"
    if not isinstance(usage, dict):
        return schema
    if not is_tokens(usage.get("input_tokens")) or not is_tokens(usage.get("output_tokens")):
        return schema
    for key in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        if key in usage and not is_tokens(usage[key]):
            return schema
    strings = {}
    for name, holder, key in (
        ("timestamp", value, "timestamp"), ("version", value, "version"), ("speed", usage, "speed"),
        ("id", message, "id"), ("requestId", value, "requestId"), ("model", message, "model"),
    ):
        if key in holder:
            if not isinstance(holder[key], str):
                return schema
            encoded = utf8(holder[key])
            if encoded is None:
                return schema
            strings[name] = holder[key]
    if "timestamp" not in strings or not TIMESTAMP.fullmatch(strings["timestamp"]):
        return schema
    if "version" in strings and not VERSION.match(strings["version"]):
        return schema
    if "speed" in strings and strings["speed"] not in ("standard", "fast"):
        return schema
    for key in ("id", "requestId", "model"):
        if key in strings and strings[key] == "":
            return schema
    if "costUSD" in value and (type(value["costUSD"]) not in (int, float)):
        return schema
    if "isApiErrorMessage" in value and type(value["isApiErrorMessage"]) is not bool:
        return schema
    model = strings.get("model")
    if model is not None and (len(model.encode("utf-8")) > 128 or any(not (0x20 <= ord(c) < 0x7F) for c in model)):
        model = "other"
    elif model is not None and strings.get("speed") == "fast":
        model += "-fast"
    model_hex = model.encode("utf-8").hex() if model is not None else "-"
    if "id" in strings and "requestId" in strings:
        response = format(fnv_fmix(strings["id"].encode(), strings["requestId"].encode()), "x")
    else:
        response = "-"
    counts = [usage["input_tokens"], usage["output_tokens"],
              usage.get("cache_creation_input_tokens", 0), usage.get("cache_read_input_tokens", 0)]
    return "usage " + model_hex + " " + " ".join(str(c) for c in counts) + " " + response


# ---- generation ----

TEXTS = ["hello", "", "a\nb\tc", 'quote " and \\ backslash', "é中😀", "\u001b[31mred\u001b[0m", "\ud800", "x" * 70,
         '"usage":{"input_tokens":9}', "\u2028", "/", "\x7f"]


def random_text(rng):
    choice = rng.random()
    if choice < 0.6:
        return rng.choice(TEXTS)
    if choice < 0.8:
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 0x110000)])) for _ in range(rng.randrange(0, 40)))
    return rng.choice(["abcdefgh", "a\"b", "\\n"]) * rng.randrange(1, 5000)


def assistant(rng):
    usage = {"input_tokens": rng.choice([0, 1, 5, 12345, 2**32, 2**32 + 1, 2**53, -1, 1.5, "7", None, True]),
             "output_tokens": rng.choice([1, 50, 999, 0, 10**20, 2.0, 1e3]),
             "cache_creation": {"ephemeral_5m_input_tokens": 0}, "service_tier": "standard"}
    for key in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        if rng.random() < 0.8:
            usage[key] = rng.choice([0, 100, 4096, None, "x", 3.5])
    if rng.random() < 0.3:
        usage["speed"] = rng.choice(["standard", "fast", "warp", 1])
    message = {"model": rng.choice(["claude-opus-4-5", "claude-sonnet-4-5", "<synthetic>", "", "mo\"del", "m\ud800", 7, None,
                                    "m" * 128, "m" * 129, "modèle", "tab\tmodel"]),
               "id": rng.choice(["msg_01", "msg_02", "", None, 3, "msg_é"]),
               "type": "message", "role": "assistant",
               "content": [{"type": "text", "text": random_text(rng)}], "stop_reason": None, "usage": usage}
    for key in ("model", "id"):
        if rng.random() < 0.15:
            del message[key]
    line = {"parentUuid": "p", "isSidechain": False, "sessionId": "s", "version": rng.choice(["2.1.3", "2.1.3-beta", "x", 2]),
            "message": message, "requestId": rng.choice(["req_01", "req_02", "", None]), "type": "assistant",
            "uuid": "u", "timestamp": rng.choice(["2026-08-01T04:50:42.628Z", "2026-08-01T04:50:42Z",
                                                   "2026-08-01T04:50:42.628+00:00", "2026-08-01", 5])}
    for key in ("version", "requestId", "timestamp"):
        if rng.random() < 0.1:
            del line[key]
    if rng.random() < 0.1:
        line["costUSD"] = rng.choice([0.25, 1, "free", None])
    if rng.random() < 0.1:
        line["isApiErrorMessage"] = rng.choice([True, False, 1])
    if rng.random() < 0.05:
        line["message"] = rng.choice(["text", None, [], {"role": "user"}])
    if rng.random() < 0.5:
        # Half the lines are what Claude Code writes: every field well-typed, only ids, counts and text varying.
        line.update(timestamp="2026-08-01T04:50:42.628Z", version="2.1.3", requestId=f"req_{rng.randrange(50)}")
        line.pop("costUSD", None)
        line.pop("isApiErrorMessage", None)
        line["message"] = message
        message.update(model=rng.choice(["claude-opus-4-5", "claude-sonnet-4-5", "<synthetic>"]), id=f"msg_{rng.randrange(50)}")
        usage.update(input_tokens=rng.randrange(10**6), output_tokens=rng.randrange(10**5))
        for key in ("cache_creation_input_tokens", "cache_read_input_tokens"):
            if key in usage:
                usage[key] = rng.randrange(10**6)
        if "speed" in usage:
            usage["speed"] = rng.choice(["standard", "fast"])
    return line


def serialise(value, rng):
    ensure_ascii = rng.random() < 0.3
    text = json.dumps(value, ensure_ascii=ensure_ascii, separators=rng.choice([(",", ":"), (", ", ": ")]))
    if rng.random() < 0.05:
        text = text.replace('"output_tokens"', '"output_\\u0074okens"')
    if rng.random() < 0.05:
        text = text.replace('"usage":', '"usage":1, "usage":', 1)
    return text.encode("utf-8", "surrogatepass")


def mutate(line: bytes, rng) -> bytes:
    data = bytearray(line)
    for _ in range(rng.randrange(1, 4)):
        kind = rng.random()
        if not data:
            break
        at = rng.randrange(len(data))
        if kind < 0.3:
            data[at] = rng.randrange(256)
        elif kind < 0.5:
            del data[at]
        elif kind < 0.7:
            data.insert(at, rng.choice(b'{}[]",:\\ \t\r0-.eE+tfnu\x00\x1f\x80\xc0\xed\xf4\xff'))
        else:
            del data[at:]
    return bytes(data).replace(b"\n", b" ")


def generate(rng):
    kind = rng.random()
    if kind < 0.45:
        return serialise(assistant(rng), rng)
    if kind < 0.8:
        return mutate(serialise(assistant(rng), rng), rng)
    if kind < 0.85:
        nest = rng.randrange(200, 320)
        return b'{"usage":' + b"[" * nest + b"]" * nest + b"}"
    if kind < 0.9:
        return b'{"message":{"usage":{"input_tokens":1,"output_tokens":2}},"timestamp":"2026-01-01T00:00:00Z","x":' + \
            rng.choice([b"NaN", b"Infinity", b"1" * 5000, b"-0", b"1e999", b"01", b"1.", b".5", b"\"\\ud83d\\ude00\"", b"\"\\uD800\""]) + b"}"
    if kind < 0.95:
        return json.dumps({"type": "user", "message": {"role": "user", "content": random_text(rng)}}).encode()
    return rng.choice([b"", b" ", b'"usage"', b'{"usage"}', b'\xef\xbb\xbf{"message":{"usage":{}}}', b'[{"usage":1}]'])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=0, help="keep going with new seeds for this long")
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds
    seed, total = args.seed, 0
    while True:
        rng = random.Random(seed)
        lines = [generate(rng) for _ in range(args.lines)]
        result = subprocess.run([args.binary], input=b"\n".join(lines) + b"\n", capture_output=True, check=True)
        verdicts = result.stdout.decode().splitlines()
        if len(verdicts) != len(lines):
            sys.exit(f"seed {seed}: {len(lines)} lines but {len(verdicts)} verdicts")
        for line, got in zip(lines, verdicts):
            want = expected(line)
            if got != want:
                saved = os.path.join(tempfile.gettempdir(), f"usage-differential-failure-{seed}.jsonl")
                with open(saved, "wb") as failure:
                    failure.write(line + b"\n")
                sys.exit(f"seed {seed}: mismatch (line saved to {saved})\n"
                         f"  line: {line[:300]!r}\n  Swift:  {got}\n  Python: {want}")
        total += len(lines)
        seed += 1
        if time.monotonic() >= deadline:
            break
    print(f"usage differential: {total} lines agree with Python's json ({seed - args.seed} seeds from {args.seed})")


if __name__ == "__main__":
    main()
