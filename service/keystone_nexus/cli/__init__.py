"""The `nexus` command line: `main.py` builds the top-level parser and maps errors to exit
codes; each area's module (olist, schemas, replay, ingest, sink, lake, ops, dashboard,
topics, transform, dev, demo) registers its subcommands beside their handlers; `common.py`
holds what they share."""
