"""The public status page over HTTP: rendering (`render`) and serving (`serve`)."""
