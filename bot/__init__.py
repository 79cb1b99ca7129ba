"""Opsroom: a Discord incident-commander bot for small operations teams."""

__version__ = "0.1.0"
