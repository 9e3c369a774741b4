"""`nexus dlq redrive` is the re-drive's name; `nexus dlq replay`, its first name, stays an
alias so operators' scripts keep working."""

from __future__ import annotations

import pytest

from keystone_nexus.cli.lake import cmd_dlq_list, cmd_dlq_redrive
from keystone_nexus.cli.main import build_parser


@pytest.mark.parametrize("name", ["redrive", "replay"])
def test_redrive_and_its_alias_run_the_redrive(name: str) -> None:
    args = build_parser().parse_args(["dlq", name, "--entity", "orders", "--reason-like", "order_id"])
    assert args.func is cmd_dlq_redrive
    assert (args.entity, args.reason_like) == ("orders", "order_id")


def test_list_is_not_the_redrive() -> None:
    assert build_parser().parse_args(["dlq", "list"]).func is cmd_dlq_list


def test_the_help_names_redrive_with_its_alias(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["dlq", "--help"])
    listed = capsys.readouterr().out
    assert "redrive (replay)" in listed and "re-validate outstanding dead letters" in listed
