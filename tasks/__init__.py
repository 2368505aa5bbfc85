"""Prefect tasks: thin wrappers (retries, logging, artifacts) around thermaliq library functions."""
