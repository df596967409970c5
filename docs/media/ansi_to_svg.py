#!/usr/bin/env python3
"""Draws a terminal screen captured with its colours (`tmux capture-pane -e -p`) as an SVG.

    ansi_to_svg.py CAPTURE.txt OUT.svg [--png OUT.png] [--cols 120] [--rows 35]

Each cell keeps its character, colours, bold and reverse video, so the picture is the screen
the running TUI drew, not a mock-up. `--png` also draws it as a PNG (with Pillow and the DejaVu
Sans Mono font: `pip install pillow`).
"""

import argparse
import html
import re
import unicodedata

# xterm's 16 colours, then the 6x6x6 cube and the grey ramp of the 256-colour palette.
BASE16 = [
    "#000000", "#cd0000", "#00cd00", "#cdcd00", "#0000ee", "#cd00cd", "#00cdcd", "#e5e5e5",
    "#7f7f7f", "#ff0000", "#00ff00", "#ffff00", "#5c5cff", "#ff00ff", "#00ffff", "#ffffff",
]
DEFAULT_FG = "#d0d0d0"
DEFAULT_BG = "#1c1c1c"


def palette(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + 10 * (n - 232)
    return "#%02x%02x%02x" % (v, v, v)


def width(ch):
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


class Pen:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = False
        self.reverse = False

    def sgr(self, params):
        ps = [int(p) if p else 0 for p in params.split(";")] if params else [0]
        i = 0
        while i < len(ps):
            p = ps[i]
            if p == 0:
                self.reset()
            elif p == 1:
                self.bold = True
            elif p == 22:
                self.bold = False
            elif p == 7:
                self.reverse = True
            elif p == 27:
                self.reverse = False
            elif 30 <= p <= 37:
                self.fg = BASE16[p - 30]
            elif 90 <= p <= 97:
                self.fg = BASE16[p - 90 + 8]
            elif p == 39:
                self.fg = None
            elif 40 <= p <= 47:
                self.bg = BASE16[p - 40]
            elif 100 <= p <= 107:
                self.bg = BASE16[p - 100 + 8]
            elif p == 49:
                self.bg = None
            elif p in (38, 48) and i + 1 < len(ps):
                if ps[i + 1] == 5 and i + 2 < len(ps):
                    colour = palette(ps[i + 2])
                    i += 2
                elif ps[i + 1] == 2 and i + 4 < len(ps):
                    colour = "#%02x%02x%02x" % tuple(ps[i + 2 : i + 5])
                    i += 4
                else:
                    colour = None
                if p == 38:
                    self.fg = colour
                else:
                    self.bg = colour
            i += 1

    def cell(self):
        fg, bg = self.fg or DEFAULT_FG, self.bg or DEFAULT_BG
        if self.reverse:
            fg, bg = bg, fg
        return fg, bg, self.bold


def parse(text, cols, rows):
    grid = [[(" ", DEFAULT_FG, DEFAULT_BG, False) for _ in range(cols)] for _ in range(rows)]
    pen = Pen()
    for y, line in enumerate(text.split("\n")[:rows]):
        x = 0
        for tok in re.split(r"(\x1b\[[0-9;]*[A-Za-z])", line):
            if tok.startswith("\x1b["):
                if tok.endswith("m"):
                    pen.sgr(tok[2:-1])
                continue
            for ch in tok:
                if x >= cols:
                    break
                fg, bg, bold = pen.cell()
                grid[y][x] = (ch, fg, bg, bold)
                w = width(ch)
                if w == 2 and x + 1 < cols:
                    grid[y][x + 1] = ("", fg, bg, bold)
                x += w
        # The rest of the row keeps the last background (tmux trims trailing blanks).
        fg, bg, bold = pen.cell()
        for rest in range(x, cols):
            grid[y][rest] = (" ", fg, bg, False)
    return grid


def svg(grid, cols, rows, cw=8.4, ch=17.0, size=14):
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{cols * cw:.0f}" height="{rows * ch:.0f}" '
        f'viewBox="0 0 {cols * cw:.1f} {rows * ch:.1f}">',
        f'<rect width="100%" height="100%" fill="{DEFAULT_BG}"/>',
        f'<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="{size}">',
    ]
    for y, row in enumerate(grid):
        # Backgrounds, merged into runs.
        x = 0
        while x < cols:
            bg = row[x][2]
            end = x
            while end < cols and row[end][2] == bg:
                end += 1
            if bg != DEFAULT_BG:
                out.append(
                    f'<rect x="{x * cw:.1f}" y="{y * ch:.1f}" width="{(end - x) * cw:.1f}" '
                    f'height="{ch:.1f}" fill="{bg}"/>'
                )
            x = end
        # Text, one element per cell run of the same style, placed cell by cell.
        x = 0
        while x < cols:
            _, fg, _, bold = row[x]
            end = x
            chars = []
            while end < cols and row[end][1] == fg and row[end][3] == bold:
                chars.append(row[end][0])
                end += 1
            text = "".join(chars)
            if text.strip():
                xs = []
                col = x
                for c in chars:
                    if c:
                        xs.append(f"{col * cw:.1f}")
                    col += 1
                visible = "".join(c for c in chars if c)
                weight = ' font-weight="bold"' if bold else ""
                out.append(
                    f'<text x="{" ".join(xs)}" y="{y * ch + ch * 0.78:.1f}" fill="{fg}"{weight} '
                    f'xml:space="preserve">{html.escape(visible)}</text>'
                )
            x = end
    out.append("</g></svg>")
    return "\n".join(out)


