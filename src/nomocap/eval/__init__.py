"""Evaluation: the T2M metrics (pure math) and the replication protocol."""
