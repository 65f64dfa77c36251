"""The runtime: one asyncio event loop that owns every child, pipe and timer."""
