"""The event contracts: entities, their JSON and Avro schemas, the Glue header, record validation."""
