"""Risk-aware selection over sampled delivery scenarios (`objective.risk: cvar | chance`).

The scenarios are `cipopt.uncertainty.sample(instance, objective.seed, objective.draws)`, the
same draws `cipopt simulate --seed S --draws N` makes. In scenario w a start (s, t) adds
A_w(s,t,y) to a target's net saving: its savings times what delivery brings in that draw (0 if
the scheme fails, its multiplier if not, a year late if it slips), less its costs as planned.

cvar: the loss of a scenario is the discounted shortfall of the risk targets; its conditional
value at risk (Rockafellar-Uryasev, linear) is bounded (`cvar_max`) or priced (`cvar_penalty`).
chance: the named target holds in every year it names in all but floor((1 - p) N) scenarios,
with one binary per scenario and a big-M taken from the data (the least the row can be).
"""

from __future__ import annotations

import math

import numpy as np
import pyomo.core as pyo
import scipy.sparse as sp

from cipopt.model.context import BuildNotes, ModelContext, add_rows, extend_objective, fmt
from cipopt.model.family import Family, Proof, no_rule_rows, no_rules, nothing, proof_suffix
from cipopt.schema.instance import Instance, Target
from cipopt.uncertainty import Draws, cvar, net_terms, sample

SHORTFALL, EXCESS, CVAR_MAX = "c_risk_shortfall", "c_cvar_excess", "c_cvar_max"
CHANCE_TARGET, CHANCE_COUNT = "c_chance_target", "c_chance_count"
RISK_PENALTY = 0.01  # docs/risk.md: in the diagnosis the risk rule bends first, being the one asked for


def targets_at_risk(instance: Instance) -> list[Target]:
    """cvar: `risk_targets` (default all); chance: `chance_target`; otherwise none."""
    o = instance.objective
    if o.risk == "chance":
        return [t for t in instance.targets if t.id == o.chance_target]
    if o.risk == "cvar":
        ids = set(o.risk_targets) if o.risk_targets is not None else {t.id for t in instance.targets}
        return [t for t in instance.targets if t.id in ids]
    return []


def scenario_draws(ctx: ModelContext) -> Draws:
    o = ctx.instance.objective
    return ctx.coef.memo(("risk_draws", o.seed, o.draws), lambda: sample(ctx.instance, o.seed, o.draws))


def scenario_values(ctx: ModelContext, target: Target) -> np.ndarray:
    """(N, P, T): A_w(p, y), what allowed start p adds to the target's net saving in scenario w."""
    o = ctx.instance.objective
    coef = ctx.coef

    def make() -> np.ndarray:
        terms = net_terms(coef, target.basis, target.org, coef.pair_scheme, coef.pair_start)
        return terms.per_item(scenario_draws(ctx))

    return coef.memo(("risk_values", o.seed, o.draws, target.basis, target.org), make)


def scenario_shortfalls(ctx: ModelContext, x: np.ndarray) -> dict[str, np.ndarray]:
    """Per risk target, (N, years it names): max(0, required - achieved) of the plan x in each scenario."""
    out = {}
    for t in targets_at_risk(ctx.instance):
        achieved = np.einsum("npt,p->nt", scenario_values(ctx, t), x)
        cols = [ctx.coef.year_index(y) for y in sorted(t.values)]
        required = np.array([t.values[y] for y in sorted(t.values)])
        out[t.id] = np.maximum(0.0, required[None, :] - achieved[:, cols])
    return out


def plan_cvar(ctx: ModelContext, x: np.ndarray) -> float:
    """The CVaR at `alpha` of the plan's discounted shortfall of the risk targets over the scenarios."""
    loss = np.zeros(ctx.instance.objective.draws)
    shortfalls = scenario_shortfalls(ctx, x)  # every risk target's, once
    for t in targets_at_risk(ctx.instance):
        d = ctx.coef.discount[[ctx.coef.year_index(y) for y in sorted(t.values)]]
        loss += shortfalls[t.id] @ d
    return cvar(loss, ctx.instance.objective.alpha)


