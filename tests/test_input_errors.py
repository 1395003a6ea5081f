"""Messy instances as finance teams export them: each is loaded correctly or refused with a
message that names the file, the row as a spreadsheet shows it (or the YAML key), the column,
the bad value and what is expected.

Every case writes a small valid instance, breaks one thing and loads it. `edit` refuses to
run when the text it should change is not there, so no case can pass by breaking nothing.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from cipopt.io.load import load_instance
from cipopt.schema.instance import Instance, Relation, Scheme
from cipopt.schema.problems import InputError, Problem, ProblemLog
from cipopt.schema.validate import known_metrics, validate_instance

BASE: dict[str, str] = {
    "instance.yaml": """\
format_version: 1
name: Test trust
years: [2025, 2026, 2027]
organisations:
  - {id: holby, name: Holby}
  - {id: ccg, name: CCG}
targets:
  - {id: underlying, org: holby, values: {2025: 100, 2026: 200, 2027: 300}}
limits:
  - {id: capital, metric: capital_cost, sense: "<=", values: {2025: 500, 2026: 500}}
  - {id: pmo, metric: pmo_days, values: {2025: 50}}
quality:
  domains: [safety, effectiveness, experience, access]
  scheme_min: {safety: 0}
  max_risk: 12
criteria:
  - {id: value, weight: 0.6}
  - {id: deliverability, weight: 0.4}
objective: {mode: net_present_value, risk: expected}
""",
    "schemes.csv": """\
id,name,category,org,earliest_start,latest_start,mandatory,confidence,recurrent_saving,one_off_cost,capital_cost,safety,qia_risk,pmo_days,lead
agency,Agency cap,agency,holby,2025,2026,false,0.9,100,10,0,0,4,5,Nursing
epr,EPR,digital,holby,,,false,0.7,80,20,300,1,6,20,CIO
roster,E-rostering,workforce,holby,,,false,0.8,60,5,0,0,4,10,Nursing
pathology,Pathology network,pathology,holby,,2026,false,0.6,150,0,100,0,6,15,COO
""",
    "profiles.csv": "scheme,offset,metric,value\nepr,0,saving,0\nepr,1,saving,80\nepr,0,pmo_days,30\n",
    "relations.csv": "kind,a,b,lag\nrequires,roster,epr,1\nexcludes,agency,pathology,\n",
    "shares.csv": "scheme,org,saving_share,cost_share\npathology,holby,0.6,1\npathology,ccg,0.4,0\n",
    "scores.csv": "scheme,criterion,score\nepr,value,80\nepr,deliverability,40\n",
}

Change = str | bytes | None | Callable[[str], str | bytes]

ALL_SCORED = {"scores.csv": BASE["scores.csv"] + "agency,value,30\nagency,deliverability,90\nroster,value,50\n"
                                                 "roster,deliverability,70\npathology,value,60\npathology,deliverability,50\n"}
"""Every scheme scored on every criterion: the base instance loads without the unscored-scheme warnings."""


def edit(old: str, new: str) -> Callable[[str], str]:
    """Replace `old` (which must be there) by `new`."""

    def apply(text: str) -> str:
        assert old in text, f"the base instance no longer holds {old!r}: fix the test case"
        return text.replace(old, new)

    return apply


def append(rows: str) -> Callable[[str], str]:
    return lambda text: text + rows


def write_instance(folder: Path, changes: dict[str, Change] | None = None) -> Path:
    """The base instance with `changes`: new text or bytes, None to leave a file out, or an edit."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in BASE.items():
        change = (changes or {}).get(name, text)
        if callable(change):
            change = change(text)
        if change is None:
            continue
        (folder / name).write_bytes(change if isinstance(change, bytes) else change.encode())
    return folder


