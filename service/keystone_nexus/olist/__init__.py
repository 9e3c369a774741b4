"""Synthetic and real Olist dataset files: generation and reading."""
