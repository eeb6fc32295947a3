"""The server's routes, one router per area; each route declares one decision of server.access."""