def risk_penalty(ctx: ModelContext, x: np.ndarray) -> float:
    """What the risk rule takes off the objective for plan x: cvar_penalty x CVaR (else 0)."""
    o = ctx.instance.objective
    if o.risk != "cvar" or not o.cvar_penalty:
        return 0.0
    return o.cvar_penalty * plan_cvar(ctx, x)


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    o = ctx.instance.objective
    if o.risk not in ("cvar", "chance"):
        return
    m.SCENARIOS = pyo.Set(ordered=True, initialize=range(o.draws))
    if o.risk == "cvar":
        _cvar(m, ctx)
    else:
        _chance(m, ctx)


def _cvar(m: pyo.ConcreteModel, ctx: ModelContext) -> None:
    o, coef = ctx.instance.objective, ctx.coef
    n_pairs = coef.n_pairs
    targets = targets_at_risk(ctx.instance)
    named = [(t, y) for t in targets for y in sorted(t.values)]  # a scenario's rows, in order
    keys = [(w, t.id, y) for w in range(o.draws) for t, y in named]
    m.RISK_SHORTFALLS = pyo.Set(dimen=3, ordered=True, initialize=keys)
    m.v_risk_shortfall = pyo.Var(m.RISK_SHORTFALLS, domain=pyo.NonNegativeReals)
    if named:  # (N, rows of a scenario, P) -> one row per (scenario, target, year)
        blocks = np.stack([scenario_values(ctx, t)[:, :, coef.year_index(y)] for t, y in named], axis=1)
        matrix = sp.csr_array(blocks.reshape(len(keys), n_pairs))
    else:
        matrix = sp.csr_array((0, n_pairs))
    required = np.tile([t.values[y] for t, y in named], o.draws)
    shortfall = m.v_risk_shortfall
    add_rows(m, SHORTFALL, keys, matrix, required, np.inf,
             extra=[(i, 1.0, shortfall[k]) for i, k in enumerate(keys)], index=m.RISK_SHORTFALLS)
    m.v_cvar_threshold = pyo.Var(domain=pyo.Reals)
    m.v_cvar_excess = pyo.Var(m.SCENARIOS, domain=pyo.NonNegativeReals)
    discounted = [(t.id, y, float(coef.discount[coef.year_index(y)])) for t, y in named]
    excess = []
    for w in range(o.draws):
        excess += [(w, 1.0, m.v_cvar_excess[w]), (w, 1.0, m.v_cvar_threshold)]
        excess += [(w, -d, shortfall[w, tid, y]) for tid, y, d in discounted]
    add_rows(m, EXCESS, list(range(o.draws)), sp.csr_array((o.draws, n_pairs)), 0.0, np.inf,
             extra=excess, index=m.SCENARIOS)
    scale = 1.0 / ((1.0 - o.alpha) * o.draws)
    cvar_terms = [(1.0, m.v_cvar_threshold)] + [(scale, m.v_cvar_excess[w]) for w in m.SCENARIOS]
    if o.cvar_max is not None:
        add_rows(m, CVAR_MAX, [None], sp.csr_array((1, n_pairs)), -np.inf, o.cvar_max,
                 extra=[(0, c, v) for c, v in cvar_terms])
    if o.cvar_penalty:
        extend_objective(m, [(-o.cvar_penalty * c, v) for c, v in cvar_terms])


def big_m(ctx: ModelContext, target: Target) -> np.ndarray:
    """(N, years named) required - the least the scenario row can be (each scheme at its worst
    start, or not at all): the smallest M that cuts off no plan."""
    values = scenario_values(ctx, target)
    cols = [ctx.coef.year_index(y) for y in sorted(target.values)]
    required = np.array([target.values[y] for y in sorted(target.values)])
    pair_scheme = ctx.coef.pair_scheme
    if len(pair_scheme) == 0:
        least = np.zeros((values.shape[0], len(cols)))
    else:
        firsts = np.flatnonzero(np.r_[True, pair_scheme[1:] != pair_scheme[:-1]])
        worst = np.minimum.reduceat(values[:, :, cols], firsts, axis=1)  # (N, schemes with starts, years)
        least = np.minimum(worst, 0.0).sum(axis=1)
    return required[None, :] - least