def png(grid, cols, rows, out, cw=10, ch=20):
    from PIL import Image, ImageDraw, ImageFont

    fonts = "/usr/share/fonts/truetype/dejavu/"
    regular = ImageFont.truetype(fonts + "DejaVuSansMono.ttf", 16)
    bold = ImageFont.truetype(fonts + "DejaVuSansMono-Bold.ttf", 16)
    img = Image.new("RGB", (cols * cw, rows * ch), DEFAULT_BG)
    d = ImageDraw.Draw(img)
    for y, row in enumerate(grid):
        for x, (c, fg, bg, b) in enumerate(row):
            if bg != DEFAULT_BG:
                d.rectangle([x * cw, y * ch, (x + 1) * cw - 1, (y + 1) * ch - 1], fill=bg)
        for x, (c, fg, bg, b) in enumerate(row):
            if not c or c == " ":
                continue
            # Box drawing fills its cell: stretch it over the whole cell height.
            if "\u2500" <= c <= "\u259f":
                box(d, c, x * cw, y * ch, cw, ch, fg)
                continue
            if c in SHAPES:
                SHAPES[c](d, x * cw, y * ch, cw, ch, fg)
                continue
            d.text((x * cw, y * ch + 2), c, font=bold if b else regular, fill=fg)
    img.save(out, optimize=True)


# Symbols the DejaVu fonts lack, drawn as the terminal's font would show them.
SHAPES = {
    "⏸": lambda d, x, y, w, h, fg: (
        d.rectangle([x + 2, y + 5, x + 3, y + h - 5], fill=fg),
        d.rectangle([x + 6, y + 5, x + 7, y + h - 5], fill=fg),
    ),
    "⏳": lambda d, x, y, w, h, fg: d.polygon(
        [(x + 1, y + 4), (x + w - 2, y + 4), (x + 1, y + h - 4), (x + w - 2, y + h - 4)], outline=fg
    ),
    "✉": lambda d, x, y, w, h, fg: (
        d.rectangle([x, y + 6, x + w - 1, y + h - 5], outline=fg),
        d.line([(x, y + 6), (x + w // 2, y + h // 2 + 1), (x + w - 1, y + 6)], fill=fg),
    ),
}


def box(d, c, x, y, w, h, fg):
    """Lines and blocks drawn to the cell's edges, so borders join as in a terminal."""
    mx, my = x + w // 2, y + h // 2
    heavy = c in "━┃┏┓┗┛"
    double = c in "═║╔╗╚╝"
    t = 3 if heavy else 2
    left = c in "─━═┐┓╗┘┛╝┤┬┴┼"
    right = c in "─━═┌┏╔└┗╚├┬┴┼"
    up = c in "│┃║└┗╚┘┛╝├┤┴┼"
    down = c in "│┃║┌┏╔┐┓╗├┤┬┼"
    if c in "█▓▒░▚":
        shade = {"█": 1.0, "▓": 0.75, "▒": 0.5, "░": 0.25, "▚": 0.6}[c]
        r, g, b = (int(fg[i : i + 2], 16) for i in (1, 3, 5))
        bg = (28, 28, 28)
        col = tuple(int(bg[i] + (v - bg[i]) * shade) for i, v in enumerate((r, g, b)))
        d.rectangle([x, y, x + w - 1, y + h - 1], fill=col)
        return
    offs = [-2, 1] if double else [0]
    for o in offs:
        if left:
            d.rectangle([x, my + o, mx, my + o + t - 1], fill=fg)
        if right:
            d.rectangle([mx, my + o, x + w - 1, my + o + t - 1], fill=fg)
        if up:
            d.rectangle([mx + o, y, mx + o + t - 1, my], fill=fg)
        if down:
            d.rectangle([mx + o, my, mx + o + t - 1, y + h - 1], fill=fg)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("capture")
    a.add_argument("out")
    a.add_argument("--cols", type=int, default=120)
    a.add_argument("--rows", type=int, default=35)
    a.add_argument("--png")
    args = a.parse_args()
    text = open(args.capture, encoding="utf-8").read()
    grid = parse(text, args.cols, args.rows)
    open(args.out, "w", encoding="utf-8").write(svg(grid, args.cols, args.rows))
    if args.png:
        png(grid, args.cols, args.rows, args.png)


if __name__ == "__main__":
    main()
