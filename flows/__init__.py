"""Prefect flows of thermaliq (orchestration only) and the ``thermaliq`` CLI.

Importing this package quietens Prefect's ephemeral server (no shutdown tracebacks, no analytics)
unless the user configured those settings.
"""
import os

os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
