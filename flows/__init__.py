"""Prefect flows of thermaliq (orchestration only) and the ``thermaliq`` CLI.

Importing this package quietens Prefect's ephemeral server (no shutdown tracebacks, no analytics)
unless the user configured those settings. These are writes of Prefect's own settings (``PREFECT_*``,
read by Prefect from the environment), not reads of thermaliq's: those come from one
``thermaliq.settings.Settings`` per flow run (``flows.runs.run_settings``).
"""
import os

os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
