"""Prefect wiring only: tasks and flows over the library's plain functions. No logic a test needs Prefect for."""