def refuse(folder: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_instance(folder)
    return info.value


def load_with_log(folder: Path) -> tuple[Instance, ProblemLog]:
    log = ProblemLog()
    return load_instance(folder, log), log


@dataclass(frozen=True)
class Expect:
    """A problem that must be reported: where it is and words its message must hold."""

    file: str
    words: tuple[str, ...]
    row: int | None = None
    column: str | None = None
    key: str | None = None
    severity: str = "error"

    def matches(self, p: Problem) -> bool:
        return (
            Path(p.file).name == self.file
            and p.severity == self.severity
            and (self.row is None or p.row == self.row)
            and (self.column is None or p.column == self.column)
            and (self.key is None or p.key == self.key)
            and all(w.lower() in p.message.lower() for w in self.words)
        )


def assert_reported(problems: list[Problem], *expected: Expect) -> None:
    for e in expected:
        assert any(e.matches(p) for p in problems), (
            f"expected {e} among:\n" + "\n".join(str(p) for p in problems))


def case(name: str, changes: dict[str, Change], *expected: Expect):
    return pytest.param(changes, expected, id=name)


S, Y, R = "schemes.csv", "instance.yaml", "relations.csv"
NO_RELATIONS = "kind,a,b,lag\n"
MANDATORY_ROSTER = edit("roster,E-rostering,workforce,holby,,,false", "roster,E-rostering,workforce,holby,,,true")


REFUSED = [
    # -- files ----------------------------------------------------------------------------------
    case("schemes.csv missing", {S: None}, Expect(S, ("is missing",))),
    case("instance.yaml missing", {Y: None}, Expect(Y, ("is missing",))),
    case("binary junk", {S: bytes(range(256)) * 8}, Expect(S, ("not a text file",))),
    case("a workbook saved under a .csv name", {S: b"PK\x03\x04" + bytes(40)},
         Expect(S, ("excel workbook", "save the sheet as csv"))),
    case("neither UTF-8 nor Windows-1252", {S: append("x,y\n").__call__(BASE[S]).encode() + b"\x81"},
         Expect(S, ("neither utf-8 nor windows-1252", "0x81", "line 7"))),
    # -- instance.yaml --------------------------------------------------------------------------
    case("broken YAML names the line", {Y: edit("{id: ccg, name: CCG}", "{id: ccg, name: CCG")},
         Expect(Y, ("not valid yaml", "line 7", "starts at line 6"))),
    case("YAML indented with a tab", {Y: edit("  - {id: ccg", "\t- {id: ccg")},
         Expect(Y, ("not valid yaml", "line 6", "spaces, not tabs"))),
    case("YAML that is a list", {Y: "- 2025\n- 2026\n"}, Expect(Y, ("must be a mapping", "not a list"))),
    case("YAML key given twice", {Y: append("name: Other\n")}, Expect(Y, ("'name' appears twice", "line 2"))),
    case("format_version 2", {Y: edit("format_version: 1", "format_version: 2")},
         Expect(Y, ("format version 2", "not supported", "version 1"), key="format_version")),
    case("years missing", {Y: edit("years: [2025, 2026, 2027]\n", "")}, Expect(Y, ("required",), key="years")),
    case("years not a list", {Y: edit("[2025, 2026, 2027]", "2025-2027")},
         Expect(Y, ("'2025-2027'", "expected a list"), key="years")),
    case("years not consecutive", {Y: edit("[2025, 2026, 2027]", "[2025, 2027, 2028]")},
         Expect(Y, ("consecutive", "2027 follows 2025"), key="years[1]")),
    case("target year outside the horizon", {Y: edit("2027: 300", "2031: 300")},
         Expect(Y, ("year 2031", "outside the plan years 2025-2027"), key="targets[0].values.2031")),
    case("limit year outside the horizon", {Y: edit("{2025: 50}", "{2024: 50}")},
         Expect(Y, ("year 2024", "outside"), key="limits[1].values.2024")),
    case("target value not a number", {Y: edit("2026: 200", "2026: lots")},
         Expect(Y, ("'lots'", "not a number"), key="targets[0].values.2026")),
    case("target value NaN", {Y: edit("2026: 200", "2026: .nan")},
         Expect(Y, ("nan", "not a finite number"), key="targets[0].values.2026")),
    case("a year given twice as number and text", {Y: edit("2027: 300", "'2026': 300")},
         Expect(Y, ("year 2026 is given twice",), key="targets[0].values.2026")),
    case("unknown limit sense", {Y: edit('sense: "<="', 'sense: "=<"')},
         Expect(Y, ("'=<'", "'<='", "'>='", "'=='"), key="limits[0].sense")),
    case("unknown metric in a limit", {Y: edit("metric: pmo_days", "metric: pmo_dayz")},
         Expect(Y, ("unknown metric 'pmo_dayz'", "did you mean 'pmo_days'", "built-in"), key="limits[1].metric")),
    case("unknown organisation in a target", {Y: edit("org: holby,", "org: holbby,")},
         Expect(Y, ("unknown organisation 'holbby'", "did you mean 'holby'", "ccg, holby"), key="targets[0].org")),
    case("duplicate organisation id", {Y: edit("id: ccg", "id: holby")},
         Expect(Y, ("duplicate organisation id 'holby'",), key="organisations[1].id")),
    case("duplicate target/limit id", {Y: edit("id: pmo", "id: capital")},
         Expect(Y, ("duplicate id 'capital'", "limits[0]"), key="limits[1].id")),
    case("quality domain that is no column", {Y: edit("access]", "access, equity]")},
         Expect(Y, ("quality domain 'equity'", "numeric column of schemes.csv"), key="quality.domains[4]")),
    case("quality domain that is a text column", {Y: edit("access]", "access, lead]")},
         Expect(S, ("'nursing' is not a number", "quality domain"), row=2, column="lead")),
    case("scheme_min for a domain not listed", {Y: edit("scheme_min: {safety: 0}", "scheme_min: {safty: 0}")},
         Expect(Y, ("'safty'", "did you mean 'safety'", "not one of the quality domains"),
                key="quality.scheme_min.safty")),
    case("discount rate out of range", {Y: append("discount_rate: 1.5\n")},
         Expect(Y, ("1.5", "out of range", "at least 0 and less than 1"), key="discount_rate")),
    case("criterion weight range reversed",
         {Y: edit("{id: value, weight: 0.6}", "{id: value, weight_min: 0.5, weight_max: 0.2}")},
         Expect(Y, ("weight_min 0.5 is above weight_max 0.2",), key="criteria[0].weight_min")),
    case("criterion weight_max above 1",
         {Y: edit("{id: value, weight: 0.6}", "{id: value, weight_min: 0.2, weight_max: 1.5}")},
         Expect(Y, ("weight_max 1.5 is above 1", "shares of 1"), key="criteria[0].weight_max")),
    case("criterion weight_min above 1",
         {Y: edit("{id: value, weight: 0.6}", "{id: value, weight_min: 2}")},
         Expect(Y, ("weight_min 2 is above 1", "shares of 1"), key="criteria[0].weight_min")),
    case("criterion weight_min above 1 and above weight_max",
         {Y: edit("{id: value, weight: 0.6}", "{id: value, weight_min: 3, weight_max: 2}")},
         Expect(Y, ("weight_min 3 is above 1",), key="criteria[0].weight_min"),
         Expect(Y, ("weight_max 2 is above 1",), key="criteria[0].weight_max"),
         Expect(Y, ("weight_min 3 is above weight_max 2",), key="criteria[0].weight_min")),
    case("duplicate criterion id", {Y: edit("id: deliverability", "id: value")},
         Expect(Y, ("duplicate criterion id 'value'",), key="criteria[1].id")),
    case("scores but no criteria: one message, not one per row",
         {Y: lambda t: t[:t.index("criteria:")] + t[t.index("objective:"):],
          "scores.csv": append("roster,value,50\nroster,speed,60\n")},
         Expect("scores.csv", ("scores 3 criteria but instance.yaml defines none",), row=2, column="criterion")),
    case("cvar with an empty list of risk targets (the model would count none, simulate all)",
         {Y: edit("objective: {mode: net_present_value, risk: expected}",
                  "objective: {mode: net_present_value, risk: cvar, cvar_penalty: 1, risk_targets: []}")},
         Expect(Y, ("is an empty list", "leave risk_targets out"), key="objective.risk_targets")),
    case("a YAML boolean where a number is expected is not read as 1",
         {Y: append("discount_rate: yes\nrisk_groups:\n  - {id: workforce, correlation: true}\n")},
         Expect(Y, ("true is not a number",), key="discount_rate"),
         Expect(Y, ("true is not a number",), key="risk_groups[0].correlation")),
    case("chance target when no target is defined",
         {Y: lambda t: edit("objective: {mode: net_present_value, risk: expected}",
                            "objective: {mode: net_present_value, risk: chance, chance_target: underlying, "
                            "chance_probability: 0.9}")(
             edit("targets:\n  - {id: underlying, org: holby, values: {2025: 100, 2026: 200, 2027: 300}}\n", "")(t))},
         Expect(Y, ("unknown target 'underlying': expected a defined id, but none are defined",),
                key="objective.chance_target")),
    # -- CSV structure --------------------------------------------------------------------------
    case("unterminated quote", {S: edit("Agency cap", '"Agency cap')},
         Expect(S, ("not a well-formed csv", "never closed"), row=2)),
    case("unquoted comma shifts the cells", {S: edit("Agency cap", "Agency, cap")},
         Expect(S, ("16 cells", "15 columns", "'nursing'", "needs quotes"), row=2)),
    case("column named twice", {S: edit(",lead\n", ",name\n")},
         Expect(S, ("'name' appears twice",), row=1)),
    case("columns that mean the same after normalising", {S: edit(",lead\n", ",Name \n")},
         Expect(S, ("'name' and 'name' both mean 'name'",), row=1)),
    case("required column missing", {S: edit("id,name", "ident,name")},
         Expect(S, ("required column 'id' is missing", "'ident'"), row=1, column="id")),
    case("empty table", {R: ""}, Expect(R, ("is empty", "header"), row=1)),
    case("blank lines above the header keep the row numbers", {R: "\n\n" + NO_RELATIONS + "require,roster,epr,0\n"},
         Expect(R, ("'require'",), row=4, column="kind")),
    # -- cells ----------------------------------------------------------------------------------
    case("'12k' is not a number", {S: edit(",100,10,", ",12k,10,")},
         Expect(S, ("'12k'", "not a number"), row=2, column="recurrent_saving")),
    case("decimal comma is not money", {S: edit(",100,10,", ',"1,5",10,')},
         Expect(S, ("'1,5'", "not a number"), row=2, column="recurrent_saving")),
    case("required id empty", {S: edit("epr,EPR", ",EPR")},
         Expect(S, ("required but empty",), row=3, column="id")),
    case("confidence above 1", {S: edit(",0.9,", ",1.5,")},
         Expect(S, ("'1.5'", "out of range", "from 0 to 1"), row=2, column="confidence")),
    case("confidence written as a percentage number", {S: edit(",0.9,", ",90,")},
         Expect(S, ("'90'", "0.9 or 90%"), row=2, column="confidence")),
    case("negative cost", {S: edit(",100,10,", ",100,-10,")},
         Expect(S, ("'-10'", "out of range", "0 or more"), row=2, column="one_off_cost")),
    case("start window reversed", {S: edit("2025,2026", "2026,2025")},
         Expect(S, ("reversed", "earliest_start 2026 is after latest_start 2025"), row=2, column="earliest_start")),
    case("start year outside the horizon", {S: edit("2025,2026", "2024,2026")},
         Expect(S, ("earliest_start 2024", "outside the plan years 2025-2027"), row=2, column="earliest_start")),
    case("start year not a year", {S: edit("2025,2026", "soon,2026")},
         Expect(S, ("'soon'", "not a year such as 2025"), row=2, column="earliest_start")),
    case("bad boolean", {S: edit(",false,0.9", ",maybe,0.9")},
         Expect(S, ("'maybe'", "true or false"), row=2, column="mandatory")),
    case("unknown category", {S: edit(",digital,", ",digitl,")},
         Expect(S, ("'digitl'", "did you mean 'digital'", "expected one of"), row=3, column="category")),
    case("QIA score out of range", {S: edit("epr,EPR,digital,holby,,,false,0.7,80,20,300,1,", "epr,EPR,digital,holby,,,false,0.7,80,20,300,3,")},
         Expect(S, ("'3'", "from -2 to 2"), row=3, column="safety")),
    case("QIA score not whole", {S: edit("epr,EPR,digital,holby,,,false,0.7,80,20,300,1,", "epr,EPR,digital,holby,,,false,0.7,80,20,300,1.5,")},
         Expect(S, ("'1.5'", "whole number"), row=3, column="safety")),
    case("mandatory and excluded at once",
         {S: edit(",lead\n", ",lead,excluded\n").__call__(BASE[S]).replace(
             "agency,holby,2025,2026,false,0.9,100,10,0,0,4,5,Nursing", "agency,holby,2025,2026,true,0.9,100,10,0,0,4,5,Nursing,yes")},
         Expect(S, ("both mandatory and excluded",), row=2, column="excluded")),
    case("duplicate scheme id", {S: append("epr,EPR again,digital,holby,,,false,0.7,80,20,300,1,6,20,CIO\n")},
         Expect(S, ("duplicate scheme id 'epr'", "first at row 3"), row=6, column="id")),
    case("unknown organisation of a scheme", {S: edit("epr,EPR,digital,holby", "epr,EPR,digital,Holby")},
         Expect(S, ("unknown organisation 'holby'", "did you mean 'holby'"), row=3, column="org")),
    case("negative offset", {"profiles.csv": append("epr,-1,saving,3\n")},
         Expect("profiles.csv", ("'-1'", "0 or more"), row=5, column="offset")),
    case("unknown scheme in profiles", {"profiles.csv": append("eprr,1,saving,3\n")},
         Expect("profiles.csv", ("unknown scheme 'eprr'", "did you mean 'epr'"), row=5, column="scheme")),
    case("profile given twice", {"profiles.csv": append("epr,1,recurrent_saving,90\n")},
         Expect("profiles.csv", ("given twice", "row 3"), row=5)),
    case("unknown relation kind", {R: append("require,roster,epr,0\n")},
         Expect(R, ("'require'", "'requires'", "'precedes'"), row=4, column="kind")),
    case("unknown scheme in relations", {R: append("requires,roster,xyz,0\n")},
         Expect(R, ("unknown scheme 'xyz'",), row=4, column="b")),
    case("relation of a scheme to itself", {R: append("requires,roster,roster,0\n")},
         Expect(R, ("itself",), row=4, column="b")),
    case("negative lag", {R: append("precedes,epr,roster,-1\n")},
         Expect(R, ("'-1'", "0 or more"), row=4, column="lag")),
    case("shares not summing to 1", {"shares.csv": edit("0.4,0", "0.3,0")},
         Expect("shares.csv", ("saving_share", "'pathology'", "rows 2, 3", "0.9", "sum to 1"), row=2,
                column="saving_share")),
    case("unknown organisation in shares", {"shares.csv": edit("ccg,0.4", "cgc,0.4")},
         Expect("shares.csv", ("unknown organisation 'cgc'", "ccg, holby"), row=3, column="org")),
    case("unknown scheme in shares", {"shares.csv": append("pathologie,holby,1,1\n")},
         Expect("shares.csv", ("unknown scheme 'pathologie'",), row=4, column="scheme")),
    case("share above 1", {"shares.csv": edit("0.6,1", "0.6,1.2")},
         Expect("shares.csv", ("'1.2'", "from 0 to 1"), row=2, column="cost_share")),
    case("unknown criterion in scores", {"scores.csv": append("epr,valu,50\n")},
         Expect("scores.csv", ("unknown criterion 'valu'", "did you mean 'value'"), row=4, column="criterion")),
    case("score out of range", {"scores.csv": edit("80", "180")},
         Expect("scores.csv", ("'180'", "from 0 to 100"), row=2, column="score")),
    case("unknown scheme in scores", {"scores.csv": append("nope,value,50\n")},
         Expect("scores.csv", ("unknown scheme 'nope'",), row=4, column="scheme")),
    case("scored twice", {"scores.csv": append("epr,value,50\n")},
         Expect("scores.csv", ("scored on 'value' twice", "row 2"), row=4)),
]


def Warned(file: str, words: tuple[str, ...], **where) -> Expect:
    return Expect(file, words, severity="warning", **where)


WARNED = [
    case("lag on excludes", {R: append("excludes,roster,epr,2\n")},
         Warned(R, ("lag 2 is ignored", "only to requires and precedes"), row=4, column="lag")),
    # -- relations that make schemes impossible: the format allows them; warned, and left out ----
    case("requires each other with a lag",
         {R: NO_RELATIONS + "requires,roster,epr,1\nrequires,epr,roster,0\n"},
         Warned(R, ("epr and roster can never be selected",
                    "roster requires epr to start at least 1 year before it (row 2)",
                    "epr requires roster to start no later than it (row 3)"), row=2)),
    case("requires cycle of three with a lag",
         {R: NO_RELATIONS + "requires,roster,epr,0\nrequires,epr,agency,1\nrequires,agency,roster,0\n"},
         Warned(R, ("agency, epr and roster can never be selected", "(row 2)", "(row 3)", "(row 4)"), row=2)),
    case("together with a scheme it excludes",
         {R: NO_RELATIONS + "together,roster,epr,\nexcludes,epr,roster,\n"},
         Warned(R, ("epr and roster can never be selected", "go together (row 2)", "but epr excludes roster (row 3)"),
                row=2)),
    case("requires a scheme that excludes it",
         {R: NO_RELATIONS + "requires,roster,epr,\nexcludes,epr,roster,\n"},
         Warned(R, ("roster can never be selected", "roster requires epr (row 2)", "epr excludes roster (row 3)"))),
    case("lag longer than the horizon",
         {R: NO_RELATIONS + "requires,roster,epr,3\n"},
         Warned(R, ("roster can never be selected", "no later than 2027", "at least 3 years before it",
                    "no earlier than 2025"), row=2, column="lag")),
    case("lag longer than the start windows allow",
         {R: NO_RELATIONS + "requires,pathology,agency,2\n"},
         Warned(R, ("pathology can never be selected", "no later than 2026 (its latest_start)",
                    "no earlier than 2025 (its earliest_start)"), row=2, column="lag")),
    case("together but each must precede the other",
         {R: NO_RELATIONS + "precedes,roster,epr,1\ntogether,roster,epr,\nprecedes,epr,roster,1\n"},
         Warned(R, ("epr and roster can never be selected", "go together (row 3)", "(row 2)", "(row 4)"))),
    case("schemes that depend on an impossible pair are named",
         {R: NO_RELATIONS + "requires,roster,epr,1\nrequires,epr,roster,1\nrequires,agency,roster,0\n"
                            "together,pathology,agency,\n"},
         Warned(R, ("epr and roster can never be selected", "nor can agency and pathology"), row=2)),
]

MANDATORY_IMPOSSIBLE = [
    case("a mandatory scheme made impossible",
         {R: NO_RELATIONS + "requires,roster,epr,1\nrequires,epr,roster,1\n", S: MANDATORY_ROSTER},
         Warned(R, ("can never be selected", "roster is mandatory", "no plan", "infeasible"), row=2)),
    case("mandatory schemes that exclude each other",
         {R: NO_RELATIONS + "excludes,roster,agency,\n",
          S: lambda t: MANDATORY_ROSTER(t).replace("agency,holby,2025,2026,false", "agency,holby,2025,2026,true")},
         Warned(R, ("mandatory schemes agency and roster cannot all be selected", "no plan is possible",
                    "roster excludes agency (row 2)"), row=2)),
]


@pytest.mark.parametrize("changes, expected", WARNED)
def test_valid_under_the_format_loads_with_a_warning_and_solves(tmp_path, changes, expected):
    """Files the format allows load; a scheme relations make impossible is left out of the plan,
    which the independent checker accepts."""
    from cipopt.pipeline import solve_instance

    inst, log = load_with_log(write_instance(tmp_path / "inst", changes))
    assert_reported(log.problems, *expected)
    assert not log.errors
    impossible = {n for p in log.warnings if " can never be selected: " in p.message
                  for part in (p.message.split(" can never be selected")[0],
                               *p.message.split(" Nor can ")[1:2])
                  for n in _names(part.split(", which depend")[0])}
    outcome = solve_instance(inst)
    assert outcome.status.value == "optimal" and outcome.check.ok
    assert not impossible & set(outcome.selected)
    assert all(r.lag == 0 for r in inst.relations if r.kind in ("excludes", "together"))


@pytest.mark.parametrize("changes, expected", MANDATORY_IMPOSSIBLE)
def test_only_a_mandatory_scheme_made_impossible_makes_the_instance_infeasible(tmp_path, changes, expected):
    """Valid under the format, so it loads with the relations named; solve says infeasible (exit 3)
    with its diagnosis, and writes no plan."""
    from click.testing import CliRunner

    from cipopt.cli import main

    folder = write_instance(tmp_path / "inst", changes)
    inst, log = load_with_log(folder)
    assert_reported(log.problems, *expected)
    assert not log.errors
    result = CliRunner().invoke(main, ["solve", str(folder), "--out", str(tmp_path / "out")], catch_exceptions=False)
    assert result.exit_code == 3, result.output
    assert "infeasible" in result.output and "mandatory" in result.output


@pytest.mark.parametrize("changes, expected", REFUSED)
def test_refused_with_the_cell_to_fix(tmp_path, changes, expected):
    error = refuse(write_instance(tmp_path / "inst", changes))
    assert_reported(error.problems, *expected)
    for p in error.errors:  # every error says where it is
        assert Path(p.file).name in BASE or p.file.endswith(("inst", ".csv", ".yaml")), p
        assert p.message and str(p).startswith("error: ")


def test_scores_without_criteria_is_one_problem(tmp_path):
    error = refuse(write_instance(tmp_path / "inst", {Y: lambda t: t[:t.index("criteria:")] + t[t.index("objective:"):]}))
    assert len(error.errors) == 1, error.errors


def test_every_case_names_its_value_and_place_in_words(tmp_path):
    """The text a person reads holds the file, row and column together, as `where()` writes it."""
    error = refuse(write_instance(tmp_path / "inst", {S: edit(",100,10,", ",12k,10,")}))
    (problem,) = error.errors
    assert str(problem) == (f"error: {tmp_path / 'inst' / S}, row 2 (agency), column recurrent_saving: '12k' is not "
                            "a number")
    error = refuse(write_instance(tmp_path / "inst2", {Y: edit("2027: 300", "2031: 300")}))
    assert "key targets[0].values.2031: year 2031 is outside the plan years 2025-2027" in str(error)


# -- folders and files --------------------------------------------------------------------------

def test_instance_path_that_does_not_exist(tmp_path):
    error = refuse(tmp_path / "nowhere")
    assert_reported(error.problems, Expect("nowhere", ("no such instance folder",)))


def test_instance_path_that_is_a_file(tmp_path):
    folder = write_instance(tmp_path / "inst")
    error = refuse(folder / "instance.yaml")
    assert_reported(error.problems, Expect("instance.yaml", ("is a file, not a folder", str(folder))))


def test_folder_where_a_file_is_expected(tmp_path):
    folder = write_instance(tmp_path / "inst", {R: None})
    (folder / R).mkdir()
    error = refuse(folder)
    assert_reported(error.problems, Expect(R, ("is a folder, expected a file",)))


def test_unreadable_file(tmp_path, monkeypatch):
    folder = write_instance(tmp_path / "inst")
    real = pathlib.Path.open  # files are opened (and read up to their size cap), not read_bytes()

    def opened(self, *args, **kwargs):
        if self.name == "shares.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", opened)
    error = refuse(folder)
    assert_reported(error.problems, Expect("shares.csv", ("cannot be read", "permission denied")))
    assert len(error.errors) == 1  # nothing follows from the unread shares


