"""The workbook form of an instance: round trips with folders, messages that name the cell, the
template, the results workbook of `cipopt solve --excel`, and `cipopt schema`."""

from __future__ import annotations

import io
import json
import math
import re
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from cipopt.cli import main
from cipopt.io.excel import (
    ACCOUNTING_FORMAT, NUMBER_FORMAT, instance_workbook, load_workbook_instance, template_workbook,
)
from cipopt.io.export import instance_folder_files
from cipopt.io.load import load_instance
from cipopt.schema.instance import CATEGORIES
from cipopt.schema.problems import InputError, ProblemLog
from instances_factory import instances

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"
HOLBY = ROOT / "instances" / "holby"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def write_files(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


RICH_YAML = """\
format_version: 1
name: Two trusts and a bid panel
money_unit: GBP thousand
years: [2025, 2026, 2027]
discount_rate: 0.035
organisations:
  - {id: north, name: North Acute Trust, sector: acute}
  - {id: south, sector: community}
targets:
  - {id: system, basis: in_year, values: {2025: 50, 2027: 120.5}, hard: false, shortfall_penalty: 2.5}
  - {id: north-underlying, org: north, values: {2026: 40}, hard: true}
limits:
  - {id: capital, metric: capital_cost, values: {2025: 100, 2026: 100, 2027: 0.30000000000000004}}
  - {id: pmo, org: south, metric: pmo_days, sense: ">=", values: {2026: -5}}
quality:
  domains: [safety, effectiveness, experience, access]
  scheme_min: {safety: 0}
  max_risk: 12
  hard_max_risk: 16
  portfolio_min: {experience: -1}
objective: {mode: weighted_score, risk: none}
solver: {time_limit: 30, mip_gap: 0.001, threads: 1}
criteria:
  - {id: benefit, weight: 0.7}
  - {id: deliverability, weight: 0.3, weight_min: 0.1, weight_max: 0.5}
"""
RICH_SCHEMES = """\
id,name,category,org,earliest_start,latest_start,mandatory,confidence,recurrent_saving,safety,qia_risk,qia_approved,pmo_days,lead,stage
a1,"Agency cap, phase 1",agency,north,2025,2026,false,0.9,120,0,4,false,10,Director of Nursing,FBC
b2,Back office merger,back_office,south,,,false,0.75,80.25,-1,15,true,5,,OBC
c3,Community hub,transformation,south,2026,,false,1,0,1,1,false,0,CEO,002
"""
RICH_TABLES = {
    "profiles.csv": "scheme,offset,metric,value\nc3,0,saving,10\nc3,1,recurrent_saving,60.5\nc3,0,pmo_days,30\n",
    "relations.csv": "kind,a,b,lag\nrequires,c3,a1,1\nexcludes,a1,b2,0\n",
    "shares.csv": "scheme,org,saving_share,cost_share\nc3,north,0.6,0\nc3,south,0.4,1\n",
    "scores.csv": "scheme,criterion,score\na1,benefit,70\nb2,benefit,40\nc3,deliverability,55.5\n"
                  "a1,deliverability,20\nb2,deliverability,65\nc3,benefit,10\n",
}


@pytest.fixture
def rich_folder(tmp_path) -> Path:
    return write_files(tmp_path / "rich", {"instance.yaml": RICH_YAML, "schemes.csv": RICH_SCHEMES, **RICH_TABLES})


# -- round trips ------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["tiny", "holby", "rich"])
def test_folder_to_workbook_to_folder_gives_the_same_instance(source, tmp_path, rich_folder):
    folder = {"tiny": TINY, "holby": HOLBY, "rich": rich_folder}[source]
    book, back = tmp_path / "book.xlsx", tmp_path / "back"
    assert run("convert", folder, "-o", book).exit_code == 0
    result = run("convert", book, "-o", back)
    assert result.exit_code == 0, result.output
    original = load_instance(folder)
    from_book = load_workbook_instance(book)
    again = load_instance(back)
    assert from_book == original
    assert again == original
    assert again.sha256() == from_book.sha256() == original.sha256()
    assert "warning" not in result.output


def test_rich_instance_keeps_every_part(rich_folder, tmp_path):
    book = tmp_path / "rich.xlsx"
    book.write_bytes(instance_workbook(load_instance(rich_folder)))
    inst = load_workbook_instance(book)
    c3 = next(s for s in inst.schemes if s.id == "c3")
    assert c3.labels == {"lead": "CEO", "stage": "002"}  # text stays text, leading zeros kept
    assert c3.metrics == {"pmo_days": 0.0}
    assert [r.kind for r in inst.relations] == ["requires", "excludes"]
    assert {(s.org, s.saving_share) for s in inst.shares} == {("north", 0.6), ("south", 0.4)}
    assert inst.limits[0].values[2027] == 0.30000000000000004  # beyond Excel's 15 digits, exact
    assert inst.targets[1].hard and inst.targets[1].org == "north"
    assert inst.criteria[1].weight_max == 0.5 and inst.solver.threads == 1
    assert inst.organisations[1].name is None and inst.organisations[1].sector == "community"


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@pytest.mark.slow
@given(instances(max_schemes=4, modes=("net_present_value", "savings", "weighted_score")))
def test_random_instances_read_the_same_from_a_workbook_as_from_a_folder(tmp_path_factory, instance):
    tmp = tmp_path_factory.mktemp("random")
    from_folder, folder_errors = _read(load_instance, write_files(tmp / "folder", instance_folder_files(instance)))
    (tmp / "book.xlsx").write_bytes(instance_workbook(instance))
    from_book, book_errors = _read(load_workbook_instance, tmp / "book.xlsx")
    assert book_errors == folder_errors  # the same verdict, in the same words, on either form
    assert from_book == from_folder
    if from_book is not None:  # and the form read is a fixed point: written again, it reads the same
        (tmp / "again.xlsx").write_bytes(instance_workbook(from_book))
        assert load_workbook_instance(tmp / "again.xlsx") == from_book


def _read(loader, path):
    try:
        return loader(path), []
    except InputError as exc:
        return None, sorted((p.row, p.column, p.message) for p in exc.errors)


# -- messages name the workbook, sheet, row and column ------------------------------------------

@pytest.fixture(scope="module")
def holby_book_bytes() -> bytes:
    return instance_workbook(load_instance(HOLBY))


@pytest.fixture
def holby_book(tmp_path, holby_book_bytes) -> Path:
    book = tmp_path / "holby.xlsx"
    book.write_bytes(holby_book_bytes)
    return book


def _row_of(ws, first_cell: str) -> int:
    return next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == first_cell)


