"""The server's routers, one module per area."""
