"""Marshmallow schemas: what goes over HTTP and onto the queue."""
