#!/usr/bin/env python3
"""Records memscope as it runs in a real pseudo-terminal, as an asciicast v2 file.

    record_demo.py OUT.cast -- memscope --store /tmp/demo.redb --base-url http://127.0.0.1:8091/v1

(with `docs/media/demo_server.py 8091` running, or any real server).

The keys it types are the tour in the README: a message, the budget, step mode, the steps view,
the agents view. Every byte memscope writes is kept with its time, so `asciinema play OUT.cast`
(or any cast player) shows exactly what the terminal showed.
"""

import json
import os
import pty
import select
import struct
import sys
import termios
import fcntl
import time

COLS, ROWS = 120, 35

# (text to wait for, or None; keys to type; pause after, in seconds). Only the first frame is
# waited for by its text: later frames redraw only the cells that changed, so a word already on
# the screen never comes again; the pauses are long enough for a quick server.
TOUR = [
    ("Context budget", "", 1.5),
    (None, "Hi! I'm Priya. Please remember that my sister Meera lives in Lisbon.", 0.8),
    (None, "\r", 0.5),
    (None, "", 3.0),
    (None, "\x1b", 0.6),  # Esc: to the panes
    (None, "2", 1.5),  # the budget pane
    (None, "s", 1.0),  # step mode
    (None, "i", 0.5),
    (None, "Where does Meera live?\r", 0.5),
    (None, "", 2.0),
    (None, "\x1b", 0.5),
    (None, "n", 1.5),  # one step
    (None, "c", 3.0),  # the rest of the chain
    (None, "t", 2.5),  # the steps view
    (None, "\x1b", 0.8),
    (None, "A", 2.5),  # the agents view
    (None, "\x1b", 0.8),
    (None, "?", 2.5),  # help
    (None, "\x1b", 0.8),
    (None, "q", 1.0),
]


def main():
    out_path = sys.argv[1]
    cmd = sys.argv[sys.argv.index("--") + 1 :]
    pid, fd = pty.fork()
    if pid == 0:
        # The size is set before memscope starts, so its first frame is drawn at it.
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        os.environ["TERM"] = "xterm-256color"
        os.execvp(cmd[0], cmd)
    start = time.monotonic()
    events = []
    seen = ""

    def pump(timeout):
        nonlocal seen
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(fd, 65536)
        except OSError:
            return None
        if not data:
            return None
        text = data.decode("utf-8", "replace")
        events.append([round(time.monotonic() - start, 4), "o", text])
        seen += text
        return True

    def wait(until):
        deadline = time.monotonic() + until
        while time.monotonic() < deadline:
            if pump(deadline - time.monotonic()) is None:
                return False
        return True

    for want, keys, pause in TOUR:
        if want:
            seen = ""
            deadline = time.monotonic() + 120
            while want not in seen and time.monotonic() < deadline:
                if pump(0.5) is None:
                    break
        for ch in keys:
            os.write(fd, ch.encode())
            wait(0.04)
        if not wait(pause):
            break
    wait(1.0)
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        pass
    header = {
        "version": 2,
        "width": COLS,
        "height": ROWS,
        "timestamp": int(time.time()),
        "env": {"TERM": "xterm-256color", "SHELL": "/bin/sh"},
        "title": "memscope: a tour",
    }
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(json.dumps(header) + "\n")
        for e in events:
            f.write(json.dumps(e) + "\n")


if __name__ == "__main__":
    main()
