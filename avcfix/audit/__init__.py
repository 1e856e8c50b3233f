"""Audit log ingestion: parse -> correlate -> denials -> groups (pure, streaming)."""
