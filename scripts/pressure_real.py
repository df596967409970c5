#!/usr/bin/env python3
"""Memory pressure against a real model server, by hand (never in CI).

Runs `memscope run` on a fresh store with six ordinary messages and counts, from its JSON-lines
events, the model calls (steps and summary calls), memory-pressure warnings, flushes, chain caps
and other errors, per input and in all, with the wall time. Against the llama.cpp server from
../shared/real-llm/ (Gemma 3 270M, a 4,096-token window) it measures what issue #24 names.

  ../shared/real-llm/serve.sh 8090 gemma
  scripts/pressure_real.py http://127.0.0.1:8090/v1 [--memscope target/release/memscope] [-- EXTRA FLAGS]
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

MESSAGES = [
    "Hi! I'm Sam and I keep bees in Devon.",
    "My sister Ada is visiting next week; she hates honey.",
    "What should I cook for her?",
    "Remind me what my sister dislikes.",
    "I also have a dog called Biscuit.",
    "Summarise what you know about me.",
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("base_url")
    ap.add_argument("--memscope", default="target/release/memscope")
    ap.add_argument("--messages", type=int, default=len(MESSAGES))
    ap.add_argument("extra", nargs="*")
    a = ap.parse_args()
    home = tempfile.mkdtemp(prefix="memscope-pressure-")
    store = os.path.join(home, "s.redb")
    cmd = [a.memscope, "run", "--store", store, "--provider", "llamacpp",
           "--base-url", a.base_url, "--no-tool-reply", "message", *a.extra]
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, XDG_DATA_HOME=home)
    started = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    per_input = []
    total = collections.Counter()
    # One message at a time: the next is written once the chain of the last has ended.
    for text in MESSAGES[: a.messages]:
        p.stdin.write(text + "\n")
        p.stdin.flush()
        c = collections.Counter()
        t0 = time.monotonic()
        for line in p.stdout:
            ev = json.loads(line)
            kind = ev.get("type")
            if kind == "model_call":
                c["steps"] += 1
            elif kind == "summary":
                c["flushes"] += 1
            elif kind == "memory_warning":
                c["warnings"] += 1
            elif kind == "error" and ev.get("kind") == "chain_cap":
                c["chain_caps"] += 1
            elif kind == "error":
                c["errors"] += 1
            elif kind == "chain_ended":
                break
        c["seconds"] = round(time.monotonic() - t0, 1)
        per_input.append((text, dict(c)))
        total.update(c)
    p.stdin.close()
    p.wait(timeout=120)
    total["calls"] = total["steps"] + total["flushes"]
    for text, c in per_input:
        print(f"{text[:40]:40}  {c}")
    print(json.dumps({"inputs": len(per_input), "calls": total["calls"], "steps": total["steps"],
                      "flushes": total["flushes"], "warnings": total["warnings"],
                      "chain_caps": total["chain_caps"], "errors": total["errors"],
                      "seconds": round(time.monotonic() - started, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