def _refusal_messages(book: Path) -> list[str]:
    """Every problem of a workbook that must be refused, as printed."""
    log = ProblemLog()
    with pytest.raises(InputError):
        load_workbook_instance(book, log)
    return [str(p) for p in log.problems]


def test_bad_cells_are_reported_with_workbook_sheet_row_and_column(holby_book):
    book = holby_book
    wb = openpyxl.load_workbook(book)
    schemes = wb["schemes"]
    header = [c.value for c in schemes[1]]
    schemes.cell(row=3, column=header.index("confidence") + 1, value=1.5)
    schemes.cell(row=5, column=header.index("category") + 1, value="procurment")
    ctx = wb["context"]
    target_row = _row_of(ctx, "underlying")
    years_header = [c.value for c in ctx[target_row - 1]]
    ctx.cell(row=target_row, column=years_header.index(2026) + 1, value="lots")
    ctx.cell(row=_row_of(ctx, "discount_rate"), column=2, value=1.5)
    wb.create_sheet("relation")
    wb.save(book)
    messages = _refusal_messages(book)
    where = f"{book}, sheet"
    ids = {row: schemes.cell(row=row, column=header.index("id") + 1).value for row in (3, 5)}  # named after the row
    assert f"error: {where} schemes, row 3 ({ids[3]}), column confidence: '1.5' is out of range: expected a number " \
        "from 0 to 1" in messages
    assert any(m.startswith(f"error: {where} schemes, row 5 ({ids[5]}), column category:")
               and "did you mean 'procurement'" in m for m in messages)
    assert any(m.startswith(f"error: {where} context, row {target_row}, column 2026:") and "'lots'" in m
               for m in messages), messages
    assert any(m.startswith(f"error: {where} context, row {_row_of(ctx, 'discount_rate')}, column value:")
               for m in messages), messages
    assert any("sheet 'relation' is not a sheet of the instance format" in m and "did you mean 'relations'" in m
               for m in messages)