def test_misspelt_file_name_is_a_warning(tmp_path):
    folder = write_instance(tmp_path / "inst")
    (folder / "relation.csv").write_text("kind,a,b,lag\n")
    _, log = load_with_log(folder)
    assert_reported(log.problems, Expect("relation.csv", ("ignored", "did you mean relations.csv"),
                                         severity="warning"))


def test_schemes_missing_scores_are_warned_once_each(tmp_path):
    """The base scores only epr: each other scheme gets one warning naming the criteria it lacks."""
    _, log = load_with_log(write_instance(tmp_path / "base"))
    assert not log.errors
    assert_reported(log.problems, *(Expect(S, (f"scheme {sid!r} has no score for 'value', 'deliverability'",
                                                "counted as 0"), row=row, column="id", severity="warning")
                                    for sid, row in (("agency", 2), ("roster", 4), ("pathology", 5))))
    assert len(log.warnings) == 3
    scores = ALL_SCORED["scores.csv"].replace("roster,deliverability,70\n", "")
    _, log = load_with_log(write_instance(tmp_path / "one", {"scores.csv": scores}))
    assert [p.message for p in log.problems] == [
        "scheme 'roster' has no score for 'deliverability': counted as 0 there (no row of scores.csv)"]


def test_file_name_in_another_case_is_read(tmp_path):
    folder = write_instance(tmp_path / "inst", {R: None})
    (folder / "Relations.CSV").write_text("kind,a,b,lag\nexcludes,roster,epr,\n")
    inst, log = load_with_log(folder)
    assert [r.kind for r in inst.relations] == ["excludes"]
    assert_reported(log.problems, Expect("Relations.CSV", ("read as relations.csv",), severity="warning"))


