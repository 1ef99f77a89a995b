"""The ingestion service: HTTP API, pipeline stages, storage."""