def test_new_features_problems_name_sheets_and_cells_not_files(tmp_path):
    """Risk groups, risk columns, fair shares and scores in a workbook: located to sheet, row and
    column, and their words name sheets, not instance.yaml or a .csv file."""
    book = tmp_path / "fund.xlsx"
    book.write_bytes(instance_workbook(load_instance(ROOT / "instances" / "fund")))
    wb = openpyxl.load_workbook(book)
    schemes, ctx, scores = wb["schemes"], wb["context"], wb["scores"]
    header = [c.value for c in schemes[1]]
    schemes.cell(2, header.index("risk_group") + 1, "zz")
    share_row = _row_of(ctx, "mental-health-share")
    share_header = [c.value for c in ctx[share_row - 1]]
    ctx.cell(share_row, share_header.index("metric") + 1, "fund_awrd")
    scores.cell(2, 1, "zzbid")
    wb.save(book)
    messages = _refusal_messages(book)
    where = f"{book}, sheet"
    first = schemes.cell(2, header.index("id") + 1).value  # messages name the row's scheme
    assert any(m.startswith(f"error: {where} schemes, row 2 ({first}), column risk_group: unknown risk group 'zz'")
               and m.endswith("(sheet context risk_groups)") for m in messages), messages
    assert any(m.startswith(f"error: {where} context, row {share_row}, column metric: unknown metric 'fund_awrd'")
               and "a numeric column of sheet schemes or a metric of sheet profiles" in m for m in messages), messages
    assert f"error: {where} scores, row 2 (zzbid), column scheme: unknown scheme 'zzbid': no row of sheet schemes has " \
        "this id" in messages
    unscored = [m for m in messages if "has no score for" in m]
    assert unscored and all(m.startswith(f"warning: {where} schemes, row ") and m.endswith("(no row of sheet scores)")
                            for m in unscored), messages
    assert not any("instance.yaml" in m or ".csv" in m for m in messages), messages


def test_solve_on_a_broken_workbook_exits_2_with_one_line_per_problem(holby_book):
    book = holby_book
    wb = openpyxl.load_workbook(book)
    wb.remove(wb["schemes"])
    wb.save(book)
    result = run("solve", book, "--no-store")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"error: {book}: has no sheet named 'schemes'" in result.output


@pytest.mark.parametrize("content, words", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old-style or password-protected"),
    (b"id,name\na,b\n", "is not an Excel workbook"),
    (b"PK\x03\x04 this is not really a zip", "is not a readable Excel workbook"),
])
def test_files_that_are_not_workbooks_are_refused_in_words(tmp_path, content, words):
    path = tmp_path / "plan.xlsx"
    path.write_bytes(content)
    result = run("validate", path)
    assert result.exit_code == 2
    assert words in result.output and "Traceback" not in result.output


def test_an_xls_workbook_is_asked_to_be_saved_as_xlsx(tmp_path):
    path = tmp_path / "plan.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    result = run("validate", path)
    assert result.exit_code == 2 and "save it as an Excel Workbook (.xlsx)" in result.output


