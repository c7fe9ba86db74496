"""Scoring: from run folders to a leaderboard.

Owns time to target (:mod:`.time_to_target`), performance profiles and the
benchmark score (:mod:`.profiles`), the leaderboard table
(:mod:`.leaderboard`), its figures (:mod:`.plots`) and its report
(:mod:`.report`).  May import ``harness`` (to read run folders) and below.
"""
