"""The HTTP edge: the Starlette app, uvicorn, request parsing, the access log, metrics,
OpenAPI and the fallback to VICIdial's own PHP. Thin: every decision is in vicidid.core.
"""
