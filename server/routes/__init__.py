"""The server's routers, one module per area (each exposes ``router``)."""
