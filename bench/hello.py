"""The reference: a hello-world endpoint on the same stack (Starlette, uvicorn, httptools,
uvloop, access log off), so vicidid's rate can be read as a share of what the stack does."""

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def hello(request):
    return PlainTextResponse("SUCCESS: hello\n")


app = Starlette(routes=[Route("/vicidial/non_agent_api.php", hello)])
