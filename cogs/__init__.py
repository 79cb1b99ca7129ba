"""Thin Discord extensions: parse the interaction, call a core service, render the reply.

Each module's only public entry is `async def setup(bot)`; no business rule lives here.
"""
