"""Qdrant stores behind one small interface: qdrant-edge (embedded) and qdrant-client (server)."""
