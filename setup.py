"""Maps the repository's top-level folders into one namespace, ``edgeperf``.

``workloads/`` becomes ``edgeperf.workloads``, ``harness/`` becomes
``edgeperf.harness`` and so on; every sub-folder holding an ``__init__.py``
(e.g. each submission) is found automatically.  Metadata is in pyproject.toml.
"""

import os

from setuptools import setup

TOP_LEVEL = ("workloads", "submissions", "harness", "scoring", "protocol",
             "reproduce", "interop", "benchmarks", "cli")
HERE = os.path.dirname(os.path.abspath(__file__))


def _packages():
  packages, package_dir = ["edgeperf"], {"edgeperf": "edgeperf"}
  for top in TOP_LEVEL:
    package_dir[f"edgeperf.{top}"] = top
    for root, dirs, files in os.walk(os.path.join(HERE, top)):
      dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
      if "__init__.py" in files:
        rel = os.path.relpath(root, HERE).replace(os.sep, ".")
        packages.append("edgeperf." + rel)
  return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages()
setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
