"""Celery workers: the app, its configuration and thin task wrappers."""
