"""HTTP API: thin views over the storage and the task queue."""
