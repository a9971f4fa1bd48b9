"""The HTTP search service (FastAPI) and its web page (``static/``)."""
from csdh.service.app import create_app

__all__ = ["create_app"]
