"""Interoperation with other benchmarks: exporting edgeperf submissions to
MLCommons AlgoPerf (:mod:`.algoperf_export`).  Imports ``edgeperf``,
``workloads``, ``submissions`` and ``harness``; the command line is in
``cli/``.  (Importing AlgoPerf submissions is part of the submission loader,
:mod:`edgeperf.submissions.algoperf_api`.)"""
