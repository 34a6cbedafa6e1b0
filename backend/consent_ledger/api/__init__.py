"""The HTTP API: `create_app(settings)` builds it; routes live in `routes/`, errors map in `problems.py`."""
