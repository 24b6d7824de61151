"""``/api/v1`` routers, one per area of the domain."""