# -- the template -----------------------------------------------------------------------------

def _validations(ws) -> dict[str, str]:
    """Cell range -> the allowed values of each drop-down list of a sheet."""
    return {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}


def test_template_is_annotated_with_drop_downs_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "plan.xlsx"
    result = run("template", out)
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["README", "context", "schemes", "profiles", "relations", "shares", "scores"]
    schemes = wb["schemes"]
    header = [c.value for c in schemes[1]]
    assert header[:4] == ["id", "name", "category", "org"]
    assert "Probability of delivery" in schemes.cell(1, header.index("confidence") + 1).comment.text
    lists = _validations(schemes)
    letter = openpyxl.utils.get_column_letter
    assert lists[f"{letter(header.index('category') + 1)}2:{letter(header.index('category') + 1)}500"] \
        == '"' + ",".join(CATEGORIES) + '"'
    for column in ("mandatory", "qia_approved"):
        col = letter(header.index(column) + 1)
        assert lists[f"{col}2:{col}500"] == '"true,false"'
    assert '"requires,excludes,together,precedes"' in _validations(wb["relations"]).values()
    context = _validations(wb["context"]).values()
    assert '"recurrent,in_year,full_year_effect"' in context and '"<=,>=,=="' in context and '"true,false"' in context
    assert '"net_present_value,savings,weighted_score"' in context

    again = run("template", out)
    assert again.exit_code == 2 and "--force" in again.output
    assert run("template", out, "--force").exit_code == 0
    assert run("template", tmp_path / "plan.csv").exit_code == 2


def _fill_template(path: Path) -> None:
    """What a finance director types into the blank template: a small plan."""
    path.write_bytes(template_workbook())
    wb = openpyxl.load_workbook(path)
    ctx = wb["context"]
    ctx.cell(_row_of(ctx, "name"), 2, "Tiny trust from the template")
    ctx.cell(_row_of(ctx, "years"), 2, "2025, 2026, 2027")
    ctx.cell(_row_of(ctx, "quality.max_risk"), 2, 12)
    org = _row_of(ctx, "organisations") + 2
    ctx.cell(org, 1, "tiny")
    ctx.cell(org, 2, "Tiny NHS Trust")
    target_header = _row_of(ctx, "targets") + 1
    ctx.cell(target_header, 6, 2025)  # make the example year columns the plan's years
    ctx.cell(target_header, 7, 2026)
    ctx.cell(target_header, 8, 2027)
    for c in range(9, 11):
        ctx.cell(target_header, c, None)
    for c, value in enumerate(["underlying", None, "recurrent", "false", 1, 100, 200, 300], start=1):
        ctx.cell(target_header + 1, c, value)
    schemes = wb["schemes"]
    header = [c.value for c in schemes[1]]
    rows = [
        {"id": "cap", "category": "agency", "recurrent_saving": 120, "first_year_fraction": 1},
        {"id": "risky", "category": "workforce", "recurrent_saving": 500, "qia_risk": 16},
        {"id": "small", "category": "procurement", "recurrent_saving": "£1,000", "earliest_start": "2026/27"},
    ]
    for r, row in enumerate(rows, start=2):
        for key, value in row.items():
            schemes.cell(r, header.index(key) + 1, value)
    wb.save(path)


