"""Unattended checks on a countdown to the exam: the plan, the scheduler, the listing."""

from .countdown import PlannedRun, countdown_plan, countdown_times

__all__ = ["PlannedRun", "countdown_plan", "countdown_times"]