# -- what must load -----------------------------------------------------------------------------

def test_utf8_bom_does_not_reach_the_first_column(tmp_path):
    folder = write_instance(tmp_path / "inst", {
        S: b"\xef\xbb\xbf" + BASE[S].encode(), Y: b"\xef\xbb\xbf" + BASE[Y].encode(), **ALL_SCORED})
    inst, log = load_with_log(folder)
    assert [s.id for s in inst.schemes] == ["agency", "epr", "roster", "pathology"]
    assert not log.problems


def test_windows_1252_as_excel_writes_it(tmp_path):
    text = edit("Agency cap", "Agency cap \u00a3250k \u2013 phase 1")(BASE[S])
    folder = write_instance(tmp_path / "inst", {S: text.encode("cp1252")})
    inst, log = load_with_log(folder)
    assert inst.schemes[0].name == "Agency cap \u00a3250k \u2013 phase 1"
    assert_reported(log.problems, Expect(S, ("not utf-8", "0xa3", "windows-1252"), severity="warning"))


def test_money_with_pound_sign_and_thousands(tmp_path):
    folder = write_instance(tmp_path / "inst", {S: edit(",100,10,", ',"\u00a31,200",10,')})
    inst, log = load_with_log(folder)
    assert inst.schemes[0].recurrent_saving == 1200.0
    assert_reported(log.problems, Expect(S, ("'\u00a31,200'", "read as 1200"), row=2,
                                         column="recurrent_saving", severity="warning"))