def test_a_filled_template_solves_to_a_results_workbook(tmp_path):
    book, results = tmp_path / "plan.xlsx", tmp_path / "results.xlsx"
    _fill_template(book)
    result = run("solve", book, "--excel", results, "--no-store")
    assert result.exit_code == 0, result.output
    # lenient readings are reported against their cell
    sheet = openpyxl.load_workbook(book)["schemes"]
    scheme = sheet.cell(4, [c.value for c in sheet[1]].index("id") + 1).value
    assert f"warning: {book}, sheet schemes, row 4 ({scheme}), column recurrent_saving: money written as '£1,000'" \
        in result.output
    assert "status: optimal" in result.output
    wb = openpyxl.load_workbook(results)
    assert wb.sheetnames == ["summary", "plan", "targets", "years", "reasons"]
    summary = {wb["summary"].cell(r, 1).value: wb["summary"].cell(r, 2).value for r in range(4, 20)}
    assert summary["status"] == "optimal" and summary["independent checker"] == "accepted"
    plan = list(wb["plan"].iter_rows(values_only=True))
    assert plan[0][:3] == ("scheme", "selected", "start_year")
    starts = {row[0]: row[2] for row in plan[1:]}
    assert starts == {"cap": "2025/26", "small": "2026/27", "risky": None}  # years as on every sheet
    reasons = {row[0]: row[3] for row in wb["reasons"].iter_rows(min_row=2, values_only=True)}
    assert reasons["risky"].startswith("ineligible under the QIA rules: QIA risk 16 exceeds the maximum 12")
    assert reasons["cap"] == "selected, starting in 2025/26"
    targets = list(wb["targets"].iter_rows(values_only=True))
    assert targets[0] == ("target", "org", "line", "2025/26 (£000)", "2026/27 (£000)", "2027/28 (£000)")
    assert targets[2][:3] == ("underlying", "all", "required") and targets[2][3:] == (100, 200, 300)
    assert wb["targets"].cell(2, 4).number_format == ACCOUNTING_FORMAT
    assert wb["years"].freeze_panes == "A2"

    again = run("solve", book, "--excel", results, "--no-store")
    assert again.exit_code == 2 and "--force" in again.output
    assert run("solve", book, "--excel", tmp_path / "r.csv", "--no-store").exit_code == 2


def test_results_workbook_of_an_infeasible_solve_has_the_summary(tmp_path):
    inst = tmp_path / "inst"
    shutil.copytree(TINY, inst)
    text = (inst / "instance.yaml").read_text().replace("hard: false", "hard: true")
    (inst / "instance.yaml").write_text(text.replace("{2025: 100, 2026: 200, 2027: 300}", "{2025: 5000}"))
    results = tmp_path / "r.xlsx"
    result = run("solve", inst, "--excel", results, "--no-store")
    assert result.exit_code == 3
    wb = openpyxl.load_workbook(results)
    assert wb.sheetnames == ["summary", "reasons"]
    assert wb["summary"]["B4"].value == "infeasible"


# -- the results workbook a finance team keeps ---------------------------------------------------

def _fy(year) -> str:
    return f"{int(year)}/{(int(year) + 1) % 100:02d}"


@pytest.fixture(scope="module")
def holby_results(tmp_path_factory):
    """Holby solved once, with its CSV outputs (the reference) and its results workbook."""
    tmp = tmp_path_factory.mktemp("results")
    book = tmp / "holby.xlsx"
    result = run("solve", HOLBY, "--out", tmp / "out", "--excel", book, "--no-store")
    assert result.exit_code == 0, result.output
    years = pd.read_csv(tmp / "out" / "years.csv")
    summary = json.loads((tmp / "out" / "summary.json").read_text())
    return book, years, summary


def _rows(ws):
    return list(ws.iter_rows(values_only=True))


def test_every_results_sheet_is_a_table_under_a_frozen_header_and_prints_on_a4(holby_results):
    book, _, _ = holby_results
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames == ["summary", "plan", "targets", "years", "bottom line", "reasons"]
    for ws in wb:
        (table,) = ws.tables.values()
        header_row = 3 if ws.title == "summary" else 1
        last_row = max(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value is not None)
        last_col = max(c for c in range(1, ws.max_column + 1) if ws.cell(header_row, c).value is not None)
        assert table.ref == f"A{header_row}:{openpyxl.utils.get_column_letter(last_col)}{last_row}", ws.title
        headers = [ws.cell(header_row, c).value for c in range(1, last_col + 1)]
        assert all(isinstance(h, str) for h in headers) and len(set(headers)) == len(headers)  # Excel's rule
        assert ws.freeze_panes == f"A{header_row + 1}"
        assert ws.print_title_rows == f"${header_row}:${header_row}"
        assert int(ws.page_setup.paperSize) == 9  # A4
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.oddFooter.right.text == "page &P of &N"
        assert ws.auto_filter.ref is None  # the table's own filter, not a second one


