"""Reports and metrics: data loading through the catalog, page views, figures, Sankey, HTML, fleet index, server.

May import: ``thermaliq.store``, ``thermaliq.quality``, ``thermaliq.physics``, ``thermaliq.config``,
``thermaliq.sources`` (connector counters for metrics); never ``thermaliq.pipeline``. No re-exports:
pages are rendered through ``thermaliq.report.render``, metrics through ``thermaliq.report.metrics``.
"""
