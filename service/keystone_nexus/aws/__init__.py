"""AWS clients and Secrets Manager references."""
