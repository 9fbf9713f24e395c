#!/usr/bin/env python3
"""Checks the relative links of README.md and docs/*.md.

Every relative Markdown link or image must name an existing path. A link
into a Markdown page with an anchor must name one of its headings (as
GitHub writes their anchors); a link with a GitHub line anchor,
[`name`](../dir/file.cpp#L42), must point into
the file, and when its text is an identifier (backticks and a trailing "()"
stripped; "a::b" counts) that line must contain it, so that anchors which
drift away from their function fail. Prints one line per broken link and
exits 1 if there is any. Usage: check_doc_links.py [repository root]
"""

import re
import sys
from pathlib import Path
from urllib.parse import unquote

INLINE_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^\s{0,3}\[([^\]]+)\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
LINE_ANCHOR = re.compile(r"^L(\d+)(?:-L\d+)?$")
IDENTIFIER = re.compile(r"^[A-Za-z_~][A-Za-z0-9_]*(?:::~?[A-Za-z_][A-Za-z0-9_]*)*$")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def code_spans(line):
    """The [start, end) ranges of the inline code spans of one line."""
    spans, i = [], 0
    while True:
        start = line.find("`", i)
        if start < 0:
            return spans
        ticks = len(line[start:]) - len(line[start:].lstrip("`"))
        end = line.find("`" * ticks, start + ticks)
        if end < 0:
            return spans
        spans.append((start, end + ticks))
        i = end + ticks


def prose_lines(text):
    """(line number, line) for the lines outside fenced and indented code blocks."""
    fence, previous_blank_or_code = None, True
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if fence:
            if stripped.startswith(fence):
                fence = None
            continue
        if stripped.startswith("```") or stripped.startswith("~~~"):
            fence = stripped[:3]
            continue
        indented = line.startswith("    ") or line.startswith("\t")
        if indented and previous_blank_or_code:
            continue  # an indented code block
        previous_blank_or_code = not stripped
        yield number, line


def links(text):
    """(line number, link text, target) for every link of a Markdown file."""
    for number, line in prose_lines(text):
        definition = REFERENCE_DEF.match(line)
        if definition:
            yield number, definition.group(1), definition.group(2)
            continue
        spans = code_spans(line)
        for match in INLINE_LINK.finditer(line):
            if any(a <= match.start() < b for a, b in spans):
                continue  # brackets inside inline code
            yield number, match.group(1), match.group(2)


def identifier(link_text):
    """The identifier a link's text names, or None when it names none."""
    name = link_text.strip().strip("`").strip()
    if name.endswith("()"):
        name = name[:-2]
    if LINE_ANCHOR.match(name):
        return None  # the text is the line number itself, [L42](file#L42)
    return name if IDENTIFIER.match(name) else None


def contains_word(line, name):
    return re.search(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_])", line) is not None


def heading_anchors(path):
    """The anchors GitHub gives the headings of a Markdown file: lower case,
    punctuation dropped, spaces as hyphens, repeats numbered -1, -2, ..."""
    anchors, seen = set(), {}
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else "%s-%d" % (slug, count))
    return anchors


def check_link(doc, text, target, root):
    """The reason a link is broken, or None."""
    if SCHEME.match(target) or target.startswith("#") or target.startswith("//"):
        return None  # a web address or an anchor within the page
    path_part, _, anchor = target.partition("#")
    path = (doc.parent / unquote(path_part)).resolve()
    if not path.exists():
        return "no such file " + path_part
    if root not in path.parents and path != root:
        return "outside the repository: " + path_part
    if anchor and path.suffix == ".md":
        return None if anchor in heading_anchors(path) else "no heading #" + anchor + " in " + path_part
    line_anchor = LINE_ANCHOR.match(anchor)
    if not line_anchor:
        return None
    if not path.is_file():
        return "#" + anchor + " on a directory"
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    n = int(line_anchor.group(1))
    if not 1 <= n <= len(lines):
        return "#L%d beyond the %d lines of %s" % (n, len(lines), path_part)
    name = identifier(text)
    if name and not contains_word(lines[n - 1], name):
        return "line %d of %s does not contain '%s'" % (n, path_part, name)
    return None


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    root = root.resolve()
    docs = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    broken = 0
    for doc in docs:
        if not doc.is_file():
            continue
        for number, text, target in links(doc.read_text(encoding="utf-8")):
            reason = check_link(doc, text, target, root)
            if reason:
                broken += 1
                print("%s:%d: [%s](%s): %s" % (doc.relative_to(root), number, text, target, reason))
    if broken:
        print("%d broken link(s)" % broken)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
