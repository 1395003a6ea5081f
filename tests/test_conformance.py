"""Files the format contract (format v1) allows must load and solve: relations that make schemes
impossible, lags that mean nothing, and criteria given as ranges or only an order of importance.
Each answer is checked against an independent recomputation (brute force, Monte Carlo)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cipopt.cli import main
from cipopt.io.load import load_instance
from cipopt.pipeline import solve_instance
from cipopt.schema.instance import Instance, Relation, Scheme
from cipopt.schema.nominal import nominal_weights, polytope_centroid, rank_order_centroid
from cipopt.schema.problems import ProblemLog
from cipopt.schema.validate import validate_instance


def test_a_region_of_20000_schemes_with_21_impossible_ones_is_solved():
    """Each of 21 schemes requires a partner 4 years before it in a 3-year plan: never selectable.
    They are warned about, left out, and everything else is chosen (nothing limits it)."""
    n = 20_000
    schemes = tuple(Scheme(id=f"s{i}", org="trust", recurrent_saving=10 + i % 7) for i in range(n))
    relations = tuple(Relation(kind="requires", a=f"s{i}", b=f"s{i + 1}", lag=4) for i in range(0, 42, 2))
    inst = Instance(years=(2025, 2026, 2027), schemes=schemes, relations=relations)
    log = ProblemLog()
    validate_instance(inst, log)
    assert not log.errors
    warned = {p.message.split(" can never be selected")[0] for p in log.warnings}
    impossible = {f"s{i}" for i in range(0, 42, 2)}
    assert warned == impossible
    outcome = solve_instance(inst)
    assert outcome.status.value == "optimal" and outcome.check.ok
    assert set(outcome.selected) == {s.id for s in schemes} - impossible


# -- nominal weights ------------------------------------------------------------------------------

def test_the_centroid_of_an_order_alone_is_the_rank_order_centroid():
    """ROC (Barron and Barrett) is the centroid of the ordered simplex: two computations agree."""
    for n in (2, 3, 4, 5):
        order = tuple(np.random.default_rng(n).permutation(n))
        exact = polytope_centroid(np.zeros(n), np.ones(n), order)
        expected = np.zeros(n)
        expected[list(order)] = rank_order_centroid(n)
        assert np.allclose(exact, expected, atol=1e-9)
    assert np.allclose(rank_order_centroid(3), [11 / 18, 5 / 18, 2 / 18])


@pytest.mark.parametrize("lo, hi, order", [
    ([0.1, 0.2, 0.3], [0.5, 0.6, 0.7], ()),
    ([0.0, 0.1, 0.0, 0.2], [0.6, 0.5, 0.4, 0.5], ()),
    ([0.2, 0.0, 0.0], [0.7, 1.0, 0.5], (1, 0, 2)),
])
def test_the_centroid_of_ranges_matches_a_monte_carlo_mean(lo, hi, order):
    lo, hi = np.array(lo), np.array(hi)
    exact = polytope_centroid(lo, hi, order)
    draws = np.random.default_rng(7).dirichlet(np.ones(len(lo)), 3_000_000)
    keep = ((draws >= lo) & (draws <= hi)).all(axis=1)
    for a, b in zip(order, order[1:]):
        keep &= draws[:, a] >= draws[:, b]
    assert keep.sum() > 50_000
    assert np.allclose(exact, draws[keep].mean(axis=0), atol=2e-3)
    assert abs(exact.sum() - 1) < 1e-9


FUND_YAML = """\
format_version: 1
years: [2025]
limits:
  - {id: fund, metric: capital_cost, sense: "<=", values: {2025: 10}}
criteria:
  - {id: value, weight_min: 0.2, weight_max: 0.5}
  - {id: reach, weight_min: 0.1, weight_max: 0.9}
