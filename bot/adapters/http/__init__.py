"""The webhook and health HTTP server (aiohttp), sharing the bot's event loop."""
