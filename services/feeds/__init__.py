"""Reading the feed for consumers: cursors, items, standard formats, the live stream, export.

Plain functions over a session or a session factory; no Flask or Celery, so
the API, the workers and the command line share them.
"""
