"""The input format is described once, by the models' field docstrings: `cipopt schema`, the table
of docs/format.md and the workbook template read them, and these tests fail when any disagree."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from cipopt.cli.reports import instance_json_schema
from cipopt.io.excel import CONTEXT_SHEET, template_workbook
from cipopt.schema import docs
from cipopt.schema.actuals import Actuals
from cipopt.schema.instance import Instance, Scheme


def _properties(schema: dict):
    for name, node in [("Instance", schema), *schema.get("$defs", {}).items()]:
        for field, prop in node.get("properties", {}).items():
            yield f"{name}.{field}", prop


def test_every_property_of_the_json_schema_is_described():
    schema = instance_json_schema()
    undescribed = [where for where, prop in _properties(schema) if not prop.get("description", "").strip()]
    assert len(list(_properties(schema))) > 100
    assert undescribed == []


def test_every_field_of_the_tracker_models_is_described():
    schema = Actuals.model_json_schema()
    assert [where for where, prop in _properties(schema) if not prop.get("description")] == []


def test_descriptions_are_the_field_docstrings():
    props = instance_json_schema()["$defs"]["Scheme"]["properties"]
    # the docstring under the field in schema/instance.py, as written there
    assert props["confidence"]["description"] == "Probability of delivery, 0 to 1."
    assert docs.description(Scheme, "confidence") == "Probability of delivery, 0 to 1."
    assert Scheme.model_config["use_attribute_docstrings"]
    assert props["category"]["enum"][-1] == "other"  # the stated choices reach front ends


def test_the_format_docs_table_agrees_with_the_models():
    text = docs.FORMAT_DOC.read_text(encoding="utf-8")
    assert docs.with_table(text) == text, "run: python -m cipopt.schema.docs --write"
    assert docs.main(["--check"]) == 0


def test_the_docs_check_fails_on_a_stale_table(tmp_path, capsys):
    text = docs.FORMAT_DOC.read_text(encoding="utf-8")
    stale = tmp_path / "format.md"
    stale.write_text(text.replace("| `schemes` |", "| `schemas` |").replace(
        docs.description(Scheme, "qia_risk"), "Risk."), encoding="utf-8")
    assert docs.main(["--check", "--doc", str(stale)]) == 1
    assert "--write" in capsys.readouterr().err
    assert docs.main(["--write", "--doc", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == text
    (tmp_path / "none.md").write_text("no markers")
    assert docs.main(["--check", "--doc", str(tmp_path / "none.md")]) == 2


def test_the_table_names_every_key_and_column():
    table = docs.format_table()
    for key, _model, _name in docs.yaml_keys():
        assert f"| `{key}` |" in table
    for name in Scheme.model_fields:
        if name not in docs.NOT_COLUMNS["schemes"]:
            assert f"| `{name}` |" in table
    assert "| `risk_groups[].correlation` |" in table


@pytest.fixture(scope="module")
def template():
    return load_workbook(io.BytesIO(template_workbook()))


def _header(ws, row: int = 1) -> list[str]:
    return [c.value for c in ws[row] if c.value is not None]


@pytest.mark.parametrize("table", list(docs.TABLE_MODELS))
def test_every_column_of_a_table_is_in_the_template_with_its_note(template, table):
    ws = template[table]
    assert _header(ws) == list(docs.columns(table))
    for c, name in enumerate(docs.columns(table), start=1):
        note = ws.cell(1, c).comment
        assert note is not None and docs.description(docs.TABLE_MODELS[table], name) in note.text


def test_the_template_offers_every_choice_the_models_state(template):
    ws = template["schemes"]
    lists = {str(dv.sqref).split(":")[0].rstrip("0123456789"): dv.formula1 for dv in ws.data_validations.dataValidation}
    header = _header(ws)
    for name in docs.columns("schemes"):
        values = docs.choices(Scheme, name)
        if values:
            letter = ws.cell(1, header.index(name) + 1).column_letter
            assert lists[letter] == '"' + ",".join(values) + '"', name


def _context_blocks(ws) -> dict[str, list[str]]:
    """Each block of the context sheet: its title -> its header row (settings: the keys listed)."""
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    blocks, i = {}, 0
    while i < len(rows):
        first = rows[i][0]
        if isinstance(first, str) and all(v is None for v in rows[i][1:]) and i + 1 < len(rows):
            header = [v for v in rows[i + 1] if v is not None]
            if first == "settings":
                keys = []
                for row in rows[i + 2:]:
                    if row[0] is None:
                        break
                    keys.append(row[0])
                header = keys
            blocks[first] = header
        i += 1
    return blocks


def test_every_key_of_instance_yaml_is_in_the_template(template):
    """The risk_groups class of bug: a key the models have and the blank workbook cannot hold."""
    blocks = _context_blocks(template[CONTEXT_SHEET])
    for section, model in docs.SECTION_MODELS.items():
        assert section in blocks, section
        for name in model.model_fields:
            if name == "values":  # one column per year
                assert any(isinstance(h, int) for h in blocks[section]), section
            else:
                assert name in blocks[section], f"{section}.{name}"
    assert set(blocks["quality"]) == {"domain", "scheme_min", "portfolio_min"}
    settings = set(blocks["settings"])
    for key, model, name in docs.yaml_keys():
        top = key.split(".")[0].split("[")[0]
        if top in docs.SECTION_MODELS or top == "quality" or key.startswith("finance."):
            continue  # blocks, the quality block, finance's one JSON cell
        if key in ("objective", "solver"):
            continue  # listed key by key
        assert key in settings, key
    assert "finance" in settings
    assert set(Instance.model_fields) - set(docs.TABLE_MODELS) - settings - set(blocks) \
        <= {"objective", "solver"}


# -- the scenario file: its models and its reader agree ----------------------------------------------

SOUND_SCENARIOS = [
    "description: capital halved\nscale: [{limit: capital, factor: 0.5}]\n",
    "scale: {metric: saving, category: agency, org: [holby], factor: 0.8}\n",
    "scale: [{target: underlying, factor: 1.1, years: [2026, 2027]}, {metric: confidence, schemes: p1, factor: 0.9}]\n",
    "delay: [{org: holby, years: -1}]\nforce_in: p1\n",
    "context: {limits: {pmo: null}}\nschemes: {epr: {confidence: 0.6}}\nforce_out: [a1]\n",
    "description:\nforce_in: [p1, p2]\n",
]
BROKEN_SCENARIOS = [
    "description: [1, 2]\n", "context: [1]\n", "schemes: [a1]\n", "scale: 0.8\n",
    "scale: [{metric: saving, factor: lots}]\n", "scale: [{metric: saving, factor: -1}]\n",
    "scale: [{metric: saving}]\n", "scale: [{metric: saving, limit: capital, factor: 1}]\n",
    "scale: [{factor: 1}]\n", "scale: [{limit: capital, category: agency, factor: 1}]\n",
    "scale: [{metric: saving, years: [2026], factor: 1}]\n", "delay: [{category: agency}]\n",
    "delay: [{years: soon}]\n", "delay: 2\n", "force_in: [{a: 1}]\n", "force_out: 3\n",
]


def _shipped_scenarios() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted((docs.FORMAT_DOC.parents[1] / "instances").glob("*/scenarios/*.y*ml"))]


def _reader_ok(text: str) -> bool:
    import yaml

    from cipopt.analysis.scenario import parse_scenario
    from cipopt.schema.problems import ProblemLog

    log = ProblemLog()
    scenario = parse_scenario(yaml.safe_load(text), "what-if", "what-if.yaml", log)
    return scenario is not None and not log.errors


def _model_ok(text: str) -> bool:
    import yaml
    from pydantic import ValidationError

    from cipopt.schema.scenario import ScenarioFile

    try:
        ScenarioFile.model_validate(yaml.safe_load(text))
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("text", SOUND_SCENARIOS + BROKEN_SCENARIOS + _shipped_scenarios())
def test_the_scenario_models_and_the_reader_accept_the_same_files(text, monkeypatch):
    """The reader's own checks (its messages) and the models refuse the same files."""
    import cipopt.analysis.scenario_read as reading

    assert _reader_ok(text) == (text not in BROKEN_SCENARIOS), text
    monkeypatch.setattr(reading, "_model_problems", lambda data, file, log: None)
    assert _reader_ok(text) == _model_ok(text) == (text not in BROKEN_SCENARIOS), text