@pytest.mark.parametrize("cell, value", [("(1,200)", -1200.0), ("-\u00a3950", -950.0), ("1,234,567.5", 1234567.5)])
def test_money_forms(tmp_path, cell, value):
    folder = write_instance(tmp_path / "inst", {S: edit(",100,10,", f',"{cell}",10,')})
    inst, _ = load_with_log(folder)
    assert inst.schemes[0].recurrent_saving == value


def test_percentages_and_financial_years_with_warnings(tmp_path):
    folder = write_instance(tmp_path / "inst", {S: edit("2025,2026,false,0.9", "2025/26,FY2026-27,false,90%")})
    inst, log = load_with_log(folder)
    s = inst.schemes[0]
    assert (s.earliest_start, s.latest_start, s.confidence) == (2025, 2026, 0.9)
    assert_reported(log.problems,
                    Expect(S, ("'90%' read as 0.9",), row=2, column="confidence", severity="warning"),
                    Expect(S, ("'2025/26' read as 2025",), row=2, column="earliest_start", severity="warning"))


def test_booleans_in_any_spelling(tmp_path):
    text = BASE[S]
    for old, new in (("agency,holby,2025,2026,false", "agency,holby,2025,2026,Yes"),
                     ("digital,holby,,,false", "digital,holby,,,NO"),
                     ("workforce,holby,,,false", "workforce,holby,,,1"),
                     ("pathology,holby,,2026,false", "pathology,holby,,2026,TRUE")):
        text = edit(old, new)(text)
    folder = write_instance(tmp_path / "inst", {S: text, R: NO_RELATIONS})
    inst, _ = load_with_log(folder)
    assert [s.mandatory for s in inst.schemes] == [True, False, True, True]


