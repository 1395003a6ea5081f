"""Scenario files (`scenarios/NAME.yaml`): each kind of change does exactly what docs/whatif.md
says, and every bad file is refused with its file and key named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cipopt.analysis.scenario import apply_file, load_scenarios, scenario_files
from cipopt.cli import main
from cipopt.io.load import load_instance
from cipopt.schema.problems import InputError, ProblemLog
from cipopt.schema.validate import validate_instance
from golden import make

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"
HOLBY = ROOT / "instances" / "holby"


@pytest.fixture(scope="module")
def base():
    return make(
        [
            {"id": "a1", "category": "agency", "recurrent_saving": 100, "earliest_start": 2025,
             "latest_start": 2026, "pmo_days": 10},
            {"id": "a2", "category": "agency", "recurrent_saving": 50, "mandatory": True, "pmo_days": 5},
            {"id": "p1", "category": "procurement", "recurrent_saving": 80, "capital_cost": 40,
             "confidence": 0.9, "pmo_days": 0},
            {"id": "e1", "category": "estates", "nonrecurrent_saving": 30, "safety": -1, "pmo_days": 0},
        ],
        profiles=[
            {"scheme": "a1", "offset": 0, "metric": "saving", "value": 20},
            {"scheme": "a1", "offset": 1, "metric": "saving", "value": 100},
            {"scheme": "p1", "offset": 0, "metric": "pmo_days", "value": 30},
            {"scheme": "p1", "offset": 0, "metric": "capital_cost", "value": 25},
        ],
        limits=[
            {"id": "capital", "metric": "capital_cost", "values": {2025: 100, 2026: 100, 2027: 60}},
            {"id": "pmo", "metric": "pmo_days", "values": {2025: 50, 2026: 50}},
        ],
        targets=[{"id": "underlying", "values": {2025: 100, 2026: 200, 2027: 300}, "shortfall_penalty": 2}],
        quality={"scheme_min": {"safety": 0}, "portfolio_min": {"experience": 0}},
    )


def scenario(tmp_path: Path, text: str, name: str = "what-if") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def apply(base, tmp_path, text, log=None):
    return apply_file(base, scenario(tmp_path, text), log)


def problems(base, tmp_path, text):
    """The errors a scenario gives, as (key, message)."""
    with pytest.raises(InputError) as info:
        apply(base, tmp_path, text)
    for p in info.value.errors:
        assert p.file.endswith("what-if.yaml")
    return [(p.key, p.message) for p in info.value.errors]


def by_id(instance, sid):
    return next(s for s in instance.schemes if s.id == sid)


def sound(instance):
    log = ProblemLog()
    validate_instance(instance, log)
    return not log.errors


# -- context: a deep merge into instance.yaml ---------------------------------------------------

def test_a_limit_changes_one_year_by_id(base, tmp_path):
    out = apply(base, tmp_path, "context:\n  limits:\n    capital: {values: {2026: 50}}\n").instance
    capital = next(lim for lim in out.limits if lim.id == "capital")
    assert capital.values == {2025: 100, 2026: 50, 2027: 60}
    assert capital.metric == "capital_cost" and capital.sense == "<="
    assert [lim.id for lim in out.limits] == ["capital", "pmo"]
    assert out.limits[1] == base.limits[1] and out.targets == base.targets and out.schemes == base.schemes


def test_null_removes_a_rule_or_a_year(base, tmp_path):
    out = apply(base, tmp_path, "context:\n  limits:\n    pmo: null\n    capital: {values: {'2027': null}}\n").instance
    assert [lim.id for lim in out.limits] == ["capital"]
    assert out.limits[0].values == {2025: 100, 2026: 100}
    out = apply(base, tmp_path, "context:\n  quality: {portfolio_min: {experience: null}}\n").instance
    assert out.quality.portfolio_min == {} and out.quality.scheme_min == {"safety": 0}


def test_a_list_replaces_every_rule(base, tmp_path):
    out = apply(base, tmp_path, "context:\n  limits:\n    - {id: cap, metric: capital_cost, values: {2025: 10}}\n").instance
    assert [(lim.id, lim.values) for lim in out.limits] == [("cap", {2025: 10})]


def test_nested_sections_merge_and_scalars_replace(base, tmp_path):
    out = apply(base, tmp_path, "context:\n  quality: {portfolio_min: {access: 1}, max_risk: 9}\n"
                                "  discount_rate: 0.05\n  objective: {risk: expected}\n").instance
    assert out.quality.portfolio_min == {"experience": 0, "access": 1}
    assert out.quality.max_risk == 9 and out.quality.scheme_min == {"safety": 0}
    assert out.discount_rate == 0.05
    assert out.objective.risk == "expected" and out.objective.mode == base.objective.mode


def test_a_new_rule_by_id_is_added_with_a_warning(base, tmp_path):
    log = ProblemLog()
    out = apply(base, tmp_path, "context:\n  targets:\n    undrlying: {values: {2025: 5}}\n", log).instance
    assert [t.id for t in out.targets] == ["underlying", "undrlying"]
    (warning,) = log.warnings
    assert warning.key == "context.targets.undrlying" and "did you mean 'underlying'" in warning.message


def test_context_problems_name_the_scenario_key(base, tmp_path):
    found = problems(base, tmp_path, "context:\n  years: [2025]\n  limits:\n    capital: {sense: '<'}\n"
                                     "  discount_rate: 2\n")
    keys = {k for k, _ in found}
    assert {"context.years", "context.limits.capital.sense", "context.discount_rate"} <= keys
    assert any("cannot be changed" in m for k, m in found if k == "context.years")
    found = problems(base, tmp_path, "context:\n  limits:\n    capital: {values: {2031: 5}}\n"
                                     "    wte: {metric: wte_nursing, values: {2025: 1}}\n")
    assert {k for k, _ in found} == {"context.limits.capital.values.2031", "context.limits.wte.metric"}
    assert any("outside the plan years" in m for _, m in found)
    assert any("unknown metric 'wte_nursing'" in m for _, m in found)


def test_unknown_context_keys_are_warnings(base, tmp_path):
    log = ProblemLog()
    out = apply(base, tmp_path, "context:\n  discount_rat: 0.1\n  quality: {portfolio_mn: {access: 1}}\n", log).instance
    assert out == base
    assert {(p.key, p.severity) for p in log.problems} == {
        ("context.discount_rat", "warning"), ("context.quality.portfolio_mn", "warning")}


# -- schemes: per-scheme field changes ------------------------------------------------------------

def test_scheme_fields_metrics_and_windows_change(base, tmp_path):
    out = apply(base, tmp_path, "schemes:\n  a2: {confidence: 0.5, pmo_days: 20, name: Agency two}\n"
                                "  p1: {earliest_start: 2026, mandatory: yes}\n").instance
    a2, p1 = by_id(out, "a2"), by_id(out, "p1")
    assert (a2.confidence, a2.metrics["pmo_days"], a2.name) == (0.5, 20.0, "Agency two")
    assert a2.recurrent_saving == 50 and a2.mandatory
    assert p1.earliest_start == 2026 and p1.mandatory is True
    assert by_id(out, "a1") == by_id(base, "a1") and sound(out)


def test_a_field_a_profile_replaces_is_a_warning(base, tmp_path):
    log = ProblemLog()
    apply(base, tmp_path, "schemes:\n  a1: {recurrent_saving: 500}\n", log)
    (warning,) = log.warnings
    assert warning.key == "schemes.a1.recurrent_saving" and "profiles.csv" in warning.message


def test_scheme_problems_name_the_scenario_key(base, tmp_path):
    found = dict(problems(base, tmp_path, "schemes:\n  a1x: {confidence: 0.5}\n  a1: {pmo_dayz: 3, confidence: 2}\n"
                                          "  p1: {latest_start: 2031}\n"))
    assert "unknown scheme 'a1x'" in found["schemes.a1x"] and "did you mean 'a1'" in found["schemes.a1x"]
    assert "did you mean 'pmo_days'" in found["schemes.a1.pmo_dayz"]
    assert "outside the plan years" in found["schemes.p1.latest_start"]
    found = dict(problems(base, tmp_path, "schemes:\n  a1: {confidence: 2}\n"))
    assert "out of range" in found["schemes.a1.confidence"]


# -- scale ---------------------------------------------------------------------------------------

def test_scaling_a_metric_changes_values_and_profiles_of_the_selected_schemes(base, tmp_path):
    out = apply(base, tmp_path, "scale:\n  - {metric: saving, category: agency, factor: 0.8}\n").instance
    assert by_id(out, "a1").recurrent_saving == pytest.approx(80)
    assert by_id(out, "a2").recurrent_saving == pytest.approx(40)
    assert by_id(out, "p1") == by_id(base, "p1") and by_id(out, "e1") == by_id(base, "e1")
    saving = {(p.scheme, p.offset): p.value for p in out.profiles if p.metric == "saving"}
    assert saving == pytest.approx({("a1", 0): 16, ("a1", 1): 80})
    assert [p for p in out.profiles if p.metric != "saving"] == [p for p in base.profiles if p.metric != "saving"]
    assert out.limits == base.limits and out.targets == base.targets


def test_scaling_by_scheme_ids_and_a_custom_metric_and_costs(base, tmp_path):
    out = apply(base, tmp_path, "scale:\n  - {metric: pmo_days, schemes: [a1, p1], factor: 2}\n"
                                "  - {metric: capital_cost, org: trust, factor: 1.5}\n").instance
    assert by_id(out, "a1").metrics["pmo_days"] == 20 and by_id(out, "a2").metrics["pmo_days"] == 5
    rows = {(p.scheme, p.offset, p.metric): p.value for p in out.profiles}
    assert rows[("p1", 0, "pmo_days")] == 60 and rows[("p1", 0, "capital_cost")] == pytest.approx(37.5)
    assert (rows[("a1", 0, "saving")], rows[("a1", 1, "saving")]) == (20, 100)
    assert by_id(out, "p1").capital_cost == pytest.approx(60)


def test_scaling_a_limit_or_a_target_and_confidence(base, tmp_path):
    log = ProblemLog()
    out = apply(base, tmp_path, "scale:\n  - {limit: capital, factor: 0.5}\n"
                                "  - {target: underlying, factor: 1.1, years: [2026, 2027]}\n"
                                "  - {metric: confidence, factor: 1.2}\n", log).instance
    assert out.limits[0].values == {2025: 50, 2026: 50, 2027: 30} and out.limits[1] == base.limits[1]
    assert out.targets[0].values == pytest.approx({2025: 100, 2026: 220, 2027: 330})
    assert by_id(out, "p1").confidence == pytest.approx(1.0) and by_id(out, "a1").confidence == 1.0
    (warning,) = log.warnings
    assert warning.key == "scale[2].factor" and "at most 1" in warning.message


def test_scale_problems_name_the_scenario_key(base, tmp_path):
    found = dict(problems(base, tmp_path, "scale:\n  - {metric: savings, factor: 0.8}\n"
                                          "  - {metric: safety, factor: 2}\n"
                                          "  - {metric: saving, category: agncy, factor: 0.5}\n"
                                          "  - {limit: capital, metric: saving, factor: 1}\n"
                                          "  - {limit: captial, factor: 1}\n"
                                          "  - {target: underlying, factor: 1, years: [2030]}\n"
                                          "  - {metric: saving, schemes: [zz], factor: 1}\n"))
    assert "unknown metric 'savings'" in found["scale[0].metric"] and "did you mean 'saving'" in found["scale[0].metric"]
    assert "quality impact score" in found["scale[1].metric"]
    assert "did you mean 'agency'" in found["scale[2].category"]
    assert "exactly one of" in found["scale[3]"]
    assert "did you mean 'capital'" in found["scale[4].limit"]
    assert "no value for 2030" in found["scale[5].years"]
    assert "unknown scheme 'zz'" in found["scale[6].schemes"]
    for bad in ("-1", "abc", "true", ".nan"):
        found = dict(problems(base, tmp_path, f"scale:\n  - {{metric: saving, factor: {bad}}}\n"))
        assert set(found) == {"scale[0].factor"}
    found = dict(problems(base, tmp_path, "scale:\n  - {metric: saving}\n"))
    assert "is required" in found["scale[0].factor"]


# -- delay ---------------------------------------------------------------------------------------

def test_a_delay_shifts_the_start_windows(base, tmp_path):
    applied = apply(base, tmp_path, "delay:\n  - {category: agency, years: 1}\n")
    out = applied.instance
    assert (by_id(out, "a1").earliest_start, by_id(out, "a1").latest_start) == (2026, 2027)
    assert (by_id(out, "a2").earliest_start, by_id(out, "a2").latest_start) == (2026, 2027)
    assert by_id(out, "p1") == by_id(base, "p1") and not applied.notes
    assert not any(s.excluded for s in out.schemes) and sound(out)


def test_a_scheme_delayed_out_of_the_plan_years_cannot_start_and_is_named(base, tmp_path):
    applied = apply(base, tmp_path, "delay:\n  - {schemes: [a1, a2], years: 3}\n")
    out = applied.instance
    assert by_id(out, "a1").excluded and by_id(out, "a2").excluded
    assert not by_id(out, "p1").excluded and sound(out)
    assert any(n.startswith("a1 cannot start within the plan years") for n in applied.notes)
    assert any(n.startswith("a2 cannot start") and "mandatory" in n for n in applied.notes)


def test_a_negative_delay_brings_schemes_forward_within_the_plan(base, tmp_path):
    out = apply(base, tmp_path, "delay:\n  - {org: trust, years: -1}\n").instance
    assert (by_id(out, "a1").earliest_start, by_id(out, "a1").latest_start) == (2025, 2025)
    assert (by_id(out, "p1").earliest_start, by_id(out, "p1").latest_start) == (2025, 2026)


def test_delay_problems_name_the_scenario_key(base, tmp_path):
    found = dict(problems(base, tmp_path, "delay:\n  - {category: agency, years: 1.5}\n  - {org: nhs, years: 1}\n"
                                          "  - {category: agency}\n"))
    assert set(found) == {"delay[0].years", "delay[1].org", "delay[2].years"}


# -- force_in / force_out -----------------------------------------------------------------------

def test_force_in_and_out(base, tmp_path):
    log = ProblemLog()
    applied = apply(base, tmp_path, "force_in: [p1, e1]\nforce_out: [a2]\n", log)
    out = applied.instance
    assert by_id(out, "p1").mandatory and not by_id(out, "p1").excluded
    assert by_id(out, "a2").excluded and not by_id(out, "a2").mandatory
    assert {p.key for p in log.warnings} == {"force_in[1]", "force_out[0]"}  # e1 is QIA-barred; a2 was mandatory
    assert any("e1 is forced in but barred by the QIA rules" in n for n in applied.notes)


def test_force_problems(base, tmp_path):
    found = dict(problems(base, tmp_path, "force_in: [p1, zz]\nforce_out: [p1]\n"))
    assert "both force_in and force_out" in found["force_out[0]"]
    found = dict(problems(base, tmp_path, "force_in: [p1, zz]\n"))
    assert "unknown scheme 'zz'" in found["force_in[1]"]


# -- the file as a whole --------------------------------------------------------------------------

def test_parts_apply_in_the_documented_order(base, tmp_path):
    applied = apply(base, tmp_path, "description: all at once\ncontext: {limits: {capital: {values: {2025: 80}}}}\n"
                                    "schemes: {p1: {recurrent_saving: 200}}\n"
                                    "scale: [{metric: saving, schemes: [p1], factor: 0.5}, {limit: capital, factor: 0.5}]\n"
                                    "delay: [{schemes: [p1], years: 1}]\nforce_in: [p1]\n")
    p1 = by_id(applied.instance, "p1")
    assert p1.recurrent_saving == 100  # schemes, then scale
    assert applied.instance.limits[0].values[2025] == 40  # context, then scale
    assert (p1.earliest_start, p1.mandatory) == (2026, True)
    assert applied.description == "all at once" and len(applied.changes) == 6


def test_broken_files_are_refused_with_their_place(base, tmp_path):
    cases = {
        "limits: [oops\n": "is not valid YAML at line 2",
        "force_in: [a1]\nforce_in: [a2]\n": "appears twice",
        "- a list\n": "must be a mapping",
        "# nothing\n": "is empty",
        "description: [1, 2]\n": "expected text",
        "schemes: [a1]\n": "expected a mapping from scheme id",
        "scale: 0.8\n": "expected a list of entries",
        "!!python/object/apply:os.system ['echo hacked']\n": "is not valid YAML",
    }
    for text, words in cases.items():
        with pytest.raises(InputError) as info:
            apply(base, tmp_path, text)
        message = str(info.value)
        assert "what-if.yaml" in message and words in message, (text, message)


def test_unknown_top_level_keys_are_warnings_and_the_rest_applies(base, tmp_path):
    log = ProblemLog()
    out = apply(base, tmp_path, "forced_in: [p1]\nforce_out: [a1]\n", log).instance
    (warning,) = log.problems
    assert warning.severity == "warning" and warning.key == "forced_in" and "did you mean 'force_in'" in warning.message
    assert by_id(out, "a1").excluded and not by_id(out, "p1").mandatory


def test_scenarios_combine_with_plus_and_are_found_by_name(base, tmp_path):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    scenario(folder, "description: capital halved\nscale: [{limit: capital, factor: 0.5}]\n", "cap")
    scenario(folder, "description: agency late\ndelay: [{category: agency, years: 1}]\n", "late")
    assert [p.stem for p in scenario_files(tmp_path)] == ["cap", "late"]
    (both,) = load_scenarios(tmp_path, base, ["cap+late"])
    assert both.name == "cap+late" and both.description == "capital halved; agency late"
    assert both.instance.limits[0].values[2025] == 50 and by_id(both.instance, "a1").earliest_start == 2026
    with pytest.raises(InputError) as info:
        load_scenarios(tmp_path, base, ["cap", "lates"])
    (error,) = info.value.errors
    assert error.file.endswith("lates.yaml") and "did you mean 'late'" in error.message and "cap, late" in error.message


def test_holby_ships_sound_scenarios():
    holby = load_instance(HOLBY)
    names = [p.stem for p in scenario_files(HOLBY)]
    assert len(names) >= 4
    log = ProblemLog()
    for applied in load_scenarios(HOLBY, holby, names, log):
        assert applied.description and applied.changes, applied.name
        assert applied.instance != holby and sound(applied.instance), applied.name
        assert [s.id for s in applied.instance.schemes] == [s.id for s in holby.schemes]
    assert not log.problems


# -- the command ---------------------------------------------------------------------------------

def test_bad_scenario_files_give_exit_2_naming_the_file_and_key(tmp_path):
    inst = tmp_path / "tiny"
    shutil.copytree(TINY, inst)
    (inst / "scenarios").mkdir()
    files = {
        "broken": ("scale: [{metric: saving, factor: 0.8\n", "broken.yaml: is not valid YAML at line 2"),
        "ghost": ("force_in: [ghost-scheme]\n", "ghost.yaml, key force_in[0]: unknown scheme 'ghost-scheme'"),
        "metric": ("scale:\n  - {metric: pmo_days, factor: 0.8}\n", "metric.yaml, key scale[0].metric: unknown metric"),
        "factor": ("scale:\n  - {metric: saving, factor: lots}\n", "factor.yaml, key scale[0].factor: expected a number"),
    }
    for name, (text, _) in files.items():
        (inst / "scenarios" / f"{name}.yaml").write_text(text)
    for name, (_, words) in files.items():
        result = CliRunner().invoke(main, ["whatif", str(inst), "--scenario", name, "--out", str(tmp_path / name)])
        assert result.exit_code == 2, (name, result.output)
        assert words in result.output, (name, result.output)
        assert not (tmp_path / name).exists()
    result = CliRunner().invoke(main, ["whatif", str(inst), "--all"])  # every problem of every file at once
    assert result.exit_code == 2
    for _, words in files.values():
        assert words in result.output
    result = CliRunner().invoke(main, ["whatif", str(inst), "--scenario", "nope"])
    assert result.exit_code == 2 and "no scenario 'nope'" in result.output
