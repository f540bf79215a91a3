"""Retrieval: plan the query variants, search each retriever, fuse the lists, apply feedback."""