def test_money_is_in_accounting_format_with_its_unit_and_years_read_2025_26_everywhere(holby_results):
    book, years, _ = holby_results
    wb = openpyxl.load_workbook(book)
    # the plan, reasons and years sheets label years as the targets sheet does
    for title, column in (("plan", "start_year"), ("reasons", "start_year"), ("years", "year")):
        rows = _rows(wb[title])
        index = rows[0].index(column)
        labels = {r[index] for r in rows[1:]} - {None}
        assert labels and all(re.fullmatch(r"\d{4}/\d{2}", str(v)) for v in labels), title
    holby = load_instance(HOLBY)
    assert {r[0] for r in _rows(wb["years"])[1:]} == {_fy(y) for y in holby.years}
    for title in ("plan", "reasons"):  # in or out, said the same way on both sheets
        rows = _rows(wb[title])
        assert {r[rows[0].index("selected")] for r in rows[1:]} == {"yes", "no"}

    # targets: header years with the unit; every figure the years.csv one, in accounting format
    ws = wb["targets"]
    rows = _rows(ws)
    assert rows[0][3:] == tuple(f"{_fy(y)} (£000)" for y in holby.years)
    targets = years[years["measure"].str.startswith("target:")]
    for r, row in enumerate(rows[1:], start=2):
        target, org, line = row[:3]
        for c, y in enumerate(holby.years, start=4):
            ref = targets[(targets["measure"] == f"target:{target}") & (targets["org"] == org) & (targets["year"] == y)]
            column = {"achieved": "value", "required": "bound", "shortfall": "shortfall"}[line]
            assert ws.cell(r, c).value == pytest.approx(float(ref[column].iloc[0]))
            assert ws.cell(r, c).number_format == ACCOUNTING_FORMAT

    # years: each row's unit, recomputed from the measure; money in the accounting format
    ws = wb["years"]
    rows = _rows(ws)
    header = rows[0]
    assert header == ("year", "org", "measure", "unit", "value", "sense", "bound", "shortfall")
    money = {"saving", "nonrecurrent_saving", "one_off_cost", "capital_cost", "running_cost",
             "double_running_cost", "recurrent_net_saving", "in_year_net_saving"}
    money_limits = {lim.id for lim in holby.limits if lim.metric in money}
    assert money_limits and money_limits != {lim.id for lim in holby.limits}  # both kinds are tested
    assert len(rows) - 1 == len(years)
    for r, (row, ref) in enumerate(zip(rows[1:], years.itertuples()), start=2):
        assert (row[0], row[1], row[2]) == (_fy(ref.year), ref.org, ref.measure)
        kind, _, name = ref.measure.partition(":")
        is_money = ref.measure in money or kind == "target" or (kind == "limit" and name in money_limits)
        expected_unit = "£000" if is_money else "QIA score" if kind == "quality" else \
            next((lim.metric for lim in holby.limits if lim.id == name), None) if kind == "limit" else ref.measure
        assert row[3] == expected_unit, ref.measure
        assert row[4] == pytest.approx(ref.value)
        assert ws.cell(r, 5).number_format == (ACCOUNTING_FORMAT if is_money else NUMBER_FORMAT)