def test_excluded_is_a_boolean_column(tmp_path):
    text = edit(",lead\n", ",lead,excluded\n")(BASE[S]).replace(",CIO\n", ",CIO,Yes\n")
    inst, _ = load_with_log(write_instance(tmp_path / "inst", {S: text}))
    assert [s.excluded for s in inst.schemes] == [False, True, False, False]
    assert "excluded" not in inst.schemes[1].labels


def test_years_as_string_keys_and_json_style_yaml(tmp_path):
    context = ('{"format_version": "1", "years": ["2025", "2026", "2027"], '
               '"organisations": [{"id": "holby"}, "ccg"], '
               '"targets": [{"id": "t", "values": {"2025": 100, "2026": "200"}}], '
               '"criteria": [{"id": "value", "weight": 1}, {"id": "deliverability", "weight": 1}]}')
    inst, log = load_with_log(write_instance(tmp_path / "inst", {Y: context}))
    assert inst.years == (2025, 2026, 2027)
    assert inst.targets[0].values == {2025: 100.0, 2026: 200.0}
    assert inst.org_ids == ("holby", "ccg")
    assert not log.errors


def test_headers_with_odd_case_and_spaces(tmp_path):
    folder = write_instance(tmp_path / "inst", {
        S: edit("id,name,category,org,earliest_start", " ID , Name,Category,ORG,Earliest Start")
        .__call__(BASE[S]).replace("recurrent_saving", "Recurrent-Saving"),
        "profiles.csv": edit("epr,0,pmo_days,30", "epr,0,PMO Days,30"),
        Y: edit("metric: pmo_days", "metric: PMO days"), **ALL_SCORED})
    inst, log = load_with_log(folder)
    assert inst.schemes[0].id == "agency" and inst.schemes[0].earliest_start == 2025
    assert inst.schemes[0].recurrent_saving == 100.0
    assert inst.limits[1].metric == "pmo_days" and inst.profiles[2].metric == "pmo_days"
    assert not log.problems


def test_words_from_fixed_lists_in_any_case(tmp_path):
    folder = write_instance(tmp_path / "inst", {S: edit(",agency,holby", ",Back office,holby"),
                                                R: edit("requires,roster", "Requires,roster")})
    inst, _ = load_with_log(folder)
    assert inst.schemes[0].category == "back_office" and inst.relations[0].kind == "requires"


def test_recurrent_saving_as_a_metric_name_means_saving(tmp_path):
    folder = write_instance(tmp_path / "inst", {
        "profiles.csv": edit("epr,1,saving,80", "epr,1,recurrent_saving,80"),
        Y: edit("metric: pmo_days", "metric: recurrent_saving"), **ALL_SCORED})
    inst, log = load_with_log(folder)
    assert inst.profiles[1].metric == "saving" and inst.limits[1].metric == "saving"
    assert "recurrent_saving" in known_metrics(inst)
    assert not log.problems


def test_excel_layout_quirks_load(tmp_path):
    """Blank rows, rows of empty cells, short rows, spaces around cells, a sep= line, CRLF."""
    relations = "sep=,\r\nkind,a,b,lag\r\n\r\n,,,\r\n requires , roster , epr , 1 \r\nexcludes,agency,pathology\r\n"
    inst, log = load_with_log(write_instance(tmp_path / "inst", {R: relations, **ALL_SCORED}))
    assert [(r.kind, r.a, r.b, r.lag) for r in inst.relations] == [
        ("requires", "roster", "epr", 1), ("excludes", "agency", "pathology", 0)]
    assert not log.problems


def test_semicolons_and_utf16_tab_text_load_with_a_warning(tmp_path):
    folder = write_instance(tmp_path / "inst", {
        S: BASE[S].replace(",", ";"),
        R: b"\xff\xfe" + BASE[R].replace(",", "\t").encode("utf-16-le")})
    inst, log = load_with_log(folder)
    assert len(inst.schemes) == 4 and len(inst.relations) == 2
    assert_reported(log.problems, Expect(S, ("semicolon",), severity="warning"),
                    Expect(R, ("tab",), severity="warning"))


def test_unknown_columns_and_keys_are_warnings(tmp_path):
    folder = write_instance(tmp_path / "inst", {
        R: "kind,a,b,lag,note\nrequires,roster,epr,1,hello\n",
        Y: edit("org: holby,", "org: holby, valus: 3,").__call__(BASE[Y]) + "target: 3\n"})
    inst, log = load_with_log(folder)
    assert not log.errors
    assert_reported(log.problems,
                    Expect(R, ("unknown column 'note'",), row=1, column="note", severity="warning"),
                    Expect(Y, ("unknown key 'valus'", "did you mean 'values'"), key="targets[0].valus",
                           severity="warning"),
                    Expect(Y, ("unknown key 'target'", "did you mean 'targets'"), key="target",
                           severity="warning"))
    assert inst.schemes[0].labels["lead"] == "Nursing"  # a custom column not close to a standard one


