"""Live call audio from the phone system: the wire protocols, one call session per call, the ingest server."""
