"""Which schemes run and when: one binary per allowed (scheme, start year), at most one start.

The allowed starts are a sparse set: only years inside a scheme's start window, and none for a
scheme the QIA rules make ineligible. Mandatory schemes must start exactly once.
"""

from __future__ import annotations

import numpy as np
import pyomo.core as pyo
import scipy.sparse as sp

from cipopt.model.context import BuildNotes, Infeasibility, ModelContext, add_rows
from cipopt.model.family import Family, Proof, fields, no_rule_rows, no_rules, proof_suffix
from cipopt.schema.instance import Instance, qia_ineligibility

# Scheme fields a variant may change in place: they only narrow or widen what the rows allow.
SCHEME_FIELDS_IN_PLACE = frozenset({"mandatory", "earliest_start", "latest_start", "qia_approved", "excluded"})
MANDATORY, ONCE = "c_mandatory", "c_start_once"


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    coef = ctx.coef
    years = coef.years
    ids = coef.scheme_ids
    m.STARTS = pyo.Set(
        dimen=2, ordered=True,
        initialize=[(ids[s], int(years[t])) for s, t in zip(coef.pair_scheme, coef.pair_start)],
    )
    m.v_start = pyo.Var(m.STARTS, domain=pyo.Binary)
    m.pair_vars = list(m.v_start.values())  # column p of every coefficient matrix

    pairs = coef.pairs_of_scheme
    mandatory = [i for i, s in enumerate(ctx.instance.schemes) if s.mandatory]
    mandatory_set = set(mandatory)
    for i in mandatory:
        if len(pairs[i]) == 0:
            sid = ids[i]
            why = coef.ineligible.get(sid) or (
                "it is excluded" if ctx.instance.schemes[i].excluded else "it has no start year inside the plan years")
            notes.infeasibilities.append(Infeasibility(
                MANDATORY, f"mandatory scheme {sid} cannot be selected: {why}"))

    m.SCHEMES_MANDATORY = pyo.Set(initialize=[ids[i] for i in mandatory if len(pairs[i])], ordered=True)
    m.SCHEMES_SEVERAL_STARTS = pyo.Set(
        initialize=[ids[i] for i in range(len(ids)) if len(pairs[i]) > 1 and i not in mandatory_set],
        ordered=True,
    )
    index = coef.scheme_index
    for name, schemes, lower in ((MANDATORY, m.SCHEMES_MANDATORY, 1.0),
                                 (ONCE, m.SCHEMES_SEVERAL_STARTS, -np.inf)):
        keys = list(schemes)
        add_rows(m, name, keys, once_rows([pairs[index[s]] for s in keys], coef.n_pairs), lower, 1.0,
                 index=schemes)


def once_rows(starts: list[np.ndarray], n_pairs: int) -> sp.csr_array:
    """One row per scheme, 1 on each of its allowed starts: the sum of its start variables."""
    counts = np.array([len(p) for p in starts], dtype=np.int64)
    columns = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return sp.csr_array((np.ones(len(columns)), columns, indptr), shape=(len(starts), n_pairs))


def same_figures(base: Instance, variant: Instance) -> str | None:
    """None when the schemes differ at most in what the start bounds say (SCHEME_FIELDS_IN_PLACE):
    the figures every family's coefficients are made from are the same."""
    if len(base.schemes) != len(variant.schemes):
        return "the variant has other schemes"
    for a, b in zip(base.schemes, variant.schemes):
        if a is not b and a.model_dump(exclude=SCHEME_FIELDS_IN_PLACE) != b.model_dump(exclude=SCHEME_FIELDS_IN_PLACE):
            return f"the variant changes scheme {a.id}'s figures"
    return None


def allowed_starts(instance: Instance) -> set[tuple[str, int]]:
    """(scheme, start year) the instance allows: its windows, exclusions and QIA rules."""
    first, last = instance.years[0], instance.years[-1]
    out = set()
    for s in instance.schemes:
        if s.excluded or qia_ineligibility(s, instance):
            continue
        lo = s.earliest_start if s.earliest_start is not None else first
        hi = s.latest_start if s.latest_start is not None else last
        out.update((s.id, y) for y in range(max(lo, first), min(hi, last) + 1))
    return out


def _pair_keys(ctx: ModelContext) -> list[tuple[str, int]]:
    coef = ctx.coef
    return [(coef.scheme_ids[s], int(coef.years[t])) for s, t in zip(coef.pair_scheme, coef.pair_start)]


def _keeps_rows(base: ModelContext, variant: Instance) -> str | None:
    """The schemes' figures are compared once for every family (cipopt.solve.variant)."""
    if base.instance.quality.domains != variant.quality.domains:
        return "the variant has other quality domains"
    if not allowed_starts(variant) <= set(_pair_keys(base)):
        return "the variant allows starts the base model does not have"
    return None


def _rebound(ctx: ModelContext, rows) -> None:
    """Starts the variant no longer allows are closed; a scheme made mandatory must start."""
    coef = ctx.coef
    allowed = allowed_starts(ctx.instance)
    keys = _pair_keys(ctx)
    for p, key in enumerate(keys):
        if key not in allowed:
            rows.close_start(p)
    for i, (old, new) in enumerate(zip(rows.base.schemes, ctx.instance.schemes)):
        if old.mandatory == new.mandatory:
            continue
        sid = old.id
        if rows.has_row(MANDATORY, sid):
            rows.raise_row_lower(MANDATORY, sid, 1.0 if new.mandatory else 0.0)
        elif rows.has_row(ONCE, sid):
            rows.raise_row_lower(ONCE, sid, 1.0)
        else:
            usable = [p for p in coef.pairs_of_scheme[i] if keys[p] in allowed]
            if not usable:
                rows.infeasible(f"mandatory scheme {sid} cannot be selected: it has no allowed start year")
            else:
                rows.force_start(int(usable[0]))


def _price(name: str, bound: float, scale: float) -> float | None:
    """Dropping a mandatory scheme (a decision, not a number) costs as much as missing a rule ten
    times over; a scheme's one start stays hard."""
    return MANDATORY_PENALTY if name == MANDATORY else None


MANDATORY_PENALTY = 10.0


def _words(name: str, index, instance: Instance, amount: float | None = None) -> str:
    if name == MANDATORY:
        return f"mandatory scheme {index}" + (" (left out)" if amount is not None else "")
    return f"scheme {index} starts at most once"


def _proved(name: str, index, proof: Proof, instance: Instance) -> str | None:
    if name != MANDATORY:
        return None
    return f"mandatory scheme {index} cannot run together with the other rules{proof_suffix(proof.side)}"


FAMILY = Family(
    name="selection", add_to=add_to, rows=(MANDATORY, ONCE),
    # the coefficients every family's rows are made of are read when they are built: here
    reads=fields("schemes", "years", "profiles", "quality", "finance"),
    rebounds=frozenset({"schemes", "quality"}), keeps_rows=_keeps_rows, rebound=_rebound,
    price=_price, words=_words, proved=_proved, rules=no_rules, rule_rows=no_rule_rows,
)
