"""The named Cypher query library: one question per ``NAME.cypher`` file, with a header comment

    // name: NAME
    // description: what it answers
    // params: name: type, …      (types: str, int, float)
    // returns: column, …

The same text runs on the embedded store and on Neo4j; where it cannot, ``NAME.BACKEND.cypher`` next to
it holds that backend's variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

_TYPES = {"str": str, "int": int, "float": float}


@dataclass(frozen=True)
class Query:
    name: str
    description: str
    params: dict[str, str]
    returns: list[str]
    text: str
    variants: dict[str, str] = field(default_factory=dict)

    def text_for(self, backend: str) -> str:
        return self.variants.get(backend, self.text)

    def coerce(self, raw: dict[str, str]) -> dict:
        """Typed parameter values from ``k=v`` strings; errors name the parameter."""
        unknown = set(raw) - set(self.params)
        if unknown:
            raise ValueError(f"{self.name}: unknown parameter(s) {', '.join(sorted(unknown))}; "
                             f"expects {', '.join(f'{k}: {v}' for k, v in self.params.items())}")
        out = {}
        for k, v in raw.items():
            try:
                out[k] = _TYPES[self.params[k]](v)
            except ValueError as e:
                raise ValueError(f"{self.name}: parameter {k} must be {self.params[k]}, got {v!r}") from e
        missing = set(self.params) - set(out)
        if missing:
            raise ValueError(f"{self.name}: missing parameter(s) {', '.join(sorted(missing))}")
        return out


def _parse(name: str, text: str) -> Query:
    head = {}
    for line in text.splitlines():
        if not line.startswith("//"):
            break
        key, _, val = line[2:].strip().partition(":")
        head[key.strip()] = val.strip()
    params = {}
    for p in filter(None, (x.strip() for x in head.get("params", "").split(","))):
        pname, _, ptype = p.partition(":")
        params[pname.strip()] = ptype.strip() or "str"
    if head.get("name") != name:
        raise ValueError(f"queries/{name}.cypher: header name {head.get('name')!r} differs from the file name")
    return Query(name, head.get("description", ""), params,
                 [c.strip() for c in head.get("returns", "").split(",") if c.strip()], text)


def _load() -> dict[str, Query]:
    files = {f.name: f for f in resources.files(__package__).iterdir() if f.name.endswith(".cypher")}
    out = {}
    for fname, f in sorted(files.items()):
        parts = fname[: -len(".cypher")].split(".")
        if len(parts) == 1:
            out[parts[0]] = _parse(parts[0], f.read_text(encoding="utf-8"))
    for fname, f in files.items():
        parts = fname[: -len(".cypher")].split(".")
        if len(parts) == 2:
            out[parts[0]].variants[parts[1]] = f.read_text(encoding="utf-8")
    return out


LIBRARY = _load()


def get(name: str) -> Query:
    if name not in LIBRARY:
        raise KeyError(f"no query named {name!r}; available: {', '.join(sorted(LIBRARY))}")
    return LIBRARY[name]


def names() -> list[str]:
    return sorted(LIBRARY)