def test_mostly_numeric_column_with_text_is_flagged(tmp_path):
    folder = write_instance(tmp_path / "inst", {
        S: edit(",5,Nursing", ",n/a,Nursing").__call__(BASE[S]).replace("pmo_days", "wte"),
        Y: edit("  - {id: pmo, metric: pmo_days, values: {2025: 50}}\n", "")})
    inst, log = load_with_log(folder)
    assert inst.schemes[0].labels["wte"] == "n/a"
    assert_reported(log.problems, Expect(S, ("'wte'", "'n/a'", "text labels"), row=2, severity="warning"))


def test_restrictive_relations_are_not_errors(tmp_path):
    """Merely restrictive: start together (requires both ways, lag 0), a precedes that cannot fit
    (a warning: it acts as excludes), an option a mandatory scheme rules out (a warning)."""
    relations = NO_RELATIONS + "requires,roster,epr,0\nrequires,epr,roster,0\nprecedes,roster,pathology,3\n"
    inst, log = load_with_log(write_instance(tmp_path / "a", {R: relations, **ALL_SCORED}))
    assert len(inst.relations) == 3
    assert_reported(log.problems, Expect(R, ("roster and pathology can never both be selected",
                                             "acts as excludes", "at least 3 years after roster (row 4)"),
                                         row=4, severity="warning"))
    assert len(log.problems) == 1
    folder = write_instance(tmp_path / "b", {R: NO_RELATIONS + "requires,roster,epr,0\nexcludes,agency,epr,\n",
                                             S: edit("agency,holby,2025,2026,false", "agency,holby,2025,2026,true")})
    inst, log = load_with_log(folder)
    assert_reported(log.problems, Expect(R, ("epr can never be selected, because agency is mandatory",
                                             "agency excludes epr (row 3)"), row=3, severity="warning"),
                    Expect(R, ("roster can never be selected, because agency is mandatory",
                               "roster requires epr (row 2), but agency excludes epr (row 3)"), severity="warning"))


# -- several problems at once, and no follow-on errors ------------------------------------------

def test_independent_problems_are_all_reported_in_one_run(tmp_path):
    folder = write_instance(tmp_path / "inst", {
        Y: edit("2027: 300", "2031: 300"),
        S: edit(",100,10,", ",12k,10,").__call__(BASE[S]).replace(",0.8,60,", ",1.8,60,"),
        R: append("require,roster,epr,0\n"),
        "shares.csv": edit("ccg,0.4", "cgc,0.4"),
        "scores.csv": append("epr,valu,50\n")})
    error = refuse(folder)
    assert_reported(error.problems,
                    Expect(Y, ("2031",), key="targets[0].values.2031"),
                    Expect(S, ("'12k'",), row=2, column="recurrent_saving"),
                    Expect(S, ("'1.8'",), row=4, column="confidence"),
                    Expect(R, ("'require'",), row=4, column="kind"),
                    Expect("shares.csv", ("'cgc'",), row=3, column="org"),
                    Expect("scores.csv", ("'valu'",), row=4, column="criterion"))
    assert len(error.errors) == 6


def test_two_bad_cells_in_one_row_are_both_reported(tmp_path):
    error = refuse(write_instance(tmp_path / "inst", {S: edit(",0.9,100,10,", ",1.9,100,-10,")}))
    assert_reported(error.problems, Expect(S, ("'1.9'",), row=2, column="confidence"),
                    Expect(S, ("'-10'",), row=2, column="one_off_cost"))


def test_a_rejected_scheme_row_is_still_known_by_its_id(tmp_path):
    """epr's row has a bad number; relations, profiles, scores and shares naming epr are not
    reported as unknown, while a truly unknown scheme still is."""
    folder = write_instance(tmp_path / "inst", {
        S: edit("epr,EPR,digital,holby,,,false,0.7,80", "epr,EPR,digital,holby,,,false,0.7,80k"),
        R: append("requires,agency,zzz,0\n")})
    error = refuse(folder)
    assert_reported(error.problems, Expect(S, ("'80k'",), row=3, column="recurrent_saving"),
                    Expect(R, ("unknown scheme 'zzz'",), row=4, column="b"))
    assert len(error.errors) == 2, error


def test_broken_yaml_still_checks_the_tables_without_follow_on_errors(tmp_path):
    folder = write_instance(tmp_path / "inst", {
        Y: edit("{id: ccg, name: CCG}", "{id: ccg, name: CCG"),
        S: edit(",100,10,", ",12k,10,"),
        R: append("requires,roster,zzz,0\n")})
    error = refuse(folder)
    assert_reported(error.problems, Expect(Y, ("not valid yaml",)), Expect(S, ("'12k'",), row=2),
                    Expect(R, ("unknown scheme 'zzz'",), row=4))
    assert len(error.errors) == 3, error  # no "unknown organisation", no "unknown criterion"


def test_a_refused_yaml_part_silences_only_what_depends_on_it(tmp_path):
    """organisations[1] is refused: 'ccg' in shares.csv is not reported, but the bad target
    year and an unknown criterion in scores.csv are."""
    folder = write_instance(tmp_path / "inst", {
        Y: edit("{id: ccg, name: CCG}", "{id: ccg, name: CCG, sector: [1]}").__call__(BASE[Y])
        .replace("2027: 300", "2031: 300"),
        "scores.csv": append("epr,valu,50\n")})
    error = refuse(folder)
    assert_reported(error.problems, Expect(Y, ("a list is not text",), key="organisations[1].sector"),
                    Expect(Y, ("2031",), key="targets[0].values.2031"),
                    Expect("scores.csv", ("'valu'",), row=4))
    assert len(error.errors) == 3, error


def test_an_unusable_schemes_table_still_lets_the_other_tables_be_checked(tmp_path):
    """schemes.csv lacks its id column: profiles.csv's bad number is still reported, and no
    reference to a scheme is called unknown (every id might be one of the unread rows)."""
    folder = write_instance(tmp_path / "inst", {
        S: edit("id,name", "ident,name"), "profiles.csv": append("epr,2,saving,lots\n"),
        R: append("requires,roster,zzz,0\n")})
    error = refuse(folder)
    assert_reported(error.problems, Expect(S, ("required column 'id'",), row=1),
                    Expect("profiles.csv", ("'lots'",), row=5, column="value"))
    assert len(error.errors) == 2, error


def test_a_rejected_share_row_leaves_the_sum_unchecked(tmp_path):
    error = refuse(write_instance(tmp_path / "inst", {"shares.csv": edit("0.4,0", "forty,0")}))
    assert_reported(error.problems, Expect("shares.csv", ("'forty'",), row=3, column="saving_share"))
    assert len(error.errors) == 1, error


