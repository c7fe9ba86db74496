"""Every command-line entry point (``edgeperf-run``, ``-sweep``,
``-set-targets``, ``-plot``, ``-score``, ``-bench``, ``-tune``,
``-reproduce``,
``-export-algoperf``) and the one flag parser they share (:mod:`.flagparse`).

Each module defines its absl flags on a private ``FlagValues`` inside
``main`` (no global flag state, nothing at import time), parses them with
:func:`edgeperf.cli.flagparse.parse`, and hands plain values to the
library: no flag is read below the entry module.  May import every other
package.
"""
