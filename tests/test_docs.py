"""Every relative link in the user-facing Markdown (README.md, CHANGELOG.md, docs/, data/) points at a file
that exists and, with a ``#fragment``, at a heading that file has (GitHub's anchor rules)."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def _pages() -> list[Path]:
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return pages + sorted(p for p in (ROOT / "data").rglob("*.md"))


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation but hyphens and underscores dropped, spaces to hyphens,
    repeats numbered."""
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", page.read_text()).splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    out = []
    text = FENCE.sub("", page.read_text())
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, frag = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            out.append(f"{page.relative_to(root)}: {target}: no such file")
        elif frag and dest.suffix == ".md" and frag not in anchors(dest):
            out.append(f"{page.relative_to(root)}: {target}: no such heading")
    return out


def test_broken_links_are_found(tmp_path):
    (tmp_path / "b.md").write_text("# A title, with (punctuation)\n")
    page = tmp_path / "a.md"
    page.write_text("[ok](b.md#a-title-with-punctuation) [gone](c.md) [bad](b.md#nope) [web](https://x.org/y)\n"
                    "```\n[in code](d.md)\n```\n")
    assert broken_links(page, tmp_path) == ["a.md: c.md: no such file", "a.md: b.md#nope: no such heading"]


def test_anchors_follow_github():
    page = ROOT / "docs" / "language.md"
    assert {"the-reader-trained", "figures", "variants-compared"} <= anchors(page)


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(page):
    assert broken_links(page) == []
