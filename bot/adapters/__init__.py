"""Adapters: the outside world (database, HTTP, Discord, clock) behind the core's ports."""