def test_the_objective_is_never_labelled_net_present_value(holby_results):
    book, _, summary = holby_results
    wb = openpyxl.load_workbook(book)
    items = {row[0]: row[1] for row in _rows(wb["summary"])[3:] if row[0]}
    assert items["objective (£000)"] == pytest.approx(summary["objective"])
    assert items["money unit"] == "GBP thousand (£000)"
    assert items["years"] == "2025/26 to 2029/30"
    for key, words in (("net_present_value", "net present value"), ("shortfall_penalty", "shortfall penalty")):
        labelled = [label for label in items if words in str(label)]
        if key in summary:  # the figures of issue 14, each under its own name
            assert labelled == [f"{words} (£000)"] and items[labelled[0]] == pytest.approx(summary[key])
        else:
            assert labelled == []


def test_each_target_has_a_native_chart_of_savings_against_the_requirement(holby_results):
    book, years, _ = holby_results
    wb = openpyxl.load_workbook(book)
    ws = wb["targets"]
    rows = _rows(ws)
    holby = load_instance(HOLBY)
    charts = ws._charts
    assert len(charts) == len(holby.targets) == (len(rows) - 1) // 3

    def cells(formula: str) -> list:
        sheet, _, area = formula.partition("!")
        assert sheet.strip("'") == "targets"
        return [c.value for row in ws[area.replace("$", "")] for c in row]

    for chart, target in zip(charts, holby.targets):
        assert chart.title.tx.rich.p[0].r[0].t.startswith(f"{target.id} (")
        assert chart.y_axis.title.tx.rich.p[0].r[0].t == "£000"
        bars, lines = chart.series, [s for c in chart._charts[1:] for s in c.series]
        assert [s.tx.v for s in bars] == ["achieved"] and [s.tx.v for s in lines] == ["required"]
        assert cells(bars[0].cat.numRef.f if bars[0].cat.numRef else bars[0].cat.strRef.f) == \
            [f"{_fy(y)} (£000)" for y in holby.years]
        ref = years[years["measure"] == f"target:{target.id}"].sort_values("year")
        assert cells(bars[0].val.numRef.f) == pytest.approx(list(ref["value"]))
        assert cells(lines[0].val.numRef.f) == pytest.approx(list(ref["bound"]))


def test_a_money_unit_in_millions_is_written_so():
    from cipopt.io.excel import money_label

    assert money_label("GBP thousand") == "£000"
    assert money_label("GBP  Million") == "£m"
    assert money_label("EUR thousand") == "EUR thousand"  # what cipopt cannot name is shown as given


