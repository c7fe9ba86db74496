"""Sweeps: many timed runs of a plan, recorded in one folder.

Owns the sweep request and its plan (:mod:`.runs`), the trial points a
ruleset draws (:mod:`.sampling`), and the executors that run trials —
local worker processes (:mod:`.local`, :mod:`.worker`) or Ray actors
(:mod:`.ray_actors`), chosen by name (:mod:`.executors`).  May import
``edgeperf.harness`` (the timed run), ``submissions``, ``workloads`` and the
namespace's private helpers; nothing above.
"""
