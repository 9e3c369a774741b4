"""Kafka clients beside the sink's consumer: admin, producer, range reader, MSK IAM auth."""
