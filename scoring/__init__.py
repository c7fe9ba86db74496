"""Time-to-target, performance profiles, benchmark score, leaderboard."""
