"""Prefect artifacts and alert events of a flow run (:mod:`tasks.publish.artifacts`)."""
