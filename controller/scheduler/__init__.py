"""Scheduled maintenance: schedules, their runs, and the `telecentre-scheduler` process."""