def _chance(m: pyo.ConcreteModel, ctx: ModelContext) -> None:
    o, coef = ctx.instance.objective, ctx.coef
    (target,) = targets_at_risk(ctx.instance)
    values = scenario_values(ctx, target)
    years = sorted(target.values)
    bigm = big_m(ctx, target)
    keys = [(w, y) for w in range(o.draws) for j, y in enumerate(years) if bigm[w, j] > 0]
    m.v_chance_miss = pyo.Var(m.SCENARIOS, domain=pyo.Binary)
    m.CHANCE_ROWS = pyo.Set(dimen=2, ordered=True, initialize=keys)
    position = {y: j for j, y in enumerate(years)}
    scenario = np.array([w for w, _ in keys], dtype=np.int64)
    year = np.array([coef.year_index(y) for _, y in keys], dtype=np.int64)
    miss = m.v_chance_miss
    add_rows(m, CHANCE_TARGET, keys, sp.csr_array(values[scenario, :, year].reshape(len(keys), coef.n_pairs)),
             [target.values[y] for _, y in keys], np.inf,
             extra=[(i, float(bigm[w, position[y]]), miss[w]) for i, (w, y) in enumerate(keys)],
             index=m.CHANCE_ROWS)
    add_rows(m, CHANCE_COUNT, [None], sp.csr_array((1, coef.n_pairs)), -np.inf,
             allowed_misses(o.draws, o.chance_probability), extra=[(0, 1.0, miss[w]) for w in m.SCENARIOS])


def allowed_misses(draws: int, probability: float) -> int:
    """How many of `draws` scenarios may miss the target when it must be met with `probability`."""
    return int(math.floor((1.0 - probability) * draws + 1e-9))


def _reads(instance: Instance) -> frozenset[str]:
    """The scenario rows (and chance's big-M) hold the targets' values, the schemes' figures and the draws."""
    if instance.objective.risk not in ("cvar", "chance"):
        return frozenset({"objective"})
    return frozenset({"objective", "targets", "risk_groups", "schemes", "profiles", "shares", "organisations",
                      "years", "discount_rate", "finance"})


def _price(name: str, bound: float, scale: float) -> float | None:
    if name in (CVAR_MAX, CHANCE_COUNT):
        return RISK_PENALTY / max(1.0, abs(bound))
    return None


def _words(name: str, index, instance: Instance, amount: float | None = None) -> str:
    if name == CVAR_MAX:
        words = "cvar_max"
    elif name == CHANCE_COUNT:
        words = f"the chance rule on {instance.objective.chance_target}"
    else:  # one row per scenario (and target and year): named by its scenario
        scenario = index[0] if isinstance(index, tuple) else index
        words = f"the {'CVaR' if name in (SHORTFALL, EXCESS) else 'chance'} row of scenario {scenario}"
    if amount is None:
        return words
    return f"{words} by {fmt(amount)}{' scenario(s)' if name == CHANCE_COUNT else ''}"


def _proved(name: str, index, proof: Proof, instance: Instance) -> str | None:
    o = instance.objective
    if name == CVAR_MAX:
        return (f"the CVaR at alpha {o.alpha:g} of the shortfall cannot be brought below {fmt(proof.bound)} over the "
                f"{o.draws:,} scenarios together with the other rules; cvar_max is {fmt(proof.row_upper)}"
                f"{proof_suffix(proof.side)}")
    if name != CHANCE_COUNT:
        return None
    met = o.draws - math.ceil(proof.bound - 1e-6)
    return (f"target {o.chance_target} can be met in at most {met:,} of the {o.draws:,} scenarios "
            f"({met / o.draws:.1%}) together with the other rules; chance_probability asks for "
            f"{o.chance_probability:.1%}{proof_suffix(proof.side)}")


FAMILY = Family(
    name="risk", add_to=add_to, rows=(SHORTFALL, EXCESS, CVAR_MAX, CHANCE_TARGET, CHANCE_COUNT), reads=_reads,
    rebounds=frozenset({"schemes"}), keeps_rows=nothing, rebound=nothing,
    price=_price, words=_words, proved=_proved, rules=no_rules, rule_rows=no_rule_rows,
)
