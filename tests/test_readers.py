"""The instance readers: `cipopt validate` without pandas (issue 17), and the format described once,
by the pydantic row models, which give the CSV readers their column types (issue 18)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel

from cipopt.io.tables import TABLES, Column, column_of, table_columns
from cipopt.io.text import (
    Table, bool_cells, bool_column, number_cells, number_column, read_csv_table, read_table,
)
from cipopt.schema.base import Word, Year
from cipopt.schema.problems import ProblemLog

import probe

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"pandas", "numpy", "pyomo", "highspy", "scipy", "sqlalchemy", "openpyxl", "dask", "distributed"}


def imported_by(*args: str) -> tuple[int, set[str], str]:
    return probe.imported_by(*args, stderr=True)


def test_validate_reports_bad_input_without_pandas(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "instance.yaml").write_text("format_version: 1\nyears: [2025, 2026]\n")
    (folder / "schemes.csv").write_text("id,recurrent_saving,earliest_start\nS1,12k,2025/26\n")
    code, modules, out = imported_by("validate", str(folder))
    assert code == 2, out
    assert "'12k' is not a number" in out and "read as 2025" in out
    assert not modules & HEAVY, f"`cipopt validate` imported {sorted(modules & HEAVY)}"


def test_validate_out_still_writes_the_schemes_table(tmp_path):
    code, modules, out = imported_by("validate", "instances/holby", "--out", str(tmp_path / "v"))
    assert code == 0, out
    lines = (tmp_path / "v" / "schemes.csv").read_text().splitlines()
    assert lines[0] == "scheme,name,category,org,mandatory,eligible,ineligible_reason"
    assert len(lines) == 41  # holby's 40 schemes
    assert "pandas" in modules  # the table is written as the other commands write theirs


# -- one description: the row models ------------------------------------------------------------------

def _is_mapping(model: type[BaseModel], name: str) -> bool:
    return "dict[" in str(model.model_fields[name].annotation)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_column_is_a_model_field_and_every_field_a_column(name):
    spec = TABLES[name]
    fields = [f for f in spec.model.model_fields if not _is_mapping(spec.model, f)]
    assert list(spec.columns) == fields  # the model's order, nothing added, nothing left out
    for column, col in spec.columns.items():
        assert col.kind in ("str", "float", "int", "bool", "year"), (name, column)
        assert col.required == spec.model.model_fields[column].is_required(), (name, column)


def test_column_types_come_from_the_field_types():
    schemes, relations = TABLES["schemes"].columns, TABLES["relations"].columns
    assert schemes["id"] == Column("str", required=True)
    assert schemes["earliest_start"] == Column("year") and schemes["latest_start"] == Column("year")
    assert schemes["category"] == Column("str", word=True)
    assert schemes["delivery_distribution"] == Column("str", word=True)  # a Literal
    assert schemes["qia_approved"] == Column("bool") and schemes["confidence"] == Column("float")
    assert schemes["double_running_years"] == Column("int")
    assert relations["kind"] == Column("str", required=True, word=True)
    assert "metrics" not in schemes and "labels" not in schemes and "start_year_saving" not in schemes


def test_a_field_no_column_can_hold_is_refused():
    class Odd(BaseModel):
        when: Year | None = None
        kind: Word = "x"
        mode: Literal["a", "b"] = "a"
        spans: list[int] = []

    assert column_of(Odd, "when") == Column("year")
    assert column_of(Odd, "kind") == Column("str", word=True)
    assert column_of(Odd, "mode") == Column("str", word=True)
    with pytest.raises(TypeError, match="Odd.spans"):
        table_columns(Odd)


# -- the light table and the pandas readers agree ----------------------------------------------------

MESSY = ("\n id , amount,flag ,year\n"
         "a, 1.5 ,yes,2025\n"
         "  ,  ,  ,  \n"
         "b,\"£1,200\",no,2025/26\n"
         "c,12k,maybe,2025.5\n"
         "d,,,\n"
         "e,5%,1\n")


def test_the_table_and_the_frame_read_the_same():
    log_a, log_b = ProblemLog(), ProblemLog()
    table = read_table(MESSY, "t.csv", log_a)
    frame = read_csv_table(MESSY, "t.csv", log_b)
    assert table.columns == ["id", "amount", "flag", "year"] == list(frame.columns)
    assert table.rows == [3, 5, 6, 7, 8] == frame.index.tolist()  # spreadsheet rows: blank ones dropped
    assert table.header_row == 2 == frame.attrs["header_row"]
    assert {c: table[c] for c in table.columns} == {c: frame[c].tolist() for c in frame.columns}
    assert Table.of(frame).cells == table.cells and Table.of(frame).rows == table.rows


def test_cells_and_columns_parse_and_report_alike():
    table = read_table(MESSY, "t.csv", ProblemLog())
    frame = table.to_frame()
    for kwargs in ({}, {"money": True}, {"year": True}, {"integer": True}):
        column = "year" if kwargs.get("year") or kwargs.get("integer") else "amount"
        log_a, log_b = ProblemLog(), ProblemLog()
        cells = number_cells(table[column], table.rows, column, "t.csv", log_a, **kwargs)
        series = number_column(frame, column, "t.csv", log_b, **kwargs)
        assert [str(v) for v in cells] == [str(v) for v in series.tolist()]
        assert [str(p) for p in log_a.problems] == [str(p) for p in log_b.problems]
        assert log_a.problems
    log_a, log_b = ProblemLog(), ProblemLog()
    assert bool_cells(table["flag"], table.rows, "flag", "t.csv", log_a) == [True, False, None, None, True]
    assert bool_column(frame, "flag", "t.csv", log_b).tolist() == [True, False, None, None, True]
    assert [str(p) for p in log_a.problems] == [str(p) for p in log_b.problems]
    assert "'maybe' is not true or false" in str(log_a.problems[0])


def test_amounts_are_read_leniently_with_a_warning():
    log = ProblemLog()
    table = read_table(MESSY, "t.csv", log)
    values = number_cells(table["amount"], table.rows, "amount", "t.csv", log)
    assert values[0] == 1.5 and values[1] == 1200.0 and values[4] == 0.05
    assert values[2] != values[2] and values[3] != values[3]  # NaN: bad, and empty
    messages = [str(p) for p in log.problems]
    assert any("row 5" in m and "money written as" in m for m in messages)
    assert any("row 6" in m and "'12k' is not a number" in m for m in messages)


def test_a_workbook_path_is_told_without_the_workbook_reader():
    from cipopt.io import excel
    from cipopt.io.folder import is_workbook_path

    assert excel.is_workbook_path is is_workbook_path  # one rule, which the CLI uses before loading excel
    assert [is_workbook_path(n) for n in ("a.xlsx", "b.XLSM", "c.xls", "d", "e.csv", "f.yaml", "instances/holby")] \
        == [True, True, True, False, False, False, False]
