"""The documentation stays true: it builds without a warning, and every
relative link in README.md and docs/*.md points at a file (and heading) that
exists."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest
from markdown_it import MarkdownIt

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _pages() -> list[pathlib.Path]:
  return [ROOT / "README.md"] + sorted(DOCS.glob("*.md"))


def _parse(text: str):
  return MarkdownIt("commonmark").enable("table").parse(text)


def _inline_text(token) -> str:
  return "".join(c.content for c in token.children or ()
                 if c.type in ("text", "code_inline"))


def _slug(heading: str) -> str:
  """GitHub's (and MyST's) heading anchor: lower case, punctuation dropped,
  spaces to hyphens."""
  return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: pathlib.Path) -> set[str]:
  tokens = _parse(path.read_text(encoding="utf-8"))
  return {_slug(_inline_text(tokens[i + 1]))
          for i, t in enumerate(tokens) if t.type == "heading_open"}


def _targets(path: pathlib.Path) -> list[str]:
  """Every link and image target in a Markdown file (code is not parsed)."""
  found = []
  for token in _parse(path.read_text(encoding="utf-8")):
    for child in token.children or ():
      if child.type == "link_open":
        found.append(child.attrs["href"])
      elif child.type == "image":
        found.append(child.attrs["src"])
  return found


def broken_links(path: pathlib.Path) -> list[str]:
  """The relative links of a Markdown file that do not resolve, each as
  'file: target (why)'."""
  broken = []
  for target in _targets(path):
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):   # http:, https:, mailto:
      continue
    file_part, _, anchor = target.partition("#")
    dest = (path.parent / file_part).resolve() if file_part else path
    if not dest.exists():
      broken.append(f"{path.name}: {target} (no such file)")
    elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
      broken.append(f"{path.name}: {target} (no heading #{anchor})")
  return broken


def test_every_relative_link_in_the_readme_and_docs_resolves():
  broken = [b for page in _pages() for b in broken_links(page)]
  assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path):
  (tmp_path / "other.md").write_text("# Other page\n\n## A section: `code`\n")
  page = tmp_path / "page.md"
  page.write_text(
      "# Page\n\n"
      "[ok](other.md) [ok anchor](other.md#a-section-code) [self](#page)\n"
      "[web](https://example.org/x.md) `[in code](nowhere.md)`\n"
      "[gone](nowhere.md) [bad anchor](other.md#no-such-section)\n"
      "![missing image](figure.png)\n\n"
      "| table | [gone too](table.md) |\n|---|---|\n| a | b |\n")
  assert broken_links(page) == [
      "page.md: nowhere.md (no such file)",
      "page.md: other.md#no-such-section (no heading #no-such-section)",
      "page.md: figure.png (no such file)",
      "page.md: table.md (no such file)",
  ]


def test_the_readme_is_a_front_door_of_at_most_300_lines():
  lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
  assert lines <= 300, f"README.md has {lines} lines; move detail to docs/"


@pytest.mark.slow
def test_the_docs_build_without_a_warning(tmp_path):
  """What `make docs` runs, into a temporary folder: any warning (a broken
  cross-reference, a docstring autodoc cannot read) fails the build."""
  out = subprocess.run(
      [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going",
       "-n", "-q", "-d", str(tmp_path / "doctrees"), str(DOCS),
       str(tmp_path / "html")],
      capture_output=True, text=True, timeout=600, cwd=ROOT)
  assert out.returncode == 0, (
      f"sphinx-build exited {out.returncode}:\n{out.stderr[-6000:]}")
  assert (tmp_path / "html" / "api" / "runner.html").exists()
