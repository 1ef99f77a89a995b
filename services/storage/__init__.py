"""Storage: SQLAlchemy models and repository functions.

Repository functions take the session first; they flush, the caller commits.
"""
