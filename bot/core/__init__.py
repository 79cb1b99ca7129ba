"""The Opsroom domain: incidents, timelines, alerts and their rules, standard library only."""
