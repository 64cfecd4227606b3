"""vicidid: VICIdial's Non-Agent API for inbound DIDs, as a fast, safe Python server."""

__version__ = "0.1.0"

# Where VICIdial answers its Non-Agent API, and so where vicidid does.
API_PATH = "/vicidial/non_agent_api.php"
