"""The FastAPI service and web console: routers, request bodies, error bodies."""
