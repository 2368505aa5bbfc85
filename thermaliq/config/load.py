"""Loading facility files: YAML parsing (no aliases), validation, messages naming file and field.

``load_facility(path)`` parses one file and raises :class:`ConfigErrors` listing every problem
with the file, the field and the fix. ``load_facilities(home)`` loads all files of a home and keeps
going past broken ones, so one bad file never hides the others.
"""
from __future__ import annotations

import threading
from pathlib import Path

import yaml
from pydantic import ValidationError

from thermaliq.config.checks import check_facility
from thermaliq.config.model import Facility
from thermaliq.errors import ConfigError, ConfigErrors


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "tagged-union")) or part in ("tuple",):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _pydantic_errors(exc: ValidationError) -> list[ConfigError]:
    out = []
    for e in exc.errors():
        field = _loc(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        fix = None
        if e["type"] == "extra_forbidden":
            msg, fix = "unknown key", "remove it or check its spelling against the README"
        elif e["type"] == "missing":
            msg, fix = "required field is missing", "add it"
        cause = e.get("ctx", {}).get("error")
        if isinstance(cause, ConfigError):
            msg, fix = cause.message, cause.fix
        out.append(ConfigError(msg, field=field, fix=fix))
    return out


def _yaml_load(text: str):
    """Parse plain YAML, refusing aliases; libyaml's C parser when available (~2x faster)."""
    c_loader = getattr(yaml, "CSafeLoader", None)
    if c_loader is None:
        return yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - safe loader without aliases
    for event in yaml.parse(text, Loader=c_loader):
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed",
                                              event.start_mark)
    return yaml.load(text, Loader=c_loader)  # noqa: S506 - safe loader, aliases refused above


class _SafeLoader(yaml.SafeLoader):
    """SafeLoader without aliases: anchors/aliases are refused (no billion-laughs expansion)."""

    def compose_node(self, parent, index):  # noqa: D401
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed",
                                              event.start_mark)
        return super().compose_node(parent, index)


MAX_CONFIG_BYTES = 1_000_000


def parse_facility(data: dict, *, file: str | None = None) -> Facility:
    """Validate a parsed configuration mapping; raises :class:`ConfigErrors`."""
    if not isinstance(data, dict):
        raise ConfigErrors([ConfigError("the file must hold a mapping of keys (facility_id, name, ...)",
                                        file=file)])
    try:
        facility = Facility.model_validate(data)
    except ValidationError as exc:
        errs = _pydantic_errors(exc)
    else:
        errs = check_facility(facility)
    if errs:
        for e in errs:
            e.file = file
        raise ConfigErrors(errs)
    return facility


_LOADED: dict[tuple, Facility] = {}
_LOADED_LOCK = threading.Lock()


def load_facility(path: str | Path) -> Facility:
    """Load and validate one facility file; the file name must be ``<facility_id>.yaml``.

    A file already loaded and unchanged since (same path, inode, size and modification time in
    ns) gives the same validated :class:`Facility` again (it is frozen): every task of a run loads
    its facility, and parsing + validating costs ~20 ms a time.

    Raises
    ------
    ConfigErrors
        With every problem found, each naming the file, the field and the fix.
    """
    path = Path(path)
    name = str(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise ConfigErrors([ConfigError(f"cannot read: {exc}", file=name)]) from exc
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    with _LOADED_LOCK:
        cached = _LOADED.get(key)
    if cached is not None:
        return cached
    facility = _load_facility_file(path, name, st.st_size)
    with _LOADED_LOCK:
        if len(_LOADED) > 4096:     # edited files leave stale keys: keep the cache bounded
            _LOADED.clear()
        _LOADED[key] = facility
    return facility


def _load_facility_file(path: Path, name: str, size: int) -> Facility:
    try:
        if size > MAX_CONFIG_BYTES:
            raise ConfigErrors([ConfigError("file is larger than 1 MB", file=name)])
        text = path.read_text(encoding="utf-8")
        data = _yaml_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigErrors([ConfigError(f"cannot read: {exc}", file=name)]) from exc
    except yaml.YAMLError as exc:
        raise ConfigErrors([ConfigError(f"not valid YAML: {exc}", file=name,
                                        fix="correct the YAML at the line shown; plain YAML only: "
                                            "no anchors, aliases or !tags")]) from exc
    facility = parse_facility(data, file=name)
    if path.stem != facility.facility_id:
        raise ConfigErrors([ConfigError(
            f"file name {path.name!r} does not match facility_id {facility.facility_id!r}",
            file=name, field="facility_id", fix=f"rename the file to {facility.facility_id}.yaml")])
    return facility


def load_facilities(facilities_dir: str | Path) -> tuple[dict[str, Facility], list[ConfigError]]:
    """Load every ``*.yaml``/``*.yml`` of a directory; return (facilities by id, errors)."""
    facilities: dict[str, Facility] = {}
    errors: list[ConfigError] = []
    for path in sorted(Path(facilities_dir).glob("*.y*ml")):
        try:
            facility = load_facility(path)
        except ConfigErrors as exc:
            errors.extend(exc.errors)
            continue
        facilities[facility.facility_id] = facility
    return facilities, errors