def test_a_rule_of_the_scenario_models_holds_in_the_reader(monkeypatch):
    """A rule added to the models is enforced at once, with its key, before the reader has words for it."""
    import yaml
    from pydantic import Field

    import cipopt.analysis.scenario_read as reading
    from cipopt.analysis.scenario import parse_scenario
    from cipopt.schema.problems import ProblemLog
    from cipopt.schema.scenario import DelayEntry, ScenarioFile

    class ShortDelay(DelayEntry):
        years: int = Field(ge=-1, le=1)

    class Stricter(ScenarioFile):
        delay: tuple[ShortDelay, ...] = ()

    monkeypatch.setattr(reading, "ScenarioFile", Stricter)
    log = ProblemLog()
    parse_scenario(yaml.safe_load("delay: [{years: 1}, {category: agency, years: 3}]\n"), "w", "w.yaml", log)
    (error,) = log.errors
    assert error.key == "delay[1].years" and "3 is out of range" in error.message


def test_the_reader_knows_the_scenario_keys_from_the_models():
    import yaml

    from cipopt.analysis.scenario import parse_scenario
    from cipopt.schema.problems import ProblemLog
    from cipopt.schema.scenario import DelayEntry, ScaleEntry, ScenarioFile

    log = ProblemLog()
    parse_scenario(yaml.safe_load("forced_in: [p1]\nscale: [{metric: saving, factr: 1, factor: 1}]\n"
                                  "delay: [{years: 1, organisation: x}]\n"), "w", "w.yaml", log)
    warned = {p.key: p.message for p in log.warnings}
    assert warned.keys() == {"forced_in", "scale[0].factr", "delay[0].organisation"}
    assert ", ".join(ScenarioFile.model_fields) in warned["forced_in"]
    assert ", ".join(ScaleEntry.model_fields) in warned["scale[0].factr"]
    assert ", ".join(DelayEntry.model_fields) in warned["delay[0].organisation"]
    for model in (ScenarioFile, ScaleEntry, DelayEntry):
        assert all(info.description for info in model.model_fields.values()), model.__name__
