"""Prefixed warm-up schedules (Roulet et al. 2024, App. C.5)."""

from edgeperf.submissions.warmup_schedule.transform import SHAPES
from edgeperf.submissions.warmup_schedule.transform import ScheduleState
from edgeperf.submissions.warmup_schedule.transform import (
    scale_by_learning_rate_schedule)
from edgeperf.submissions.warmup_schedule.transform import warmup_schedule

__all__ = ["SHAPES", "ScheduleState", "scale_by_learning_rate_schedule",
           "warmup_schedule"]
