"""Cross-host exclusion of a facility's writers on a remote lake: a Prefect global concurrency
limit of one slot per facility, held with a lease (issue #19).

``flock`` works only among the processes of one host. With the lake on object storage, the
writers of a facility on several hosts take the slot of the limit ``thermaliq-lake-<facility>``
from the Prefect server they share; the slot is leased for ``THERMALIQ_LAKE_LEASE_S`` seconds and
renewed while it is held, so a holder killed with ``kill -9`` frees it when the lease runs out.
The lock only saves work: correctness comes from the conditional commit
(:class:`thermaliq.store.objectlake.CommitConflict`), so a writer whose lease ran out while it was
stalled loses its commit instead of overwriting another's.

Prefect is imported only when a remote lake's facility is locked (``import thermaliq`` still
loads no Prefect); the limit is created on first use.
"""
from __future__ import annotations

from contextlib import contextmanager

from thermaliq.errors import ConfigError, ThermaliqError

PREFIX = "thermaliq-lake-"
_CREATED: set[str] = set()


class LeaseTimeout(TimeoutError, ThermaliqError):
    """Another host held the facility's lease longer than the wait allowed."""


def limit_name(facility_id: str) -> str:
    return PREFIX + facility_id


def ensure_limit(name: str) -> None:
    """Create the one-slot global concurrency limit ``name`` unless it exists."""
    if name in _CREATED:
        return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            except ObjectAlreadyExists:
                pass                      # another host created it first
    _CREATED.add(name)


@contextmanager
def facility_lease(facility_id: str, timeout_s: float, lease_s: float):
    """Hold the cross-host slot of ``facility_id`` (wait at most ``timeout_s`` [s]; lease
    ``lease_s`` [s], renewed while held)."""
    from prefect.concurrency.sync import concurrency
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise ConfigError("a remote lake (THERMALIQ_LAKE_URL) with THERMALIQ_LAKE_LOCK=prefect needs "
                          "the Prefect server that every host shares (PREFECT_API_URL)",
                          field="THERMALIQ_LAKE_LOCK",
                          fix="set PREFECT_API_URL, or THERMALIQ_LAKE_LOCK=none when one host writes")
    name = limit_name(facility_id)
    ensure_limit(name)
    try:
        slot = concurrency(name, occupy=1, timeout_seconds=timeout_s, lease_duration=lease_s,
                           strict=True, raise_on_lease_renewal_failure=False)
        slot.__enter__()
    except TimeoutError as exc:
        raise LeaseTimeout(f"facility {facility_id}: another host has held its write lease for "
                           f"more than {timeout_s:.0f} s; try again when it has finished") from exc
    try:
        yield
    finally:
        slot.__exit__(None, None, None)
