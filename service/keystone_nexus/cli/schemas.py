"""`nexus schemas print|sync`: the JSON Schemas derived from the protos, and registering them."""

from __future__ import annotations

import argparse
import asyncio
import sys

import orjson

from keystone_nexus.cli.arguments import output_file
from keystone_nexus.cli.common import print_json, resolved_settings, sync_schemas
from keystone_nexus.contracts import entities as contracts


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schemas = commands.add_parser("schemas", help="registry schemas").add_subparsers(
        dest="schemas", required=True
    )
    show = schemas.add_parser("print", help="print the JSON Schemas derived from the protos")
    show.add_argument("--entity")
    show.set_defaults(func=cmd_schemas_print)
    sync = schemas.add_parser("sync", help="register the current schemas (idempotent)")
    sync.add_argument("--ids-out", type=output_file, help="write {schema name: version id} JSON here")
    sync.set_defaults(func=cmd_schemas_sync)


def cmd_schemas_print(args: argparse.Namespace) -> int:
    from keystone_nexus.contracts.json_schema import entity_schema

    chosen = [contracts.entity(args.entity)] if args.entity else contracts.entities()
    print_json({e.schema_name: entity_schema(e) for e in chosen})
    return 0


def cmd_schemas_sync(args: argparse.Namespace) -> int:
    ids = asyncio.run(sync_schemas(resolved_settings(args)))
    if args.ids_out:
        args.ids_out.parent.mkdir(parents=True, exist_ok=True)
        args.ids_out.write_bytes(orjson.dumps(ids, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        print(f"schema version ids written to {args.ids_out}", file=sys.stderr)
    return 0
