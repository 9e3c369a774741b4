"""The bronze sink: decode, validate, batch, encode, write and commit records, one module per step."""
