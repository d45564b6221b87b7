"""The files a server gets, kept as real files under templates/ so each can be read (and linted) as what
it is. Placeholders are `{{name}}`: that form collides with nothing in shell, Caddyfile, nftables or
systemd syntax, so no escaping is needed. Filling is strict both ways: a missing value and an unused value
are errors, so a renamed placeholder cannot silently render as literal text."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")


@cache
def template_text(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


def fill(name: str, **values: str | int) -> str:
    text = template_text(name)
    wanted = set(_PLACEHOLDER.findall(text))
    missing = wanted - values.keys()
    unused = values.keys() - wanted
    if missing or unused:
        raise KeyError(f"template {name}: missing values {sorted(missing)}, unused values {sorted(unused)}")
    return _PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), text)


# A line `#@stage NAME` starts a section of a template that belongs to stage NAME (until the next
# marker; the text before the first marker belongs to every stage). The bootstrap script is one file so
# that the full install reads top to bottom as it runs; each stage keeps its sections, and the marker
# lines themselves never reach the server.
_STAGE_MARKER = re.compile(r"^#@stage ([a-z-]+)$")
EVERY_STAGE = "both"


def sections(text: str, keep: frozenset[str]) -> str:
    """`text` with only the sections of the stages in `keep` (and those marked `both`)."""
    kept: list[str] = []
    current = EVERY_STAGE
    for line in text.splitlines(keepends=True):
        marker = _STAGE_MARKER.match(line.rstrip("\n"))
        if marker is not None:
            current = marker.group(1)
        elif current == EVERY_STAGE or current in keep:
            kept.append(line)
    return "".join(kept)
