"""Monitoring: figure definitions (figures.py), exports, documents and imports."""
