"""The API's response shapes as pydantic models: what `/openapi.json` declares and a typed client can share.

This package imports only pydantic and the standard library, so a brand's client can vendor it without
the server. Each response model names the fields clients rely on; `extra="allow"` lets a field added
later still reach a client built from an older schema.
"""
