"""Frontier Atlas: the frontiers of Belarus as OGC API - Features, analytics and map pages."""

__version__ = "0.1.0"
