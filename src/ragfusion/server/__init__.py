"""The HTTP service: a FastAPI app over one Pipeline, with a web page at ``/``.

Import ``ragfusion.server.app.create_app``; ``ragfusion serve`` runs it with uvicorn.
"""
