"""The timed run: one submission on one workload, and its run folder.

Owns the training loop and its clock (:mod:`.runner`, :mod:`.step`,
:mod:`.programs`), the reach rule (:mod:`.reach`), the run folder's files
(:mod:`.rundir`), memory and device placement (:mod:`.memory`,
:mod:`.memory_profile`, :mod:`.parallel`), the mini-batch pipeline
(:mod:`.pipeline`), per-step diagnostics (:mod:`.diagnostics`), the hardware
fingerprint, and many runs at once (:mod:`.sweep`).  May import
``submissions``, ``workloads`` and the namespace's private helpers.
"""
