#!/usr/bin/env python3
"""How long a typed message waits for its model call against a server that never answers the
questions memscope asks at start (its window at /props and /api/show, its tokenizer at
/tokenize, /extras/tokenize): the worst case a slow or unusual server gives.

    benches/first_call_wait.py target/release/memscope [runs]

Prints the median and the worst time from starting `memscope run` (with one message on stdin)
to its `model_call` event, over `runs` runs. A network wait, not CPU: a script, not criterion.
"""

import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLY = {
    "id": "x",
    "object": "chat.completion",
    "model": "m",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "send_message", "arguments": json.dumps({"message": "hi"})},
                    }
                ],
            },
        }
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
}


class Slow(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def hang(self):
        time.sleep(30)

    def do_GET(self):
        if self.path.endswith("/v1/models"):
            return self.answer({"object": "list", "data": [{"id": "m"}]})
        self.hang()

    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        self.rfile.read(n)
        if self.path.endswith("/chat/completions"):
            return self.answer(REPLY)
        self.hang()


def main():
    exe = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    waits = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as d:
            start = time.monotonic()
            p = subprocess.Popen(
                [exe, "run", "--store", f"{d}/s.redb", "--base-url", url, "--model", "m",
                 "--stream", "false", "--token-counter", "auto"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env={"HOME": d, "XDG_STATE_HOME": d, "XDG_CONFIG_HOME": d, "PATH": "/usr/bin:/bin"},
                text=True,
            )
            p.stdin.write("hello\n")
            p.stdin.flush()
            for line in p.stdout:
                if '"type":"model_call"' in line.replace(" ", ""):
                    waits.append(time.monotonic() - start)
                    break
            p.kill()
            p.wait()
    print(f"first call after: median {statistics.median(waits):.2f} s, worst {max(waits):.2f} s "
          f"({len(waits)} runs)")


if __name__ == "__main__":
    main()
