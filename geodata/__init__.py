"""Frontier Atlas geodata: the committed layers and the build that makes them."""
