"""The one way every edgeperf command line parses its flags.

A command defines its absl flags on a fresh ``absl.flags.FlagValues`` (no
global flag state) and calls :func:`parse`; ``-h``/``--help`` print the flags
and exit 0, a bad flag exits with ``<prog>: <error>`` (status 2).
"""

from __future__ import annotations

import logging
import sys
from typing import Callable, Sequence

from absl import flags


def parse(define: Callable[[flags.FlagValues], None],
          argv: Sequence[str] | None, prog: str
          ) -> tuple[flags.FlagValues, list[str]]:
  """Defines the flags with ``define(flag_values)`` and parses ``argv``.

  Args:
    define: adds the command's flags to the FlagValues it is given.
    argv: the command line, program name first (default ``sys.argv``).
    prog: the command's name, for messages.

  Returns:
    ``(flag_values, positional arguments)`` (positional without the program
    name).
  """
  flag_values = flags.FlagValues()
  define(flag_values)
  argv = list(argv) if argv is not None else list(sys.argv)
  if any(a in ("-h", "--help", "--helpfull") for a in argv[1:]):
    print(f"{prog}\n\n{flag_values.get_help()}")
    sys.exit(0)
  try:
    rest = flag_values(argv)
  except flags.Error as e:
    print(f"{prog}: {e}", file=sys.stderr)
    sys.exit(2)
  return flag_values, list(rest[1:])


def fail(prog: str, message: str, code: int = 1) -> None:
  """Prints ``<prog>: <message>`` on stderr and exits with ``code``."""
  print(f"{prog}: {message}", file=sys.stderr)
  sys.exit(code)


def report_warnings(prog: str) -> None:
  """Prints the library's warnings (the ``edgeperf`` logger: a run folder
  moved aside, an unreadable trial) as ``<prog>: <message>`` on stderr."""
  log = logging.getLogger("edgeperf")
  if not any(getattr(h, "edgeperf_prog", None) == prog for h in log.handlers):
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{prog}: %(message)s"))
    handler.edgeperf_prog = prog
    log.addHandler(handler)
  log.propagate = False


def define_executor(fv: flags.FlagValues) -> None:
  """``--executor`` and ``--ray_address``, shared by the sweep commands."""
  flags.DEFINE_enum("executor", "local", ["local", "ray"], "Where trials "
                    "run: persistent local worker processes, or Ray actors "
                    "(needs the ray extra: pip install 'edgeperf[ray]').",
                    flag_values=fv)
  flags.DEFINE_string("ray_address", None, "With --executor=ray: the Ray "
                      "cluster to join (auto, host:port); unset: start a "
                      "local Ray for this sweep.", flag_values=fv)
