#!/usr/bin/env python3
"""A scripted OpenAI-compatible server that plays a capable model's part, so the README's tour
(its screenshot and its recording) shows memscope doing what it is for, the same every time.

    demo_server.py 8091        # then: memscope --base-url http://127.0.0.1:8091/v1

It answers `/v1/models` (one model, `demo-model`, with an 8,192-token window) and
`/v1/chat/completions` with MemGPT-style tool calls, chosen from the newest user message and
how many function results followed it: saving a fact to core memory and archival memory with
heartbeats, searching archival memory, and replying with `send_message`. A summary request
(no tools) gets a one-line summary. Nothing here is memscope's; it only stands in for a model.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# For a user message containing the key: the steps of the chain, each (thought, function, args).
CHAINS = [
    (
        "sister",
        [
            (
                "A fact about Priya's family: it belongs in core memory.",
                "core_memory_append",
                {"name": "human", "content": "Sister: Meera, lives in Lisbon.", "request_heartbeat": True},
            ),
            (
                "Keep the detail in archival memory too, for later searches.",
                "archival_memory_insert",
                {"content": "Priya's sister Meera lives in Lisbon and visits in spring.", "request_heartbeat": True},
            ),
            (
                "Saved in both places; now answer.",
                "send_message",
                {"message": "Got it, Priya: Meera lives in Lisbon. I'll remember that."},
            ),
        ],
    ),
    (
        "Meera",
        [
            (
                "I should look this up rather than guess.",
                "archival_memory_search",
                {"query": "Meera Lisbon", "request_heartbeat": True},
            ),
            (
                "Found it in archival memory.",
                "send_message",
                {"message": "Meera lives in Lisbon and visits in spring. Shall I plan something for her visit?"},
            ),
        ],
    ),
]
DEFAULT = [("A greeting; reply briefly.", "send_message", {"message": "Hello! I'm listening."})]


def latest_user(messages):
    """The newest user message's text and how many function results came after it."""
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if m.get("role") != "user":
            continue
        text = m.get("content") or ""
        if isinstance(text, list):
            text = " ".join(p.get("text", "") for p in text if isinstance(p, dict))
        try:
            event = json.loads(text)
            if event.get("type") != "user_message":
                continue
            text = event.get("message", "")
        except (ValueError, AttributeError):
            pass
        done = sum(1 for m in messages[i + 1 :] if m.get("role") == "tool")
        return text, done
    return "", 0


def reply(body):
    if not body.get("tools"):
        return {"role": "assistant", "content": "Priya introduced herself; her sister Meera lives in Lisbon."}, "stop"
    text, done = latest_user(body.get("messages", []))
    steps = next((s for key, s in CHAINS if key in text), DEFAULT)
    thought, name, args = steps[min(done, len(steps) - 1)]
    call = {"id": f"call_{done}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
    return {"role": "assistant", "content": thought, "tool_calls": [call]}, "tool_calls"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, body, status=200):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.endswith("/models"):
            return self.send({"object": "list", "data": [{"id": "demo-model", "max_model_len": 8192}]})
        self.send({"error": "not found"}, 404)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        if not self.path.endswith("/chat/completions"):
            return self.send({"error": "not found"}, 404)
        message, finish = reply(body)
        prompt = sum(len(json.dumps(m)) for m in body.get("messages", [])) // 4
        self.send(
            {
                "id": "demo",
                "object": "chat.completion",
                "model": "demo-model",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": 30, "total_tokens": prompt + 30},
            }
        )


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8091
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
