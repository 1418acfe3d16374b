"""prodnet: firm-to-firm production networks in a graph database, and the paper's pipeline on top.

``net = prodnet.open("data/small")`` opens a data root for notebook work (see :mod:`prodnet.api`)."""

__version__ = "0.1.0"


def open(root, **kw):  # noqa: A001 - the entry point is meant to read ``prodnet.open``
    """Open a data root (ETL reused or run) and return a :class:`prodnet.api.Network`."""
    from prodnet.api import open as _open

    return _open(root, **kw)
