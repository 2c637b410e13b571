"""storconn: refcounted, durable, self-healing storage connections.

The parts: ``storconn.connection`` (the shared vocabulary), ``storconn.agent``
(one per host), ``storconn.engine`` (the central inventory) and
``storconn.volumes`` (cinderlib-style volumes on top of the agent).
"""

__version__ = "0.1.0"
