"""Repairing the lake: dead-letter re-drive, reprocessing an offset range, the lake summary."""
