"""What the package is, for every layer to read: its version, and where the API answers."""

from __future__ import annotations

__version__ = "0.1.0"

# Where VICIdial answers its Non-Agent API, and so where vicidid does.
API_PATH = "/vicidial/non_agent_api.php"
