"""The ASGI target ``service.asgi:app``: the one import-time side effect of the package."""

from service.app import create_app

app = create_app()
