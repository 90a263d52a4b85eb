"""gunicorn entry point: ``gunicorn wsgi:app``."""

from scanapp import create_app

app = create_app()
