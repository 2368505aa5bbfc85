"""Physics: IAPWS-IF97 water and steam (``water``), fuels, combustion, energy per stream, period balances,
efficiency ranges, heat losses, uncertainty budgets, CHP, emissions, baselines and costs.

May import: ``thermaliq.config``, ``thermaliq.units``, ``thermaliq.errors``; never sources, store,
pipeline or report.
"""
from thermaliq.physics.balance import period_results
from thermaliq.physics.energy import StreamEnergies, stream_energies

__all__ = ["StreamEnergies", "period_results", "stream_energies"]
