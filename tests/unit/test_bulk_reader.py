"""The bulk CSV reader gives the per-row reader's records, lines and rejections, row for row."""

from pathlib import Path

import pytest

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.olist.bulk_reader import CsvBlock, read_csv_block
from keystone_nexus.olist.generate import generate
from keystone_nexus.olist.reader import Row, RowError, read

ARABIC_123 = "\u0661\u0662\u0663"
REVIEW_HEADER = (
    '"review_id","order_id","review_score","review_comment_title","review_comment_message",'
    '"review_creation_date","review_answer_timestamp"\n'
)


def review(n: int, message: str, score: str = "5") -> str:
    return f'"{n:032x}","{n:032x}",{score},,"{message}","2018-01-18 00:00:00","2018-01-18 21:46:59"'


def items(block: CsvBlock) -> list[Row | RowError]:
    """The block as the per-row reader yields it."""
    typed = block.typed.to_pylist()
    out: list[Row | RowError] = []
    for i in range(block.num_rows):
        if i in block.errors:
            out.append(block.errors[i])
        else:
            out.append(Row(int(block.lines[i]), block.slow.get(i, typed[i])))
    return out


def per_row(path: Path, entity: str) -> list[Row | RowError]:
    return list(read(path, contracts.entity(entity), validate=False))


def bulk(path: Path, entity: str, limit: int | None = None) -> CsvBlock:
    block = read_csv_block(path, contracts.entity(entity), limit)
    assert block is not None, f"{path.name} was not read in bulk"
    return block


def test_generated_dataset_reads_as_row_by_row(tmp_path: Path) -> None:
    generate(tmp_path, scale=0.01, seed=3)
    for spec in contracts.entities():
        path = tmp_path / spec.csv_file
        block = bulk(path, spec.name)
        assert block.num_rows > 0
        assert items(block) == per_row(path, spec.name), spec.name
        assert not block.slow and not block.errors, spec.name
        assert block.record(0) == block.typed.slice(0, 1).to_pylist()[0]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_breaks_inside_cells_advance_the_line(tmp_path: Path, newline: str) -> None:
    rows = [
        review(1, "one line"),
        review(2, f"two{newline}lines"),
        review(3, f"three{newline}{newline}lines"),
        review(4, "after"),
    ]
    path = tmp_path / "olist_order_reviews_dataset.csv"
    path.write_bytes((REVIEW_HEADER + "\n".join(rows) + "\n").encode())
    block = bulk(path, "reviews")
    assert block.lines.tolist() == [2, 3, 5, 8]
    assert items(block) == per_row(path, "reviews")


def test_crlf_row_ends_and_no_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "olist_order_reviews_dataset.csv"
    text = REVIEW_HEADER.replace("\n", "\r\n") + "\r\n".join(
        [review(1, "a\r\nb"), review(2, "c"), review(3, "d")]
    )
    path.write_bytes(text.encode())
    block = bulk(path, "reviews")
    assert block.lines.tolist() == [2, 4, 5]
    assert items(block) == per_row(path, "reviews")


def test_trailing_blank_lines_are_fine_but_a_blank_line_inside_is_left_to_the_row_reader(
    tmp_path: Path,
) -> None:
    path = tmp_path / "olist_order_reviews_dataset.csv"
    path.write_text(REVIEW_HEADER + review(1, "x") + "\n" + review(2, "y") + "\n\n\n")
    assert items(bulk(path, "reviews")) == per_row(path, "reviews")
    path.write_text(REVIEW_HEADER + review(1, "x") + "\n\n" + review(2, "y") + "\n")
    assert read_csv_block(path, contracts.entity("reviews")) is None
    assert [r.line for r in per_row(path, "reviews")] == [2, 4]


