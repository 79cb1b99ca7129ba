"""Pagers beyond Discord: Apprise URLs (checked, masked, encrypted) and the page sender."""

from bot.adapters.paging.apprise_urls import AppriseUrls, send_page
from bot.adapters.paging.sender import PagerSender

__all__ = ["AppriseUrls", "PagerSender", "send_page"]
