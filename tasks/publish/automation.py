"""The alert automation shipped in ``ops/prefect/thermaliq-alerts.yaml``, installed through the
Prefect API (``thermaliq alerts install --block NAME``).

The file is the automation as Prefect's ``prefect automation create --from-file`` reads it, with a
placeholder notification block; :func:`install_alert_automation` puts the id of the named block
into every ``send-notification`` action and creates the automation, or updates the one of the
same name, so running it again after editing the file or choosing another block is safe.
"""
from __future__ import annotations

from pathlib import Path
from uuid import UUID

import yaml

from thermaliq.errors import ConfigError

AUTOMATION_FILE = Path(__file__).resolve().parents[2] / "ops" / "prefect" / "thermaliq-alerts.yaml"


def automation_spec(block_document_id: UUID | str, path: Path = AUTOMATION_FILE) -> dict:
    """The automation of ``path`` with ``block_document_id`` in its notification actions."""
    spec = yaml.safe_load(Path(path).read_text())
    actions = [a for a in spec.get("actions", []) if a.get("type") == "send-notification"]
    if not actions:
        raise ConfigError(f"{path}: no send-notification action", field="actions",
                          fix="keep the send-notification action of the shipped file")
    for action in actions:
        action["block_document_id"] = str(block_document_id)
    return spec


def find_block(client, block: str):
    """The block document called ``block`` (``name`` or ``<block-type-slug>/name``)."""
    slug, _, name = block.rpartition("/")
    if slug:
        try:
            return client.read_block_document_by_name(name=name, block_type_slug=slug)
        except Exception as exc:  # noqa: BLE001 - Prefect raises ObjectNotFound or an HTTP error
            raise ConfigError(f"no Prefect block {block!r} ({type(exc).__name__})", field="--block",
                              fix="create it in the UI (Blocks) or check `prefect block ls`") from None
    found = [d for d in client.read_block_documents() if d.name == name]
    if len(found) != 1:
        kinds = ", ".join(f"{d.block_type.slug}/{d.name}" for d in found if d.block_type) or "none"
        raise ConfigError(f"{len(found)} Prefect blocks are called {name!r} ({kinds})", field="--block",
                          fix="give one as <block-type-slug>/<name>, e.g. slack-webhook/ops-alerts")
    return found[0]


def install_alert_automation(block: str, path: Path = AUTOMATION_FILE) -> tuple[str, UUID]:
    """Create or update the automation of ``path`` notifying through ``block``; return
    (``"created"`` or ``"updated"``, the automation's id)."""
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import AutomationCore

    with get_client(sync_client=True) as client:
        doc = find_block(client, block)
        automation = AutomationCore.model_validate(automation_spec(doc.id, path))
        existing = client.read_automations_by_name(automation.name)
        if existing:
            client.update_automation(existing[0].id, automation)
            return "updated", existing[0].id
        return "created", client.create_automation(automation)
