"""The one table printer of the command line: headers, widths, numbers right-aligned."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keystone_nexus.cli.common import print_table


def test_columns_are_as_wide_as_their_widest_cell_and_numbers_align_right(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_table(
        ["entity", "rows", "when", "objects"],
        [
            ["orders", 1234567, datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC), ["a", "b"]],
            ["total", 7, None, []],
        ],
    )
    assert capsys.readouterr().out.splitlines() == [
        "entity       rows  when                       objects",
        "orders  1,234,567  2026-01-02T03:04:05+00:00  2",
        "total           7                             0",
    ]
