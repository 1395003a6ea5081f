"""The workbook form of an instance: round trips with folders, messages that name the cell, the
template, the results workbook of `cipopt solve --excel`, and `cipopt schema`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from cipopt.cli import main
from cipopt.io.excel import instance_workbook, load_workbook_instance, template_workbook
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
    assert f"error: {where} schemes, row 3, column confidence: '1.5' is out of range: expected a number from 0 " \
        "to 1" in messages
    assert any(m.startswith(f"error: {where} schemes, row 5, column category:") and "did you mean 'procurement'" in m
               for m in messages)
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
    assert any(m.startswith(f"error: {where} schemes, row 2, column risk_group: unknown risk group 'zz'")
               and m.endswith("(sheet context risk_groups)") for m in messages), messages
    assert any(m.startswith(f"error: {where} context, row {share_row}, column metric: unknown metric 'fund_awrd'")
               and "a numeric column of sheet schemes or a metric of sheet profiles" in m for m in messages), messages
    assert f"error: {where} scores, row 2, column scheme: unknown scheme 'zzbid': no row of sheet schemes has " \
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
    assert f"warning: {book}, sheet schemes, row 4, column recurrent_saving: money written as '£1,000'" in result.output
    assert "status: optimal" in result.output
    wb = openpyxl.load_workbook(results)
    assert wb.sheetnames == ["summary", "plan", "targets", "years", "reasons"]
    summary = {wb["summary"].cell(r, 1).value: wb["summary"].cell(r, 2).value for r in range(4, 20)}
    assert summary["status"] == "optimal" and summary["independent checker"] == "accepted"
    plan = list(wb["plan"].iter_rows(values_only=True))
    assert plan[0][:3] == ("scheme", "selected", "start_year")
    starts = {row[0]: row[2] for row in plan[1:]}
    assert starts == {"cap": 2025, "small": 2026, "risky": None}
    reasons = {row[0]: row[3] for row in wb["reasons"].iter_rows(min_row=2, values_only=True)}
    assert reasons["risky"].startswith("ineligible under the QIA rules: QIA risk 16 exceeds the maximum 12")
    assert reasons["cap"] == "selected, starting in 2025/26"
    targets = list(wb["targets"].iter_rows(values_only=True))
    assert targets[0] == ("target", "org", "line", "2025/26", "2026/27", "2027/28")
    assert targets[2][:3] == ("underlying", "all", "required") and targets[2][3:] == (100, 200, 300)
    assert wb["targets"].cell(2, 4).number_format.startswith("#,##0")
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
