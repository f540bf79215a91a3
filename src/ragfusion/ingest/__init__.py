"""Ingest: read files (loaders), cut them into chunks with stable ids, record what was indexed."""
