#!/usr/bin/env python3
"""Size limits of the code base (issue 12): every non-test Rust file under 600 lines,
every function outside tests under 120 lines. Prints offenders and exits 1 if any.

Test code is a file under a `tests/` folder, or a `#[cfg(test)]` module. Functions are
found on the source with comments and string/char literals blanked, braces matched.
"""

import re
import sys
from pathlib import Path

MAX_FILE = 600
MAX_FN = 120
ROOT = Path(__file__).resolve().parent.parent


def blank(src: str) -> str:
    """Comments and string/char literals replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', src[i:i + 10]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            m = re.match(r'r(#*)"', src[i:])
            end = '"' + m.group(1)
            j = src.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == "'":
            if i + 1 < n and src[i + 1] == "\\":
                j = src.find("'", i + 2) + 1
                out.append(" " * (j - i))
                i = j
            elif i + 2 < n and src[i + 2] == "'":
                out.append("   ")
                i += 3
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def match_brace(text: str, open_at: int) -> int:
    depth = 0
    for j in range(open_at, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(text) - 1


def test_ranges(text: str):
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{", text):
        yield m.start(), match_brace(text, m.end() - 1)


def check(path: Path, problems: list):
    src = path.read_text()
    lines = src.count("\n") + 1
    rel = path.relative_to(ROOT)
    if lines > MAX_FILE:
        problems.append(f"{rel}: {lines} lines (limit {MAX_FILE})")
    text = blank(src)
    tests = list(test_ranges(text))
    for m in re.finditer(r"\bfn\s+(\w+)", text):
        if any(a <= m.start() <= b for a, b in tests):
            continue
        brace, semi = text.find("{", m.end()), text.find(";", m.end())
        if brace < 0 or (0 <= semi < brace):
            continue  # a declaration without a body
        end = match_brace(text, brace)
        first = text.count("\n", 0, m.start()) + 1
        last = text.count("\n", 0, end) + 1
        if last - first + 1 > MAX_FN:
            problems.append(
                f"{rel}:{first}: fn {m.group(1)} is {last - first + 1} lines (limit {MAX_FN})"
            )


def main():
    problems = []
    for path in sorted(ROOT.rglob("*.rs")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in ("target", "shared") or "tests" in parts or parts[0].startswith("."):
            continue
        check(path, problems)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} size limit(s) exceeded", file=sys.stderr)
        return 1
    print("size limits hold: files <= %d lines, functions <= %d lines" % (MAX_FILE, MAX_FN))
    return 0


if __name__ == "__main__":
    sys.exit(main())
