"""vicidid: VICIdial's Non-Agent API for inbound DIDs, as a fast, safe Python server."""

__version__ = "0.1.0"
