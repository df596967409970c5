#!/usr/bin/env python3
"""Compatibility run against real models (by hand, never in CI).

Starts the real llama.cpp server from ../shared/real-llm/ with each of its two models, runs a
10-turn conversation through `memscope run` in each tool-calling mode, and prints per turn:
function calls valid / repaired / failed, replies delivered, and what changed in memory.
Ends with a Markdown table for the README.

    python3 scripts/compat.py            # both models, both modes
    python3 scripts/compat.py gemma json # one model, one mode
    MEMSCOPE_BIN=/path/to/memscope python3 scripts/compat.py   # without building first
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REAL = os.path.join(os.path.dirname(ROOT), "shared", "real-llm")
MODELS = {"smollm2": 8089, "gemma": 8090}
MODES = ["native", "json"]
TURNS = [
    "Hi! I'm Priya. I work as a marine biologist in Lisbon.",
    "Please remember that my sister Meera is visiting next Friday.",
    "What's my name?",
    "I prefer green tea over coffee, write that down.",
    "Where do I work?",
    "My favourite book is 'The Sea Around Us' by Rachel Carson.",
    "Who is visiting me, and when?",
    "Save a note: buy a gift for Meera before Friday.",
    "What do I like to drink?",
    "Thanks! What do you remember about me?",
]


def sh(*args, **kw):
    return subprocess.run(args, check=True, text=True, capture_output=True, **kw)


def serve(model):
    port = MODELS[model]
    out = sh(os.path.join(REAL, "serve.sh"), str(port), model)
    return out.stdout.strip().splitlines()[-1]


def run(binary, url, mode, store):
    env = dict(os.environ)
    for k in ["OPENAI_API_KEY", "OPENAI_BASE_URL", "MEMSCOPE_MODEL"]:
        env.pop(k, None)
    cmd = [binary, "run", "--store", store, "--provider", "llamacpp", "--base-url", url,
           "--tool-mode", mode, "--no-tool-reply", "message", "--context-window", "4096",
           "--max-tokens", "160", "--chain-cap", "4", "--timeout", "240"]
    p = subprocess.run(cmd, input="\n".join(TURNS) + "\n", text=True, capture_output=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"memscope run failed ({p.returncode}): {p.stderr}")
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def per_turn(events):
    turns, cur = [], None
    for e in events:
        t = e["type"]
        if t == "user_message":
            cur = {"valid": 0, "repaired": 0, "failed": 0, "replies": 0, "text_replies": 0,
                   "memory": [], "calls": [], "errors": [], "_repairs": False}
            turns.append(cur)
        if cur is None:
            continue
        if t == "function_call":
            # "read from the JSON-mode reply" says how the call travelled, not that it was mended.
            cur["_repairs"] = any(r != "read from the JSON-mode reply" for r in e.get("repairs") or [])
            cur["calls"].append(e["name"])
        elif t == "function_return":
            if e["status"] == "Failed":
                cur["failed"] += 1
            elif cur["_repairs"]:
                cur["repaired"] += 1
            else:
                cur["valid"] += 1
            if e["status"] == "OK" and e["name"] == "archival_memory_insert":
                cur["memory"].append("archival +1")
        elif t == "assistant_message":
            cur["replies"] += 1
            if not cur["calls"] or cur["calls"][-1] != "send_message":
                cur["text_replies"] += 1
        elif t == "core_memory_updated":
            cur["memory"].append(f"core {e['label']} {e['chars']}/{e['limit']}")
        elif t == "summary":
            cur["memory"].append(f"summary (evicted {e['evicted']})")
        elif t == "error":
            cur["errors"].append(e["kind"])
    return turns


def main():
    want_models = [a for a in sys.argv[1:] if a in MODELS] or list(MODELS)
    want_modes = [a for a in sys.argv[1:] if a in MODES] or MODES
    sh(os.path.join(REAL, "setup.sh"))
    # MEMSCOPE_BIN runs a binary built earlier (so that work on the tree can go on meanwhile).
    binary = os.environ.get("MEMSCOPE_BIN")
    if not binary:
        sh("cargo", "build", "--release", cwd=ROOT)
        binary = os.path.join(ROOT, "target", "release", "memscope")
    rows = []
    for model in want_models:
        url = serve(model)
        for mode in want_modes:
            with tempfile.TemporaryDirectory() as d:
                events = run(binary, url, mode, os.path.join(d, "compat.redb"))
            turns = per_turn(events)
            print(f"\n## {model} · {mode} mode ({url})")
            print("turn  valid repaired failed  replies (as text)  memory changes; calls; errors")
            for i, t in enumerate(turns, 1):
                errs = f"; errors: {', '.join(t['errors'])}" if t["errors"] else ""
                calls = f"; calls: {', '.join(t['calls'])}" if t["calls"] else ""
                print(f"{i:>4}  {t['valid']:>5} {t['repaired']:>8} {t['failed']:>6}  {t['replies']:>7} ({t['text_replies']})      {', '.join(t['memory']) or '-'}{calls}{errs}")
            tot = {k: sum(t[k] for t in turns) for k in ["valid", "repaired", "failed", "replies", "text_replies"]}
            print(f"total {tot['valid']:>5} {tot['repaired']:>8} {tot['failed']:>6}  {tot['replies']:>7} ({tot['text_replies']})")
            rows.append((model, mode, tot, len(turns)))
    print("\n| model | server | mode | calls valid / repaired / failed | replies delivered (of which plain text) | turns |")
    print("| --- | --- | --- | --- | --- | --- |")
    names = {"smollm2": "SmolLM2-135M-Instruct", "gemma": "Gemma 3 270M (base)"}
    for model, mode, tot, n in rows:
        print(f"| {names[model]} | llama-cpp-python 0.3.36 | {mode} | {tot['valid']} / {tot['repaired']} / {tot['failed']} | {tot['replies']} ({tot['text_replies']}) | {n} |")


if __name__ == "__main__":
    main()
