"""The `nexus` command line."""
