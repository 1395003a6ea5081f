"""Hostile and silently-wrong input: each case is a clear located refusal (exit 2, nothing
written), never a wrong plan, a hang, or a file's contents in a message. Cases from the attack
on cipopt of issue 15; each fails on the code before it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cipopt.cli import main
from cipopt.io.load import load_instance
from cipopt.schema.problems import InputError
from test_input_errors import BASE, Expect, append, assert_reported, edit, load_with_log, refuse, write_instance

S, Y, R = "schemes.csv", "instance.yaml", "relations.csv"


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


# -- near misses of standard columns ---------------------------------------------------------------

@pytest.mark.parametrize("typo, standard", [("safty", "safety"), ("recurent_saving", "recurrent_saving"),
                                             ("Confidance", "confidence")])
def test_a_near_miss_of_a_standard_column_is_an_error(tmp_path, typo, standard):
    header = BASE[S].splitlines()[0]
    folder = write_instance(tmp_path / "inst", {S: edit(header, header.replace(standard, typo, 1))})
    error = refuse(folder)
    assert_reported(error.problems, Expect(S, (f"did you mean '{standard}'", "misspelt"), row=1))


def test_with_safty_a_barred_scheme_does_not_become_eligible(tmp_path):
    """pathology is barred by scheme_min safety 0 at -1; with the column misspelt it would read 0."""
    barred = edit("pathology,Pathology network,pathology,holby,,2026,false,0.6,150,0,100,0,",
                  "pathology,Pathology network,pathology,holby,,2026,false,0.6,150,0,100,-1,")
    inst, _ = load_with_log(write_instance(tmp_path / "ok", {S: barred}))
    assert inst.schemes[3].safety == -1
    folder = write_instance(tmp_path / "typo", {S: lambda t: barred(t).replace(",safety,", ",safty,")})
    assert cli("validate", folder).exit_code == 2


def test_custom_columns_that_are_not_near_misses_stay_allowed(tmp_path):
    folder = write_instance(tmp_path / "inst", {S: lambda t: t.replace(",lead\n", ",lead,division\n", 1)
                            .replace(",Nursing\n", ",Nursing,medicine\n")})
    inst, log = load_with_log(folder)
    assert inst.schemes[0].labels == {"lead": "Nursing", "division": "medicine"}
    assert inst.schemes[0].metrics["pmo_days"] == 5


# -- money written as a percentage -----------------------------------------------------------------

def test_a_percentage_in_a_money_column_is_refused(tmp_path):
    error = refuse(write_instance(tmp_path / "inst", {S: edit(",0.9,100,10,", ",0.9,5%,10,")}))
    assert_reported(error.problems, Expect(S, ("'5%'", "percentage", "money"), row=2, column="recurrent_saving"))
    inst, log = load_with_log(write_instance(tmp_path / "frac", {S: edit(",0.9,100,10,", ",90%,100,10,")}))
    assert inst.schemes[0].confidence == 0.9  # a fraction may still be written as a percentage


# -- links, devices, FIFOs -------------------------------------------------------------------------

def test_a_dangling_relations_link_is_an_error_not_an_absent_table(tmp_path):
    folder = write_instance(tmp_path / "inst", {R: None})
    os.symlink(folder / "gone.csv", folder / R)
    assert_reported(refuse(folder).problems, Expect(R, ("link to a file that does not exist",)))


def test_a_looping_relations_link_is_an_error(tmp_path):
    folder = write_instance(tmp_path / "inst", {R: None})
    os.symlink(folder / "loop.csv", folder / R)
    os.symlink(folder / R, folder / "loop.csv")
    assert_reported(refuse(folder).problems, Expect(R, ("loops",)))


def test_a_fifo_is_refused_without_blocking(tmp_path):
    folder = write_instance(tmp_path / "inst", {R: None})
    os.mkfifo(folder / R)
    assert_reported(refuse(folder).problems, Expect(R, ("named pipe", "only regular files are read")))


def test_a_device_is_refused_even_when_links_outside_are_allowed(tmp_path):
    folder = write_instance(tmp_path / "inst", {"profiles.csv": None})
    os.symlink("/dev/zero", folder / "profiles.csv")
    assert_reported(refuse(folder).problems, Expect("profiles.csv", ("outside the instance folder",)))
    with pytest.raises(InputError) as info:
        load_instance(folder, allow_outside_links=True)
    assert_reported(info.value.problems, Expect("profiles.csv", ("is a device", "only regular files")))


def test_a_link_outside_the_folder_is_refused_unless_allowed_and_its_content_never_shown(tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\nkind,a,b\n")
    folder = write_instance(tmp_path / "inst", {R: None})
    os.symlink(secret, folder / R)
    result = cli("validate", folder)
    assert result.exit_code == 2
    assert "outside the instance folder" in result.output and "--allow-outside-links" in result.output
    assert "root:" not in result.output and "/bin/bash" not in result.output
    (folder / R).unlink()
    good = tmp_path / "relations-elsewhere.csv"
    good.write_text(BASE[R])
    os.symlink(good, folder / R)
    assert cli("validate", folder).exit_code == 2
    allowed = cli("--allow-outside-links", "validate", folder)
    assert allowed.exit_code == 0, allowed.output


def test_a_link_inside_the_folder_is_read(tmp_path):
    folder = write_instance(tmp_path / "inst", {R: None})
    (folder / "sub").mkdir()
    (folder / "sub" / "rel.csv").write_text(BASE[R])
    os.symlink(folder / "sub" / "rel.csv", folder / R)
    inst, _ = load_with_log(folder)
    assert len(inst.relations) == 2


def test_a_file_above_the_size_cap_is_refused_before_it_is_read(tmp_path, monkeypatch):
    import cipopt.io.text as text

    folder = write_instance(tmp_path / "inst")
    monkeypatch.setattr(text, "MAX_FILE_BYTES", 100)
    monkeypatch.setattr(text.read_text, "__defaults__", (100,))
    opened = []
    real = Path.open
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: opened.append(self.name) or real(self, *a, **k))
    error = refuse(folder)
    assert_reported(error.problems, Expect(S, ("above the cap", "MiB")))
    assert S not in opened


# -- YAML, sizes and magnitudes --------------------------------------------------------------------

BOMB = "\n".join(['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'] + [
    f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]) + "\n"


def test_a_yaml_alias_bomb_in_a_scenario_is_refused_at_once(tmp_path):
    import time

    folder = write_instance(tmp_path / "inst")
    (folder / "scenarios").mkdir()
    (folder / "scenarios" / "bomb.yaml").write_text("description: x\ncontext:\n  name: x\n" +
                                                    BOMB.replace("a0:", "  a0:").replace("\na", "\n  a"))
    started = time.monotonic()
    result = cli("whatif", folder, "--scenario", "bomb")
    assert time.monotonic() - started < 30
    assert result.exit_code == 2 and "aliases expand to more than" in result.output, result.output
    assert len(BOMB) < 1500


def test_a_yaml_alias_bomb_in_instance_yaml_is_refused(tmp_path):
    error = refuse(write_instance(tmp_path / "inst", {Y: append(BOMB)}))
    assert_reported(error.problems, Expect(Y, ("aliases expand to more than 200,000 values",)))


def test_plain_yaml_aliases_still_load(tmp_path):
    folder = write_instance(tmp_path / "inst", {Y: edit("values: {2025: 100, 2026: 200, 2027: 300}",
                                                        "values: &v {2025: 100, 2026: 200, 2027: 300}")})
    inst, _ = load_with_log(folder)
    assert inst.targets[0].values[2027] == 300


def test_too_many_years_is_refused_before_anything_is_built(tmp_path):
    error = refuse(write_instance(tmp_path / "inst", {Y: edit("years: [2025, 2026, 2027]",
                                                              f"years: {list(range(2025, 22025))}")}))
    assert_reported(error.problems, Expect(Y, ("20,000 plan years", "cap of 100"), key="years"))


@pytest.mark.parametrize("changes, expected", [
    ({Y: edit("2027: 300", "2027: 1e20")}, Expect(Y, ("1e+20", "too large", "1e+15"), key="targets[0].values.2027")),
    ({S: edit(",0.9,100,10,", ",0.9,1e300,10,")}, Expect(S, ("1e+300", "too large"), row=2, column="recurrent_saving")),
    ({S: edit(",0.9,100,10,0,0,4,5,", ",0.9,100,10,0,0,4,5e16,")}, Expect(S, ("too large",), row=2, column="pmo_days")),
    ({"profiles.csv": append("roster,1,saving,-2e15\n")}, Expect("profiles.csv", ("too large",), row=5)),
])
def test_values_the_solver_would_refuse_are_input_errors(tmp_path, changes, expected):
    folder = write_instance(tmp_path / "inst", changes)
    assert_reported(refuse(folder).problems, expected)
    result = cli("solve", folder, "--out", tmp_path / "out")
    assert result.exit_code == 2 and not (tmp_path / "out").exists()


def test_values_just_inside_the_range_load(tmp_path):
    folder = write_instance(tmp_path / "inst", {Y: edit("2027: 300", "2027: 9e14")})
    inst, _ = load_with_log(folder)
    assert inst.targets[0].values[2027] == 9e14


def test_a_table_above_the_row_cap_is_refused(tmp_path, monkeypatch):
    import cipopt.io.text as text

    monkeypatch.setattr(text, "MAX_ROWS", 3)
    error = refuse(write_instance(tmp_path / "inst"))
    assert_reported(error.problems, Expect(S, ("5 lines", "cap of 3 rows")))


# -- command-line option values --------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("solve", "{inst}", "--time-limit", "nan"), ("solve", "{inst}", "--time-limit", "inf"),
    ("solve", "{inst}", "--gap", "inf"), ("solve", "{inst}", "--gap", "nan"), ("solve", "{inst}", "--gap", "1.3"),
    ("solve", "{inst}", "--time-limit", "-1"),
    ("alternatives", "{inst}", "--within", "nan"), ("alternatives", "{inst}", "--within", "inf"),
    ("alternatives", "{inst}", "--seed", str(2 ** 40)),
    ("frontier", "{inst}", "--vary", "capital", "--from", "nan"),
    ("frontier", "{inst}", "--vary", "capital", "--to", "-inf"),
    ("rank", "{inst}", "--time-limit", "nan"),
    ("explain", "{inst}", "--gap", "inf"),
])
def test_non_finite_and_out_of_range_option_values_are_refused(tmp_path, args):
    folder = write_instance(tmp_path / "inst")
    result = cli(*[a.format(inst=folder) for a in args], "--out", tmp_path / "out") if args[0] == "solve" else \
        cli(*[a.format(inst=folder) for a in args])
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output and not (tmp_path / "out").exists()


def test_solver_threads_are_capped_at_the_cores(tmp_path):
    from cipopt.pipeline import SolveOptions

    inst, _ = load_with_log(write_instance(tmp_path / "inst", {Y: append("solver: {threads: 100000}\n")}))
    assert SolveOptions().resolve(inst)[2] == os.cpu_count()
    assert SolveOptions(threads=1).resolve(inst)[2] == 1


# -- workbooks -------------------------------------------------------------------------------------

SCHEMES_SHEET = "xl/worksheets/sheet3.xml"  # README, context, schemes, ... as instance_workbook writes them


def _book(tmp_path: Path, change=None, name: str = "book.xlsx") -> Path:
    """The base instance as a workbook, with `change(part name, bytes) -> bytes` applied to its parts."""
    import io
    import zipfile

    from cipopt.io.excel import instance_workbook

    inst, _ = load_with_log(write_instance(tmp_path / f"src-{name}"))
    data = instance_workbook(inst)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        assert b'<sheet name="schemes" sheetId="3"' in src.read("xl/workbook.xml")
        for info in src.infolist():
            part = src.read(info.filename)
            dst.writestr(info.filename, change(info.filename, part) if change else part)
    path = tmp_path / name
    path.write_bytes(out.getvalue())
    return path


def test_a_workbook_whose_dimension_is_smaller_than_its_data_is_read_whole(tmp_path):
    from cipopt.io.excel import load_workbook_instance

    def shrink(name, part):
        if name == SCHEMES_SHEET:
            assert b'<dimension ref="A1:AE5" />' in part
            return part.replace(b'<dimension ref="A1:AE5" />', b'<dimension ref="A1:C2" />')
        return part

    full = load_workbook_instance(_book(tmp_path, name="full.xlsx"))
    shrunk = load_workbook_instance(_book(tmp_path, shrink, name="shrunk.xlsx"))
    assert len(shrunk.schemes) == 4 and shrunk == full
    assert shrunk.schemes[0].qia_risk == 4 and shrunk.schemes[1].safety == 1


def test_formula_cells_without_a_saved_value_are_refused_by_cell(tmp_path):
    import openpyxl

    from cipopt.io.excel import load_workbook_instance

    path = _book(tmp_path)
    book = openpyxl.load_workbook(path)
    sheet = book["schemes"]
    column = next(c.column_letter for c in sheet[1] if c.value == "recurrent_saving")
    sheet[f"{column}2"] = "=90+10"  # openpyxl saves the formula with no cached value
    book.save(path)
    with pytest.raises(InputError) as info:
        load_workbook_instance(path)
    assert_reported(info.value.problems, Expect("book.xlsx, sheet schemes", (f"{column}2", "no saved value",
                                                                             "recalculate")))


def test_a_damaged_worksheet_is_a_located_error(tmp_path):
    path = _book(tmp_path, lambda name, part: part[: len(part) // 2] if name == SCHEMES_SHEET else part)
    result = cli("validate", path)
    assert result.exit_code == 2, result.output
    assert "sheet schemes" in result.output and "not well-formed" in result.output
    assert "internal error" not in result.output


def test_xxe_stays_unresolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    doctype = f'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x SYSTEM "file://{secret}">]>'.encode()
    path = _book(tmp_path, lambda name, part: doctype + part.replace(b"<v>Agency cap</v>", b"<v>&x;</v>")
                 if name == SCHEMES_SHEET else part)
    result = cli("validate", path)
    assert "TOPSECRET" not in result.output


def test_a_workbook_that_unpacks_above_the_cap_is_refused_before_unpacking(tmp_path, monkeypatch):
    import cipopt.io.excel as excel
    import cipopt.io.workbook_read as reading

    path = _book(tmp_path)
    monkeypatch.setattr(reading, "MAX_UNPACKED_BYTES", 10_000)
    with pytest.raises(InputError) as info:
        excel.load_workbook_instance(path)
    assert_reported(info.value.problems, Expect("book.xlsx", ("unpacks to", "above the cap")))


# -- located messages name the scheme --------------------------------------------------------------

def test_located_messages_name_the_scheme_id_as_well_as_the_row(tmp_path):
    folder = write_instance(tmp_path / "inst", {S: edit("roster,E-rostering,workforce,holby,,,", "roster,E-rostering,workforce,holby,2031,,"),
                                                "profiles.csv": append("epr,x,saving,3\n")})
    error = refuse(folder)
    texts = [str(p) for p in error.errors]
    assert any("schemes.csv, row 4 (roster), column earliest_start: " in t for t in texts), texts
    assert any("profiles.csv, row 5 (epr), column offset: " in t for t in texts), texts
    result = cli("validate", folder)
    assert "schemes.csv, row 4 (roster), column earliest_start" in result.output


def test_a_scheme_with_no_qia_is_warned_each_time(tmp_path):
    blank = edit("roster,E-rostering,workforce,holby,,,false,0.8,60,5,0,0,4,", "roster,E-rostering,workforce,holby,,,false,0.8,60,5,0,,,")
    inst, log = load_with_log(write_instance(tmp_path / "inst", {S: blank}))
    assert_reported(log.problems, Expect(S, ("'roster' has no quality impact assessment", "neutral and lowest risk"),
                                         row=4, severity="warning"))
    assert sum("quality impact assessment" in p.message for p in log.warnings) == 1
    # no QIA columns at all: every scheme is warned
    no_columns = lambda t: "\n".join(",".join(c for k, c in enumerate(line.split(",")) if k not in (11, 12))
                                     for line in t.splitlines()) + "\n"
    assert BASE[S].splitlines()[0].split(",")[11:13] == ["safety", "qia_risk"]
    inst, log = load_with_log(write_instance(tmp_path / "none", {S: no_columns}))
    assert {p.scheme for p in log.warnings if "quality impact assessment" in p.message} == {
        "agency", "epr", "roster", "pathology"}
    # without quality rules the defaults bar nobody and nothing is said
    inst, log = load_with_log(write_instance(tmp_path / "norules", {S: blank, Y: edit(
        "  scheme_min: {safety: 0}\n  max_risk: 12\n", "")}))
    assert not [p for p in log.warnings if "quality impact assessment" in p.message]


def test_a_scenario_that_links_outside_the_folder_is_refused_unless_allowed(tmp_path):
    folder = write_instance(tmp_path / "inst")
    (folder / "scenarios").mkdir()
    elsewhere = tmp_path / "rate.yaml"
    elsewhere.write_text("description: a higher discount rate\ncontext:\n  discount_rate: 0.05\n")
    os.symlink(elsewhere, folder / "scenarios" / "rate.yaml")
    refused = cli("whatif", folder, "--scenario", "rate")
    assert refused.exit_code == 2 and "outside the instance folder" in refused.output, refused.output
    allowed = cli("--allow-outside-links", "whatif", folder, "--scenario", "rate")
    assert allowed.exit_code == 0, allowed.output
