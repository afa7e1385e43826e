"""Persistence: SQLAlchemy models, the database engine, repositories and migrations.

Holds ciphertext only for anything a user wrote. Uses the crypto package solely
through the objects it is handed.
"""
