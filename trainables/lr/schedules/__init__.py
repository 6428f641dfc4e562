"""Registered schedules: pure multipliers of each group's base lr."""