objective: {mode: weighted_score, risk: none}
"""
FUND_SCHEMES = "id,capital_cost\na,6\nb,4\nc,5\nd,1\n"
FUND_SCORES = "scheme,criterion,score\na,value,90\na,reach,10\nb,value,20\nb,reach,70\nc,value,60\nc,reach,60\nd,value,5\nd,reach,30\n"


def _fund(folder: Path, yaml: str = FUND_YAML) -> Path:
    folder.mkdir()
    (folder / "instance.yaml").write_text(yaml)
    (folder / "schemes.csv").write_text(FUND_SCHEMES)
    (folder / "scores.csv").write_text(FUND_SCORES)
    return folder


@pytest.mark.parametrize("yaml, weights", [
    # value in 0.2..0.5, reach = 1 - value in 0.1..0.9: value 0.2..0.5, centre 0.35
    (FUND_YAML, {"value": 0.35, "reach": 0.65}),
    # an order alone: the rank-order centroid of two criteria, 3/4 and 1/4
    (FUND_YAML.replace("  - {id: value, weight_min: 0.2, weight_max: 0.5}\n  - {id: reach, weight_min: 0.1, "
                       "weight_max: 0.9}\n", "  - {id: value}\n  - {id: reach}\n") + "criteria_order: [reach, value]\n",
     {"value": 0.25, "reach": 0.75}),
])
def test_weighted_score_with_ranges_or_an_order_solves_at_the_documented_weights(tmp_path, yaml, weights):
    inst = load_instance(_fund(tmp_path / "fund", yaml))
    assert nominal_weights(inst)[0] == pytest.approx(weights)
    scores = {(r.scheme, r.criterion): r.score for r in inst.scores}
    cost = {s.id: s.capital_cost for s in inst.schemes}

    def value(subset):
        return sum(w * scores[s, c] for s in subset for c, w in weights.items())

    best = max((sub for k in range(5) for sub in itertools.combinations("abcd", k)
                if sum(cost[s] for s in sub) <= 10), key=value)
    outcome = solve_instance(inst)
    assert outcome.status.value == "optimal" and outcome.check.ok
    assert outcome.objective == pytest.approx(value(best))
    assert outcome.check.objective == pytest.approx(value(best))
    assert set(outcome.selected) == set(best)
    (note,) = [n for n in outcome.check.notes if n.startswith("weighted_score counts")]  # the weights used, stated
    assert f"value {weights['value']:.4g}" in note and f"reach {weights['reach']:.4g}" in note


def test_rank_and_solve_run_on_an_instance_with_weight_ranges(tmp_path):
    folder = _fund(tmp_path / "fund")
    runner = CliRunner()
    solved = runner.invoke(main, ["solve", str(folder), "--quiet"], catch_exceptions=False)
    assert solved.exit_code == 0, solved.output
    ranked = runner.invoke(main, ["rank", str(folder), "--steps", "2", "--samples", "50", "--out",
                                  str(tmp_path / "rank")], catch_exceptions=False)
    assert ranked.exit_code == 0, ranked.output


# -- the format page lives in the project ---------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def _documents() -> list[Path]:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").rglob("*.md")),
            *sorted((ROOT / "instances").glob("*/README.md")), *sorted((ROOT / "benchmarks").glob("*.md"))]
    return [d for d in docs if d.exists()]


def test_no_document_links_outside_the_repository():
    import re

    for doc in _documents():
        text = doc.read_text()
        assert "../shared" not in text, f"{doc.relative_to(ROOT)} points outside the repository"
        for target in re.findall(r"\]\(([^)#\s]+)", text):
            if "://" in target or target.startswith("mailto:"):
                continue
            resolved = (doc.parent / target).resolve()
            assert ROOT in resolved.parents or resolved == ROOT, f"{doc.relative_to(ROOT)} links to {target}"
            assert resolved.exists(), f"{doc.relative_to(ROOT)} links to {target}, which does not exist"


def test_the_format_page_documents_every_column_and_key():
    import re

    from cipopt.io.tables import TABLES
    from cipopt.schema.instance import Instance, Objective, Quality, SolverOptions

    text = (ROOT / "docs" / "format.md").read_text()
    for name, spec in TABLES.items():
        assert f"{name}.csv" in text
        for column in spec.columns:
            assert re.search(rf"`[^`]*\b{column}\b[^`]*`", text), f"{name}.csv column {column} is not in docs/format.md"
    for model in (Instance, Objective, Quality, SolverOptions):
        for key in model.model_fields:
            if key not in ("schemes", "profiles", "relations", "shares", "scores"):
                assert key in text, f"{model.__name__}.{key} is not in docs/format.md"
    assert "weight_min" in text and "criteria_order" in text and "rank-order centroid" in text
