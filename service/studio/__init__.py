"""Saved maps: the validated map document (``spec``), its repository (``store``) and the
edit tokens and API keys that open it (``tokens``). Imports neither FastAPI nor the renderer."""
