"""Flag parsing shared by the command-line tools that own a FlagValues.

``edgeperf-sweep``, ``edgeperf-score``, ``edgeperf-bench`` and
``edgeperf-set-targets`` define their
flags on a private ``absl.flags.FlagValues`` inside ``main`` (no global flag
state); :func:`parse` reads ``argv`` into it the same way for all of them.
"""

from __future__ import annotations

import sys
from typing import Sequence

from absl import flags


def parse(flag_values: flags.FlagValues, argv: Sequence[str] | None,
          prog: str) -> None:
  """Parses ``argv`` (default ``sys.argv``) into ``flag_values``.

  ``-h``/``--help``/``--helpfull`` print the flags and exit 0; a bad flag
  exits with ``prog: <error>`` (status 1).
  """
  argv = list(argv) if argv is not None else sys.argv
  if any(a in ("-h", "--help", "--helpfull") for a in argv[1:]):
    print(flag_values.get_help())
    sys.exit(0)
  try:
    flag_values(argv)
  except flags.Error as e:
    sys.exit(f"{prog}: {e}")
