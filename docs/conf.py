"""Sphinx configuration: the topic pages (Markdown, through MyST) and the API
reference generated from the docstrings (autodoc + napoleon).

Build with ``make docs`` (warnings are errors).  Nothing is downloaded: no
intersphinx.
"""

from sphinx.ext import napoleon

project = "edgeperf"
author = "the edgeperf authors"
copyright = "2026, the edgeperf authors"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Markdown: heading anchors so that `page.md#a-heading` links resolve, as on
# GitHub; `$...$` stays text (the pages write maths in Unicode).
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]

# The docstrings are Google style (Args:/Returns:) with reST markup: read by
# napoleon, except a constant's docstring, which is prose (napoleon would take
# "Floor of X: text" as a type, "Floor of X").
_NAPOLEON = napoleon.Config(napoleon_google_docstring=True,
                            napoleon_numpy_docstring=False,
                            napoleon_use_keyword=False)


def _google_docstring(app, what, name, obj, options, lines):
  if what in ("data", "attribute"):
    return
  lines[:] = napoleon.GoogleDocstring(lines, _NAPOLEON, app, what, name, obj,
                                      options).lines()

autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "description"
autodoc_typehints_format = "short"

# Nitpicky (-n): every cross-reference must resolve, except into libraries
# (no intersphinx: the build is offline) and into edgeperf modules outside the
# API reference.
nitpick_ignore_regex = [
    (r"py:.*", r"(jax|jaxlib|numpy|pandas|optax|flax|typing)(\..*)?"),
    (r"py:.*", r"edgeperf\.(harness\.(memory|reach|parallel|rundir|diagnostics"
     r"|pipeline|programs)|submissions\.loader"
     r"|workloads\.(datasets|paper_presets))(\..*)?"),
    # Annotations through a module alias (``rundir_lib.RunDir``) that the
    # pages do not document.
    (r"py:.*", r"[a-z_]+_lib\..*"),
]

html_theme = "alabaster"
html_title = "edgeperf"



def _link_root_files(app, docname, source):
  """The pages link to ../WORKSPACE.md and ../README.md (right on GitHub); in
  the HTML build the first is the page `workspace` (which includes it), the
  second the index."""
  source[0] = (source[0].replace("](../WORKSPACE.md", "](workspace.md")
               .replace("](../README.md", "](index.md"))


def setup(app):
  app.connect("source-read", _link_root_files)
  app.connect("autodoc-process-docstring", _google_docstring)
