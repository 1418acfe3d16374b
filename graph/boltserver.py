"""A local Bolt server for trying and testing the Neo4j backend without Docker.

Neo4j 5 cannot be installed on every machine (no Docker engine, no package ships it), so the tests run
the Neo4j backend against ArcadeDB's Bolt plugin (PyPI ``arcadedb-embedded``, which bundles a JRE). It
answers the official driver as a Neo4j 5 compatible server. It is not Neo4j: its own Cypher engine, no
APOC; label timings taken on it as such.

Run as a separate process (the JVM must not share a process with the driver):
``NEO4J_PASSWORD=… python -m graph.boltserver --root DIR --bolt-port 7687`` prints ``READY`` when it accepts
connections and runs until it receives SIGTERM or SIGINT (Ctrl-C); it does not read its standard input,
so it also runs in the background or under a service manager. It binds 127.0.0.1. Its user is ``root``
(ArcadeDB's administrator), with the password from ``NEO4J_PASSWORD``: connect with ``NEO4J_USER=root``.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(root: Path, bolt_port: int, http_port: int, password: str) -> None:  # pragma: no cover - subprocess
    from arcadedb_embedded import ArcadeDBServer

    server = ArcadeDBServer(root_path=str(root), root_password=password, config={
        "host": "127.0.0.1", "http_port": http_port,
        "server_plugins": "Bolt:com.arcadedb.bolt.BoltProtocolPlugin", "bolt_port": bolt_port,
        "bolt_host": "127.0.0.1", "server_defaultDatabases": "neo4j[root]"})
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print(f"READY bolt://127.0.0.1:{bolt_port} user=root", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()


@contextmanager
def bolt_server(root: Path, password: str, timeout: float = 120.0):
    """Start the server in a subprocess on free loopback ports; yield its bolt:// URI (user ``root``)."""
    bolt, http = free_port(), free_port()
    repo = str(Path(__file__).resolve().parent.parent)
    env = os.environ | {"NEO4J_PASSWORD": password,
                        "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))}
    log = open(Path(root) / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "graph.boltserver", "--root", str(root), "--bolt-port", str(bolt),
                             "--http-port", str(http)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=log, env=env, text=True, cwd=root)  # the server writes log/ into its cwd
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = proc.stdout.readline()
            if "READY" in line:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"Bolt server exited; see {root}/server.log")
        else:
            raise TimeoutError("Bolt server did not start in time")
        yield f"bolt://127.0.0.1:{bolt}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def main() -> None:  # pragma: no cover - subprocess entry point
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", required=True)
    ap.add_argument("--bolt-port", type=int, default=7687)
    ap.add_argument("--http-port", type=int, default=2480)
    a = ap.parse_args()
    password = os.environ.get("NEO4J_PASSWORD")
    if not password:
        raise SystemExit("error: set NEO4J_PASSWORD (the password of the server's user, root)")
    serve(Path(a.root), a.bolt_port, a.http_port, password)


if __name__ == "__main__":  # pragma: no cover
    main()
