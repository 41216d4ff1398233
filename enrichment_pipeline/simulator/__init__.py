"""A Polygon / Massive-compatible API simulator: same paths, parameters and JSON as the vendor,
deterministic simulated data, fault injection; in-process (httpx transport) or on loopback.

See ``docs/simulator.md``. Main entry points (imported lazily)::

    from enrichment_pipeline.simulator import PolygonSimulator, start_in_thread
"""

from __future__ import annotations

from typing import Any

__all__ = ["PolygonSimulator", "Faults", "start_in_thread", "SimulatorHTTPServer", "SIMULATOR_HEADER"]


def __getattr__(name: str) -> Any:
    if name in ("PolygonSimulator", "SIMULATOR_HEADER"):
        from enrichment_pipeline.simulator import app

        return getattr(app, name)
    if name == "Faults":
        from enrichment_pipeline.simulator.faults import Faults

        return Faults
    if name in ("start_in_thread", "SimulatorHTTPServer"):
        from enrichment_pipeline.simulator import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