def test_libreoffice_opens_the_results_workbook_and_prints_it_to_pdf(holby_results, tmp_path):
    import subprocess

    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui (.ci/run does)")
    book, years, _ = holby_results
    profile = f"-env:UserInstallation=file://{tmp_path / 'profile'}"

    def convert(to: str) -> None:
        done = subprocess.run([soffice, "--headless", profile, "--convert-to", to, "--outdir", str(tmp_path), str(book)],
                              capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr

    convert("pdf")
    pdf = (tmp_path / "holby.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 5  # every sheet printed
    # the targets sheet as LibreOffice shows it: thousands separators, a dash for zero, brackets
    # for negatives (cells saved "as shown": CSV filter token 9; token 12 -1 writes every sheet)
    convert("csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1")
    shown = pd.read_csv(tmp_path / "holby-targets.csv", dtype=str, keep_default_na=False)
    holby = load_instance(HOLBY)
    targets = years[years["measure"].str.startswith("target:")]
    for row in shown.itertuples(index=False):
        target, org, line = row[:3]
        for y, text in zip(holby.years, row[3:]):
            ref = targets[(targets["measure"] == f"target:{target}") & (targets["year"] == y)]
            value = float(ref[{"achieved": "value", "required": "bound", "shortfall": "shortfall"}[line]].iloc[0])
            shown_whole = math.floor(abs(value) + 0.5)  # spreadsheets round halves away from zero
            expected = "-" if value == 0 else f"({shown_whole:,})" if value < 0 else f"{shown_whole:,}"
            assert text.strip() == expected, (target, line, y)
    assert "(2,020)" not in shown.to_string() and "2,020" in shown.to_string()  # the 2028/29 gap reads true
    quality = pd.read_csv(tmp_path / "holby-years.csv", dtype=str, keep_default_na=False)
    negative = years[years["value"] < 0]
    assert len(negative)  # Holby reduces nursing WTE: a negative figure to show in brackets
    for ref in negative.itertuples():
        (text,) = quality[(quality["year"] == _fy(ref.year)) & (quality["org"] == ref.org)
                          & (quality["measure"] == ref.measure)]["value"]
        assert text.strip().startswith("(") and text.strip().endswith(")")


def test_the_instance_workbook_prints_on_a4_and_shows_its_years_as_2025_26(tmp_path):
    wb = openpyxl.load_workbook(io.BytesIO(instance_workbook(load_instance(TINY))))
    for ws in wb:
        if ws.title == "README":
            continue
        assert int(ws.page_setup.paperSize) == 9  # A4 and ws.sheet_properties.pageSetUpPr.fitToPage
    ctx = wb["context"]
    years = [c for row in ctx.iter_rows() for c in row if isinstance(c.value, int) and 2000 < c.value < 2100
             and c.font.bold]
    assert years and all(c.number_format == f'0"/{(c.value + 1) % 100:02d}"' for c in years)


# -- the JSON Schema ----------------------------------------------------------------------------

def test_schema_describes_the_instance_for_front_ends(tmp_path):
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["$schema"].endswith("2020-12/schema")
    assert {"years", "schemes", "targets", "limits", "quality"} <= set(schema["properties"])
    assert schema["required"] == ["years"]
    target = schema["$defs"]["Target"]["properties"]
    assert target["basis"]["enum"] == ["recurrent", "in_year", "full_year_effect"]  # docs/finance.md extension
    assert "whole system" in target["org"]["description"]  # the model's field docstring
    scheme = schema["$defs"]["Scheme"]["properties"]
    assert scheme["confidence"]["maximum"] == 1 and scheme["category"]["default"] == "other"
    out = tmp_path / "instance.schema.json"
    assert run("schema", "-o", out).exit_code == 0
    assert json.loads(out.read_text()) == schema
    assert run("schema", "-o", out).exit_code == 2


def test_the_template_has_a_risk_groups_block_for_its_risk_group_column(tmp_path):
    """The blank form has the schemes' risk_group column, so it must offer the block defining the groups."""
    book = tmp_path / "plan.xlsx"
    _fill_template(book)
    wb = openpyxl.load_workbook(book)
    ctx = wb["context"]
    header = _row_of(ctx, "risk_groups") + 1
    assert [ctx.cell(header, c).value for c in (1, 2)] == ["id", "correlation"]
    ctx.cell(header + 1, 1, "workforce")
    ctx.cell(header + 1, 2, 0.5)
    schemes = wb["schemes"]
    columns = [c.value for c in schemes[1]]
    schemes.cell(2, columns.index("risk_group") + 1, "workforce")
    wb.save(book)
    inst = load_workbook_instance(book)
    assert [(g.id, g.correlation) for g in inst.risk_groups] == [("workforce", 0.5)]
    assert inst.schemes[0].risk_group == "workforce"


def test_a_header_below_blank_rows_is_named_at_its_own_row(holby_book):
    """Blank rows above a sheet's header count as spreadsheet rows: a header problem names the row
    the header is on, as for a CSV file."""
    wb = openpyxl.load_workbook(holby_book)
    schemes = wb["schemes"]
    schemes.insert_rows(1, amount=2)
    assert schemes.cell(row=3, column=1).value == "id"
    schemes.cell(row=3, column=1, value="ident")
    wb.save(holby_book)
    messages = _refusal_messages(holby_book)
    assert any(m.startswith(f"error: {holby_book}, sheet schemes, row 3") and "'id'" in m for m in messages), messages
    assert not any(", sheet schemes, row 1" in m for m in messages), messages
