"""The named Cypher query library: one question per ``NAME.cypher`` file, with a header comment

    // name: NAME
    // description: what it answers
    // params: name: type, …      (types: str, int, float; an int may carry a range, ``k: int 1..3``)
    // returns: column, …

The same text runs on the embedded store and on Neo4j; where it cannot, ``NAME.BACKEND.cypher`` next to
it holds that backend's variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

_TYPES = {"str": str, "int": int, "float": float}
YEAR_PARAMS = ("year", "year_from", "year_to")


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

    def _expects(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self.params.items())

    def _names(self, given: dict) -> None:
        unknown, missing = set(given) - set(self.params), set(self.params) - set(given)
        if unknown or missing:
            what = "; ".join(filter(None, [unknown and f"unknown parameter(s) {', '.join(sorted(unknown))}",
                                           missing and f"missing parameter(s) {', '.join(sorted(missing))}"]))
            raise ValueError(f"{self.name}: {what}; expects {self._expects()}")

    def coerce(self, raw: dict[str, str]) -> dict:
        """Typed parameter values from ``k=v`` strings (the command line); errors name the parameter."""
        self._names(raw)
        out = {}
        for k, v in raw.items():
            try:
                out[k] = _TYPES[self.params[k].split()[0]](v)
            except ValueError as e:
                raise ValueError(f"{self.name}: parameter {k} must be {self.params[k]}, got {v!r}") from e
        return self.check(out)

    def check(self, values: dict) -> dict:
        """Parameter values as the header declares them: names, types (no silent conversion: a firm id
        given as a number would match nothing) and ranges; errors name the parameter."""
        self._names(values)
        for k, v in values.items():
            typ, _, rng = self.params[k].partition(" ")
            ok = {"str": isinstance(v, str), "int": isinstance(v, int) and not isinstance(v, bool),
                  "float": isinstance(v, int | float) and not isinstance(v, bool)}[typ]
            if not ok:
                raise ValueError(f"{self.name}: parameter {k} must be {typ}, got {type(v).__name__} {v!r}")
            if rng:
                lo, hi = (int(x) for x in rng.split(".."))
                if not lo <= v <= hi:
                    raise ValueError(f"{self.name}: parameter {k} must be between {lo} and {hi}, got {v}")
        return values


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