def test_a_row_with_the_wrong_cell_count_or_a_nul_is_left_to_the_row_reader(tmp_path: Path) -> None:
    path = tmp_path / "olist_order_reviews_dataset.csv"
    path.write_text(REVIEW_HEADER + review(1, "x") + '\n"f7c4243c","8e6bfb81"\n')
    assert read_csv_block(path, contracts.entity("reviews")) is None
    path.write_text(REVIEW_HEADER + review(1, "x\0") + "\n")
    assert read_csv_block(path, contracts.entity("reviews")) is None
    # Not UTF-8 (past the header, which the row reader decodes first).
    many = "\n".join(review(n, "x") for n in range(1000))
    path.write_bytes(f"{REVIEW_HEADER}{many}\n".encode() + review(1, "x").encode() + b"\xff\n")
    assert read_csv_block(path, contracts.entity("reviews")) is None


def test_cells_python_types_otherwise_are_typed_by_the_row_reader(tmp_path: Path) -> None:
    spec = contracts.entity("products")
    path = tmp_path / spec.csv_file
    cells = [
        "40.0",  # pandas' float integers
        " 12",  # int() takes spaces
        "+3",
        "4e1",
        "3000000000",  # beyond int32: typed, protobuf refuses it later
        "-0.0",
        "12.5",  # not an integer
        "abc",
        "",
        "1_000",
    ]
    rows = [f'"{i:032x}","cat",{c},1,1,1,1,1,1' for i, c in enumerate(cells)]
    path.write_text(",".join(f'"{c}"' for c in spec.columns) + "\n" + "\n".join(rows) + "\n")
    block = bulk(path, "products")
    assert items(block) == per_row(path, "products")
    assert sorted(block.errors) == [6, 7]  # "4e1": float 40.0, an integer to Python
    assert "product_name_lenght" in block.errors[6].reason and block.errors[6].line == 8
    assert block.record(4)["product_name_lenght"] == 3_000_000_000
    assert block.record(0)["product_name_lenght"] == 40


def test_numbers_and_zip_prefixes(tmp_path: Path) -> None:
    spec = contracts.entity("geolocation")
    path = tmp_path / spec.csv_file
    rows = [
        '"1004",-23.5,-46.6,"sao paulo","SP"',
        '"01004",1e-3,.5,"x","SP"',
        f'"{ARABIC_123}",1.,-0.0,"x","SP"',  # non-ASCII digits: str.isdigit says yes
        '"ab1",nan,inf,"x","SP"',
        '"1",1e400,1,"x","SP"',
        '"",1.5.5,1,"x","SP"',
        '"12",,1,"x","SP"',
    ]
    path.write_text(",".join(f'"{c}"' for c in spec.columns) + "\n" + "\n".join(rows) + "\n")
    block = bulk(path, "geolocation")
    assert repr(items(block)) == repr(per_row(path, "geolocation"))  # NaN is no NaN's equal
    assert block.typed.column("geolocation_zip_code_prefix").to_pylist()[:2] == ["01004", "01004"]
    assert block.slow[2]["geolocation_zip_code_prefix"] == "00" + ARABIC_123
    assert sorted(block.errors) == [5]


def test_zip_prefixes_get_their_zeros_back_and_nan_forms_python_refuses(tmp_path: Path) -> None:
    spec = contracts.entity("geolocation")
    path = tmp_path / spec.csv_file
    head = ",".join(f'"{c}"' for c in spec.columns) + "\n"
    path.write_text(head + '1151,-23.5,-46.6,"sao paulo","SP"\n"",1,2,"x","SP"\n12345,1,2,"x","SP"\n')
    block = bulk(path, "geolocation")
    assert items(block) == per_row(path, "geolocation")
    assert block.typed.column(0).to_pylist() == ["01151", None, "12345"]
    path.write_text(head + '1151,nan(1),-46.6,"sao paulo","SP"\n1,NaN,2,"x","SP"\n')
    block = bulk(path, "geolocation")
    assert repr(items(block)) == repr(per_row(path, "geolocation"))
    assert list(block.errors) == [0] and "geolocation_lat" in block.errors[0].reason


def test_limit_takes_the_first_rows(tmp_path: Path) -> None:
    generate(tmp_path, scale=0.005, seed=1)
    path = tmp_path / contracts.entity("orders").csv_file
    block = bulk(path, "orders", limit=7)
    assert items(block) == per_row(path, "orders")[:7]