def test_a_wrong_version_is_the_only_message(tmp_path):
    error = refuse(write_instance(tmp_path / "inst", {Y: edit("format_version: 1", "format_version: 2.0")}))
    assert len(error.errors) == 1 and error.errors[0].key == "format_version"


# -- the validator on its own -------------------------------------------------------------------

def test_validate_instance_reports_impossible_relations_of_an_instance_built_in_code():
    inst = Instance(years=(2025, 2026), schemes=(Scheme(id="a", org="trust"), Scheme(id="b", org="trust")),
                    relations=(Relation(kind="requires", a="a", b="b", lag=2),))
    log = ProblemLog()
    validate_instance(inst, log)
    assert_reported(log.problems, Expect("relations.csv", ("a can never be selected",
                                                            "at least 2 years before it (row 2)",
                                                            "the plan leaves it out"), row=2, severity="warning"))


# -- the relation analysis against brute force ----------------------------------------------------

def _names(text: str) -> set[str]:
    return {n.strip() for part in text.split(", ") for n in part.split(" and ")}


def _reported(log: ProblemLog) -> dict[str, set[str]]:
    """Which schemes the relation problems name, by kind of finding."""
    found: dict[str, set[str]] = {"impossible": set(), "mandatory_conflict": set(), "dead": set(),
                                  "never_both": set()}
    for p in log.problems:
        m = p.message
        if " can never be selected: " in m:
            found["impossible"] |= _names(m.split(" can never be selected")[0])
            if " Nor can " in m:
                found["impossible"] |= _names(m.split(" Nor can ")[1].split(", which depend")[0])
        elif m.startswith("the mandatory schemes "):
            found["mandatory_conflict"] |= _names(m.removeprefix("the mandatory schemes ").split(" cannot")[0])
        elif p.severity == "warning" and " can never be selected, because " in m:
            found["dead"] |= _names(m.split(" can never be selected")[0])
        elif p.severity == "warning" and " can never both be selected" in m:
            found["never_both"].add(frozenset(_names(m.split(" can never both")[0])))
    return found


def _plans(inst: Instance):
    """Every assignment of start years (None = not selected) that keeps all relations."""
    import itertools

    years = inst.years
    choices = []
    for s in inst.schemes:
        lo = s.earliest_start if s.earliest_start is not None else years[0]
        hi = s.latest_start if s.latest_start is not None else years[-1]
        choices.append([None] + list(range(lo, hi + 1)))
    ids = [s.id for s in inst.schemes]
    for starts in itertools.product(*choices):
        t = dict(zip(ids, starts))
        ok = True
        for r in inst.relations:
            a, b = t[r.a], t[r.b]
            if r.kind == "requires" and a is not None and (b is None or b > a - r.lag):
                ok = False
            elif r.kind == "excludes" and a is not None and b is not None:
                ok = False
            elif r.kind == "together" and (a is None) != (b is None):
                ok = False
            elif r.kind == "precedes" and a is not None and b is not None and b < a + r.lag:
                ok = False
            if not ok:
                break
        if ok:
            yield t


from hypothesis import given, settings, strategies as st  # noqa: E402


@st.composite
def relation_instances(draw) -> Instance:
    horizon = draw(st.integers(1, 4))
    years = tuple(range(2025, 2025 + horizon))
    ids = ["a", "b", "c", "d", "e"][: draw(st.integers(2, 5))]
    schemes = []
    for sid in ids:
        lo = draw(st.integers(0, horizon - 1))
        hi = draw(st.integers(lo, horizon - 1))
        schemes.append(Scheme(id=sid, org="trust", mandatory=draw(st.booleans()),
                              earliest_start=years[lo] if draw(st.booleans()) else None,
                              latest_start=years[hi] if draw(st.booleans()) else None))
    relations = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["requires", "requires", "excludes", "together", "precedes"]))
        a, b = draw(st.permutations(ids))[:2]
        lag = draw(st.integers(0, 3)) if kind in ("requires", "precedes") else 0
        relations.append(Relation(kind=kind, a=a, b=b, lag=lag))
    return Instance(years=years, schemes=tuple(schemes), relations=tuple(relations))


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(inst=relation_instances())
def test_relation_analysis_matches_brute_force(inst):
    """A scheme is reported impossible exactly when no plan keeping the relations selects it;
    mandatory schemes conflict exactly when no plan selects them all; and so on."""
    log = ProblemLog()
    validate_instance(inst, log)
    found = _reported(log)
    plans = list(_plans(inst))
    ids = [s.id for s in inst.schemes]
    possible = {s for s in ids if any(p[s] is not None for p in plans)}
    assert found["impossible"] == set(ids) - possible, log.problems
    mandatory = [s.id for s in inst.schemes if s.mandatory]
    with_mandatory = [p for p in plans if all(p[m] is not None for m in mandatory)]
    if not (set(mandatory) - possible):
        assert bool(found["mandatory_conflict"]) == (not with_mandatory), log.problems
        if with_mandatory and mandatory:
            dead = {s for s in possible if not any(p[s] is not None for p in with_mandatory)}
            assert found["dead"] == dead, log.problems
    for pair in found["never_both"]:
        x, y = sorted(pair)
        assert x in possible and y in possible
        assert not any(p[x] is not None and p[y] is not None for p in plans), log.problems
    for r in inst.relations:
        if r.kind == "precedes" and {r.a, r.b} <= possible - found["dead"]:
            both = any(p[r.a] is not None and p[r.b] is not None for p in plans)
            assert both == (frozenset((r.a, r.b)) not in found["never_both"]), log.problems


@pytest.mark.slow
def test_a_pathological_relation_graph_stops_with_a_warning_not_a_hang():
    """A requires-chain of 3,000 schemes: the exhaustive check gives up with a warning."""
    import time

    n = 3000
    inst = Instance(years=(2025, 2026, 2027), schemes=tuple(Scheme(id=f"s{i}", org="trust") for i in range(n)),
                    relations=tuple(Relation(kind="requires", a=f"s{i}", b=f"s{i + 1}") for i in range(n - 1)))
    log = ProblemLog()
    started = time.process_time()
    validate_instance(inst, log)
    assert time.process_time() - started < 20
    assert_reported(log.problems, Expect("relations.csv", ("stopped early",), severity="warning"))
    assert not log.errors
