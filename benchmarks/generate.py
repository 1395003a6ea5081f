"""A seeded generator of realistic large cipopt instances in format version 1.

    python benchmarks/generate.py --schemes 5000 --years 5 --orgs 33 --seed 1 --out /tmp/bench-5000x5

writes an instance folder (instance.yaml, schemes.csv, profiles.csv, relations.csv, shares.csv)
that `cipopt validate` accepts. The same arguments give the same files, byte for byte.

What it models (figures from shared/domain.md; money in GBP thousand):

- a system of `--orgs` NHS organisations (acute, community, mental health, ambulance) whose
  turnover is about GBP 1.8m-3.2m per candidate scheme, so an organisation with 150 candidate
  schemes has a turnover of about GBP 250m-480m;
- schemes in the 13 categories of the format, with category mixes, sizes (lognormal; most
  GBP 50k-2m a year, a few GBP 3m-8m), confidence, costs (one-off, capital, running, double
  running), QIA scores and risks as the categories have them in practice (workforce and
  outpatient schemes cost experience or access; agency cuts carry safety risk); about 2% of
  schemes are mandatory (compliance), several percent are QIA-ineligible (high or extreme risk
  without an approved QIA, or a safety or outcome harm);
- start windows by business-case stage (delivery, FBC, OBC, idea);
- phasing in profiles.csv: every scheme's project-office days front-loaded over its first two or
  three years; savings ramping up (and capital spread) for about a quarter of schemes
  (transformation, digital, estates, some pathology and outpatients);
- per organisation: a soft recurrent target (the underlying position, penalty 2 per unit short)
  and a soft in-year target (the control total, penalty 1), capital (CDEL), project-office days,
  a nursing-establishment floor and a stepped agency-reduction floor; for the system (more than
  one organisation): a soft recurrent system target, a system capital envelope and a
  transformation fund (a limit on one-off costs);
- quality: scheme_min safety and effectiveness 0, max_risk 12, hard_max_risk 15, and portfolio
  floors on experience and access;
- relations of every kind, sparse (about 5% of schemes take part): clinical and workforce
  schemes that require a digital platform (lag 0 or 1), alternative schemes that exclude each
  other, cross-organisation partnerships that go together, estates moves that precede a
  disposal;
- shares: about 4% of schemes (pathology networks, procurement partnerships, admission
  avoidance) split their savings and costs between two or three organisations.

Tightness: targets are set at a fraction of what the organisation's eligible schemes could
deliver if all started as early as they may, and capital, project-office and transformation-fund
limits at a fraction of the demand, so that limits bind and targets are partly missed (penalised),
as in real plans, without the extreme tightness (budgets at 30% of demand) that makes the last
0.01% of gap very slow (shared/solver-notes.md).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd

FIRST_YEAR = 2025

# category: share of schemes, median recurrent saving (GBP k a year), lognormal sigma,
# confidence range, capital/saving (prob, ratio range), one-off/saving, running/saving,
# double running (prob, ratio), project-office days at start, phased (prob of a savings ramp)
CATEGORY = {
    "agency":         {"share": 0.08, "median": 300, "sigma": 0.8, "conf": (0.75, 0.95), "cap": (0.05, (0.1, 0.3)),
        "one_off": (0.0, 0.15), "running": (0.0, 0.1), "drc": (0.0, 0.0), "pmo": (15, 50), "phased": 0.10},
    "workforce":      {"share": 0.18, "median": 420, "sigma": 0.9, "conf": (0.65, 0.9), "cap": (0.10, (0.2, 0.8)),
        "one_off": (0.05, 0.3), "running": (0.0, 0.15), "drc": (0.05, 0.2), "pmo": (20, 80), "phased": 0.15},
    "procurement":    {"share": 0.12, "median": 280, "sigma": 0.9, "conf": (0.8, 0.95), "cap": (0.0, (0, 0)),
        "one_off": (0.0, 0.1), "running": (0.0, 0.05), "drc": (0.0, 0.0), "pmo": (10, 40), "phased": 0.05},
    "medicines":      {"share": 0.08, "median": 250, "sigma": 0.8, "conf": (0.8, 0.95), "cap": (0.0, (0, 0)),
        "one_off": (0.0, 0.1), "running": (0.0, 0.1), "drc": (0.0, 0.0), "pmo": (10, 40), "phased": 0.05},
    "pathology":      {"share": 0.05, "median": 500, "sigma": 0.9, "conf": (0.6, 0.85), "cap": (0.6, (0.5, 2.0)),
        "one_off": (0.1, 0.5), "running": (0.05, 0.2), "drc": (0.3, 0.4), "pmo": (40, 150), "phased": 0.5},
    "imaging":        {"share": 0.05, "median": 250, "sigma": 0.8, "conf": (0.7, 0.9), "cap": (0.5, (0.5, 1.5)),
        "one_off": (0.0, 0.2), "running": (0.05, 0.2), "drc": (0.1, 0.3), "pmo": (20, 60), "phased": 0.2},
    "estates":        {"share": 0.08, "median": 550, "sigma": 1.0, "conf": (0.6, 0.9), "cap": (0.6, (1.0, 3.0)),
        "one_off": (0.05, 0.3), "running": (0.0, 0.05), "drc": (0.2, 0.3), "pmo": (30, 120), "phased": 0.5},
    "back_office":    {"share": 0.10, "median": 200, "sigma": 0.8, "conf": (0.75, 0.95), "cap": (0.1, (0.1, 0.5)),
        "one_off": (0.05, 0.3), "running": (0.0, 0.1), "drc": (0.0, 0.0), "pmo": (10, 40), "phased": 0.05},
    "outpatients":    {"share": 0.08, "median": 300, "sigma": 0.9, "conf": (0.55, 0.8), "cap": (0.2, (0.2, 0.6)),
        "one_off": (0.1, 0.4), "running": (0.05, 0.2), "drc": (0.2, 0.3), "pmo": (30, 90), "phased": 0.5},
    "digital":        {"share": 0.06, "median": 380, "sigma": 0.9, "conf": (0.55, 0.85), "cap": (0.8, (1.0, 2.5)),
        "one_off": (0.1, 0.4), "running": (0.1, 0.3), "drc": (0.3, 0.3), "pmo": (40, 150), "phased": 0.8},
    "transformation": {"share": 0.08, "median": 900, "sigma": 1.0, "conf": (0.45, 0.75), "cap": (0.4, (0.5, 2.0)),
        "one_off": (0.3, 0.8), "running": (0.05, 0.2), "drc": (0.7, 0.4), "pmo": (60, 160), "phased": 0.9},
    "income":         {"share": 0.02, "median": 200, "sigma": 0.8, "conf": (0.6, 0.85), "cap": (0.0, (0, 0)),
        "one_off": (0.0, 0.2), "running": (0.0, 0.2), "drc": (0.0, 0.0), "pmo": (10, 30), "phased": 0.1},
    "other":          {"share": 0.02, "median": 120, "sigma": 0.8, "conf": (0.7, 0.9), "cap": (0.0, (0, 0)),
        "one_off": (0.0, 0.2), "running": (0.0, 0.1), "drc": (0.0, 0.0), "pmo": (5, 30), "phased": 0.05},
}
CATS = list(CATEGORY)
ABBR = {"agency": "ag", "workforce": "wf", "procurement": "pr", "medicines": "md", "pathology": "pa",
        "imaging": "im", "estates": "es", "back_office": "bo", "outpatients": "op", "digital": "dg",
        "transformation": "tr", "income": "in", "other": "ot"}

# probability of a score of -2, -1, +1, +2 in each domain, by category (the rest is 0)
QIA = {
    "safety":        {"agency": (0.0, 0.08, 0.05, 0.0), "workforce": (0.0, 0.05, 0.05, 0.0),
                      "digital": (0.0, 0.02, 0.25, 0.05), "transformation": (0.0, 0.03, 0.2, 0.05),
                      "_": (0.0, 0.02, 0.05, 0.0)},
    "effectiveness": {"medicines": (0.0, 0.04, 0.2, 0.02), "pathology": (0.0, 0.03, 0.2, 0.05),
                      "transformation": (0.0, 0.03, 0.3, 0.1), "_": (0.0, 0.02, 0.08, 0.0)},
    "experience":    {"workforce": (0.03, 0.25, 0.05, 0.0), "agency": (0.02, 0.2, 0.05, 0.0),
                      "outpatients": (0.02, 0.2, 0.3, 0.05), "estates": (0.02, 0.2, 0.1, 0.0),
                      "digital": (0.0, 0.05, 0.3, 0.05), "transformation": (0.0, 0.05, 0.35, 0.1),
                      "back_office": (0.0, 0.05, 0.0, 0.0), "_": (0.0, 0.08, 0.08, 0.0)},
    "access":        {"outpatients": (0.05, 0.3, 0.25, 0.05), "estates": (0.05, 0.3, 0.05, 0.0),
                      "imaging": (0.02, 0.15, 0.15, 0.0), "pathology": (0.02, 0.15, 0.1, 0.0),
                      "workforce": (0.02, 0.12, 0.03, 0.0), "transformation": (0.0, 0.08, 0.3, 0.05),
                      "_": (0.0, 0.05, 0.05, 0.0)},
}
# limits as a share of what the eligible schemes would use if all started as early as they may
# (the peak year), times --budget; the agency floor as a share of the reduction possible
LIMITS = {"capital": 0.6, "pmo": 0.8, "nursing": 0.85, "agency": 0.3, "system_capital": 0.9, "fund": 0.7}
SECTORS = (("acute", 0.55), ("community", 0.2), ("mental_health", 0.2), ("ambulance", 0.05))
STAGES = ("delivery", "FBC", "OBC", "idea")


def _round(a: np.ndarray, digits: int = 1) -> np.ndarray:
    return np.round(a, digits)


def generate(n: int, years: int, orgs: int, seed: int, budget: float = 1.0) -> dict:
    """The instance as {'instance': dict, 'schemes': frame, ...}.

    `budget` scales every limit: above 1 looser (more capital, project office, nursing posts and
    transformation fund; lower agency floors), below 1 tighter.
    """
    if n < 1 or years < 1 or orgs < 1:
        raise ValueError("schemes, years and orgs must be positive")
    orgs = min(orgs, n)
    rng = np.random.default_rng(seed)
    T = years
    ylist = list(range(FIRST_YEAR, FIRST_YEAR + T))

    # -- organisations: scheme counts and turnover ------------------------------------------
    weight = rng.lognormal(0.0, 0.45, orgs)
    counts = np.maximum(1, np.floor(weight / weight.sum() * n).astype(int))
    while counts.sum() > n:
        counts[np.argmax(counts)] -= 1
    counts[: n - counts.sum()] += 1  # leftovers, spread over the first organisations
    org_ids = [f"o{i:03d}" if orgs < 1000 else f"o{i:04d}" for i in range(orgs)]
    sector_names = [s for s, _ in SECTORS]
    sectors = rng.choice(sector_names, orgs, p=[p for _, p in SECTORS])
    sectors[0] = "acute"
    turnover = counts * rng.uniform(1800, 3200, orgs)  # GBP k
    org_of = np.repeat(np.arange(orgs), counts)  # (n,) organisation index of each scheme
    rng.shuffle(org_of)

    # -- schemes ----------------------------------------------------------------------------
    cat_idx = rng.choice(len(CATS), n, p=np.array([CATEGORY[c]["share"] for c in CATS]) /
                         sum(CATEGORY[c]["share"] for c in CATS))
    cat = np.array(CATS)[cat_idx]

    def per_cat(key: str, pick) -> np.ndarray:
        out = np.zeros(n)
        for i, c in enumerate(CATS):
            mask = cat_idx == i
            out[mask] = pick(CATEGORY[c][key], int(mask.sum()))
        return out

    median = per_cat("median", lambda m, k: np.full(k, m))
    sigma = per_cat("sigma", lambda s, k: np.full(k, s))
    rec = np.clip(median * np.exp(sigma * rng.standard_normal(n)), 20, 8000)
    conf = per_cat("conf", lambda r, k: rng.uniform(r[0], r[1], k))
    conf = np.round(conf, 2)
    cap = per_cat("cap", lambda r, k: (rng.random(k) < r[0]) * rng.uniform(r[1][0], max(r[1][0], r[1][1]), k)) * rec
    one_off = per_cat("one_off", lambda r, k: (rng.random(k) < 0.6) * rng.uniform(r[0], max(r[0], r[1]), k)) * rec
    running = per_cat("running", lambda r, k: (rng.random(k) < 0.5) * rng.uniform(r[0], max(r[0], r[1]), k)) * rec
    drc_on = per_cat("drc", lambda r, k: (rng.random(k) < r[0]).astype(float)).astype(bool)
    drc = drc_on * per_cat("drc", lambda r, k: rng.uniform(0.5, 1.0, k) * r[1]) * rec
    drc_years = np.where(drc_on, rng.integers(1, 3, n), 0)
    nonrec = np.where(rng.random(n) < 0.12, rng.uniform(0.2, 1.0, n) * rec, 0.0)
    # estates disposals: a one-off land sale, sometimes large
    sale = (cat == "estates") & (rng.random(n) < 0.3)
    nonrec[sale] += rng.uniform(1.0, 5.0, int(sale.sum())) * rec[sale]
    fyf = np.round(rng.choice([0.25, 0.5, 0.5, 0.75], n), 2)
    # income generation does not count as CIP for FTs: modest and uncertain

    # QIA scores and risk
    scores = {}
    for domain, table in QIA.items():
        values = np.zeros(n, dtype=int)
        for i, c in enumerate(CATS):
            mask = cat_idx == i
            p = table.get(c, table["_"])
            probs = [p[0], p[1], 1.0 - sum(p), p[2], p[3]]
            values[mask] = rng.choice([-2, -1, 0, 1, 2], int(mask.sum()), p=probs)
        scores[domain] = values
    likelihood = rng.choice([1, 2, 3, 4, 5], n, p=[0.25, 0.35, 0.25, 0.11, 0.04])
    consequence = rng.choice([1, 2, 3, 4, 5], n, p=[0.2, 0.35, 0.3, 0.11, 0.04])
    risk = likelihood * consequence
    harm = (scores["safety"] < 0) | (scores["effectiveness"] < 0)
    risky = risk > 12
    approved = np.where(harm | risky | (risk >= 8), rng.random(n) < 0.55, rng.random(n) < 0.05)

    # start windows by stage
    stage = rng.choice(len(STAGES), n, p=[0.4, 0.25, 0.2, 0.15])
    earliest = np.zeros(n, dtype=int)
    earliest[stage == 1] = rng.integers(0, 2, int((stage == 1).sum()))
    earliest[stage == 2] = rng.integers(1, 3, int((stage == 2).sum()))
    earliest[stage == 3] = rng.integers(1, 4, int((stage == 3).sum()))
    earliest = np.minimum(earliest, T - 1)
    span = np.where(stage == 0, rng.integers(0, 2, n), rng.integers(1, max(2, T), n))
    latest = np.minimum(earliest + span, T - 1)
    open_ended = rng.random(n) < 0.35  # no latest start given
    # mandatory: compliance schemes, already in delivery, eligible, cheap
    mandatory = (rng.random(n) < 0.02) & np.isin(cat, ["agency", "procurement", "medicines", "back_office"])
    earliest[mandatory] = 0
    latest[mandatory] = np.minimum(1, T - 1)
    open_ended[mandatory] = False
    stage[mandatory] = 0
    cap[mandatory] = 0.0
    for d in ("safety", "effectiveness"):
        scores[d][mandatory] = np.maximum(scores[d][mandatory], 0)
    risk[mandatory] = np.minimum(risk[mandatory], 6)
    eligible = ~((risk > 15) | (~approved & (harm | (risk > 12))))
    eligible[mandatory] = True

    # custom metrics
    nursing = np.isin(cat, ["workforce", "agency"]) & (rng.random(n) < 0.5)
    wte = np.where(nursing, -np.round(np.clip(rec / rng.uniform(45, 70, n), 0.5, 60), 1), 0.0)
    agency_red = np.where(cat == "agency", rec * rng.uniform(0.9, 1.3, n),
                          np.where((cat == "workforce") & (rng.random(n) < 0.3), rec * rng.uniform(0.2, 0.6, n), 0.0))
    pmo_start = per_cat("pmo", lambda r, k: rng.uniform(r[0], r[1], k)) * np.clip((rec / median) ** 0.3, 0.5, 2.0)

    ids = np.array([f"{org_ids[o]}-{ABBR[c]}-{i:05d}" for i, (o, c) in enumerate(zip(org_of, cat))])
    schemes = pd.DataFrame({
        "id": ids,
        "name": [f"{c.replace('_', ' ').capitalize()} scheme {i}" for i, c in enumerate(cat)],
        "category": cat,
        "org": np.array(org_ids)[org_of],
        "stage": np.array(STAGES)[stage],
        "earliest_start": earliest + FIRST_YEAR,
        "latest_start": pd.array(np.where(open_ended, -1, latest + FIRST_YEAR), dtype="Int64"),
        "mandatory": np.where(mandatory, "true", "false"),
        "confidence": conf,
        "recurrent_saving": _round(rec),
        "first_year_fraction": fyf,
        "nonrecurrent_saving": _round(nonrec),
        "one_off_cost": _round(one_off),
        "capital_cost": _round(cap),
        "running_cost": _round(running),
        "double_running_cost": _round(drc),
        "double_running_years": drc_years,
        "safety": scores["safety"], "effectiveness": scores["effectiveness"],
        "experience": scores["experience"], "access": scores["access"],
        "qia_risk": risk,
        "qia_approved": np.where(approved, "true", "false"),
        "wte_nursing": wte,
        "agency_spend_reduction": _round(agency_red),
    })
    schemes.loc[schemes["latest_start"] == -1, "latest_start"] = pd.NA
    hi = np.where(open_ended, T - 1, latest)  # effective latest start index

    # -- profiles ---------------------------------------------------------------------------
    # every scheme: project-office days front-loaded (offsets 0, 1 and, for big ones, 2)
    big = pmo_start > 60
    p_scheme = [np.arange(n), np.arange(n), np.flatnonzero(big)]
    p_offset = [np.zeros(n, int), np.ones(n, int), np.full(int(big.sum()), 2)]
    p_value = [pmo_start, pmo_start * rng.uniform(0.3, 0.6, n), pmo_start[big] * 0.2]
    keep = [np.ones(n, bool), np.full(n, T > 1), np.full(int(big.sum()), T > 2)]
    p_metric = [np.full(n, "pmo_days"), np.full(n, "pmo_days"), np.full(int(big.sum()), "pmo_days")]
    # phased savings: a ramp over the first years (and for capital-heavy ones, capital over two years)
    phased_p = np.array([CATEGORY[c]["phased"] for c in CATS])[cat_idx]
    phased = (rng.random(n) < phased_p) & ~mandatory
    ph = np.flatnonzero(phased)
    ramp_len = rng.integers(2, 4, len(ph))  # years to reach the full-year effect
    for k in range(T):
        frac = np.minimum(1.0, (k + 0.5) / (ramp_len + 0.5))
        p_scheme.append(ph)
        p_offset.append(np.full(len(ph), k))
        p_value.append(rec[ph] * frac)
        keep.append(np.ones(len(ph), bool))
        p_metric.append(np.full(len(ph), "saving"))
    split_cap = ph[cap[ph] > 0]
    split_cap = split_cap[rng.random(len(split_cap)) < 0.5]
    if T > 1 and len(split_cap):
        first_part = rng.uniform(0.4, 0.7, len(split_cap))
        for k, part in ((0, first_part), (1, 1.0 - first_part)):
            p_scheme.append(split_cap)
            p_offset.append(np.full(len(split_cap), k))
            p_value.append(cap[split_cap] * part)
            keep.append(np.ones(len(split_cap), bool))
            p_metric.append(np.full(len(split_cap), "capital_cost"))
    keep_all = np.concatenate(keep)
    prof = pd.DataFrame({
        "scheme": ids[np.concatenate(p_scheme)][keep_all],
        "offset": np.concatenate(p_offset)[keep_all],
        "metric": np.concatenate(p_metric)[keep_all],
        "value": _round(np.concatenate(p_value)[keep_all]),
    }).sort_values(["scheme", "metric", "offset"], kind="stable").reset_index(drop=True)

    # per-scheme, per-offset arrays of what the instance says (for calibrating the bounds)
    offs = np.arange(T)
    saving_by = np.where(offs[None, :] == 0, (rec * fyf)[:, None], rec[:, None])
    sav_rows = prof[prof["metric"] == "saving"]
    if len(sav_rows):
        sidx = pd.Index(ids).get_indexer(sav_rows["scheme"])
        saving_by[np.unique(sidx)] = 0.0
        saving_by[sidx, sav_rows["offset"].to_numpy()] = sav_rows["value"].to_numpy()
    cap_by = np.zeros((n, T))
    cap_by[:, 0] = cap
    cap_rows = prof[prof["metric"] == "capital_cost"]
    if len(cap_rows):
        cidx = pd.Index(ids).get_indexer(cap_rows["scheme"])
        cap_by[np.unique(cidx)] = 0.0
        cap_by[cidx, cap_rows["offset"].to_numpy()] = cap_rows["value"].to_numpy()
    pmo_by = np.zeros((n, T))
    pm_rows = prof[prof["metric"] == "pmo_days"]
    pidx = pd.Index(ids).get_indexer(pm_rows["scheme"])
    pmo_by[pidx, pm_rows["offset"].to_numpy()] = pm_rows["value"].to_numpy()
    drc_by = np.where(offs[None, :] < drc_years[:, None], drc[:, None], 0.0)
    rec_net_by = conf[:, None] * saving_by - running[:, None]
    inyear_by = rec_net_by - drc_by
    inyear_by[:, 0] += conf * nonrec - one_off

    def if_started_early(by_offset: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """(T,) the metric per year if schemes `idx` (rows of `by_offset`) start as early as they may."""
        k = offs[None, :] - earliest[idx][:, None]
        rows = np.arange(len(idx))[:, None]
        return np.where(k >= 0, by_offset[rows, np.clip(k, 0, None)], 0.0).sum(axis=0)

    # -- shares: cross-organisation schemes ------------------------------------------------
    share_rows = []
    sav_w = np.zeros((n, orgs))  # saving share of each scheme for each org
    cost_w = np.zeros((n, orgs))
    sav_w[np.arange(n), org_of] = 1.0
    cost_w[np.arange(n), org_of] = 1.0
    if orgs > 1:
        cross_p = np.where(np.isin(cat, ["pathology", "procurement", "transformation"]), 0.15, 0.01)
        cross = np.flatnonzero((rng.random(n) < cross_p) & ~mandatory)
        for s in cross:
            k = int(rng.integers(1, 3)) if orgs > 2 else 1
            others = rng.choice(np.delete(np.arange(orgs), org_of[s]), k, replace=False)
            members = [int(org_of[s])] + [int(o) for o in others]
            sv = np.round(rng.dirichlet(np.full(len(members), 2.0)), 2)
            sv[-1] = round(1.0 - sv[:-1].sum(), 2)
            if sv[-1] < 0:
                sv = np.round(np.full(len(members), 1.0 / len(members)), 2)
                sv[-1] = round(1.0 - sv[:-1].sum(), 2)
            own = round(float(rng.uniform(0.5, 1.0)), 2)
            cs = np.zeros(len(members))
            cs[0] = own
            if len(members) > 1:
                rest = np.round(np.full(len(members) - 1, (1.0 - own) / (len(members) - 1)), 2)
                cs[1:] = rest
                cs[-1] = round(1.0 - cs[:-1].sum(), 2)
            sav_w[s] = 0.0
            cost_w[s] = 0.0
            for o, a, b in zip(members, sv, cs):
                share_rows.append((ids[s], org_ids[o], float(a), float(b)))
                sav_w[s, o] = a
                cost_w[s, o] = b
    shares = pd.DataFrame(share_rows, columns=["scheme", "org", "saving_share", "cost_share"])

    # -- relations -------------------------------------------------------------------------
    used = mandatory.copy()  # each scheme in at most one relation (digital platforms: several)
    rel_rows: list[tuple[str, str, str, int]] = []

    def free(mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask & ~used)

    # requires: workforce, outpatients, pathology, imaging schemes need their org's digital platform
    n_req = max(1, int(0.02 * n))
    platforms = free(cat == "digital")
    needers = free(np.isin(cat, ["workforce", "outpatients", "pathology", "imaging"]))
    rng.shuffle(needers)
    made = 0
    for a in needers:
        if made >= n_req:
            break
        cands = platforms[org_of[platforms] == org_of[a]]
        if not len(cands):
            continue
        b = int(rng.choice(cands))
        lag = int(rng.random() < 0.4)
        if earliest[b] + lag > hi[a]:  # b must be able to start lag years before a's latest start
            lag = 0
            if earliest[b] > hi[a]:
                continue
        rel_rows.append(("requires", ids[a], ids[b], lag))
        used[a] = True
        made += 1
    used[platforms] = True  # platforms take part in requires only
    # excludes: alternative ways to the same saving (same org and category)
    n_exc = max(1, int(0.015 * n))
    made = 0
    pool = free(np.ones(n, bool))
    rng.shuffle(pool)
    by_key: dict[tuple[int, int], int] = {}
    for s in pool:
        if made >= n_exc:
            break
        key = (int(org_of[s]), int(cat_idx[s]))
        if key in by_key and not used[by_key[key]]:
            a = by_key.pop(key)
            rel_rows.append(("excludes", ids[a], ids[s], 0))
            used[a] = used[s] = True
            made += 1
        else:
            by_key[key] = int(s)
    # together: partnership schemes in two organisations of one category
    if orgs > 1:
        n_tog = max(1, int(0.01 * n))
        made = 0
        pool = free(np.isin(cat, ["pathology", "procurement", "imaging", "back_office"]))
        rng.shuffle(pool)
        waiting: dict[int, int] = {}
        for s in pool:
            if made >= n_tog:
                break
            c = int(cat_idx[s])
            if c in waiting and org_of[waiting[c]] != org_of[s] and not used[waiting[c]]:
                a = waiting.pop(c)
                rel_rows.append(("together", ids[a], ids[s], 0))
                used[a] = used[s] = True
                made += 1
            else:
                waiting[c] = int(s)
    # precedes: a service move before the disposal or reconfiguration that it frees
    n_pre = max(1, int(0.01 * n))
    made = 0
    pool = free(np.isin(cat, ["estates", "transformation", "outpatients", "back_office"]))
    rng.shuffle(pool)
    waiting = {}
    for s in pool:
        if made >= n_pre:
            break
        o = int(org_of[s])
        if o in waiting and not used[waiting[o]]:
            a = waiting.pop(o)
            lag = 1 if earliest[a] + 1 <= hi[s] else 0
            if earliest[a] + lag > hi[s]:
                waiting[o] = int(s)
                continue
            rel_rows.append(("precedes", ids[a], ids[s], lag))
            used[a] = used[s] = True
            made += 1
        else:
            waiting[o] = int(s)
    relations = pd.DataFrame(rel_rows, columns=["kind", "a", "b", "lag"])

    # -- targets and limits, calibrated on what the eligible schemes could deliver ----------
    def fmt_values(vals: np.ndarray) -> dict[int, float]:
        return {y: float(round(v, 1)) for y, v in zip(ylist, vals)}

    ramp = ((np.arange(T) + 1) / T) ** 0.8
    targets, limits = [], []
    ev = np.flatnonzero(eligible)
    rec_sys = if_started_early(rec_net_by[ev], ev)
    nonrec_by = np.where(offs[None, :] == 0, (conf * nonrec)[:, None], 0.0)
    one_off_by = np.where(offs[None, :] == 0, one_off[:, None], 0.0)
    free_or_forced = ~used | mandatory  # no relation can force these out
    members = [[] for _ in range(orgs)]  # schemes each organisation has a share of
    for s_, o_ in zip(*np.nonzero((sav_w > 0) | (cost_w > 0))):
        members[o_].append(s_)
    for o in range(orgs):
        idx = np.array(members[o], dtype=int)
        idx = idx[eligible[idx]]
        sw, cw = sav_w[idx, o][:, None], cost_w[idx, o][:, None]
        # what the organisation could count (its shares) if everything started as early as it may
        rec_o = if_started_early(conf[idx, None] * saving_by[idx] * sw - running[idx, None] * cw, idx)
        inyear_o = if_started_early((conf[idx, None] * saving_by[idx] + nonrec_by[idx]) * sw
                                    - (running[idx, None] + drc_by[idx] + one_off_by[idx]) * cw, idx)
        final = max(rec_o[-1], 1.0)
        want = 0.55 * final * ramp  # cumulative recurrent need: about half the pool by the last year
        targets.append({"id": f"{org_ids[o]}-underlying", "org": org_ids[o], "basis": "recurrent",
                        "values": fmt_values(np.minimum(want, 0.8 * np.maximum(rec_o, 0) + 0.05 * final)),
                        "hard": False, "shortfall_penalty": 2.0})
        targets.append({"id": f"{org_ids[o]}-control-total", "org": org_ids[o], "basis": "in_year",
                        "values": fmt_values(np.minimum(0.9 * want, 0.7 * np.maximum(inyear_o, 0) + 0.05 * final)),
                        "hard": False, "shortfall_penalty": 1.0})
        runs = idx[org_of[idx] == o]
        capital = if_started_early(cap_by[idx] * cw, idx)
        if capital.max() > 0:  # CDEL: a share of the peak year's demand, a little different each year
            limits.append({"id": f"{org_ids[o]}-capital", "org": org_ids[o], "metric": "capital_cost",
                           "sense": "<=", "values": fmt_values(
                               LIMITS["capital"] * budget * capital.max() * rng.uniform(0.9, 1.1, T))})
        pmo_demand = if_started_early(pmo_by[runs], runs)
        if pmo_demand.max() > 0:  # the project office: a share of the peak demand, every year
            limits.append({"id": f"{org_ids[o]}-pmo", "org": org_ids[o], "metric": "pmo_days",
                           "sense": "<=", "values": fmt_values(
                               np.full(T, math.ceil(LIMITS["pmo"] * budget * pmo_demand.max())))})
        cut = -wte[runs].sum()
        if cut > 0:  # safe staffing: at most this many nursing posts fewer, stepping up
            allowed = min(1.0, LIMITS["nursing"] * budget) * cut * np.minimum(1.0, 0.7 + 0.15 * np.arange(T))
            limits.append({"id": f"{org_ids[o]}-nursing-wte", "org": org_ids[o], "metric": "wte_nursing",
                           "sense": ">=", "values": fmt_values(-np.round(allowed, 1))})
        ok = runs[free_or_forced[runs]]
        possible = if_started_early(np.repeat(agency_red[ok, None], T, axis=1), ok)
        if possible.max() > 0:  # the agency ceiling: agency spend must fall by at least this, stepping up
            step = np.minimum(1.0, 0.5 + 0.1 * np.arange(T))
            limits.append({"id": f"{org_ids[o]}-agency-ceiling", "org": org_ids[o],
                           "metric": "agency_spend_reduction", "sense": ">=",
                           "values": fmt_values(np.floor(LIMITS["agency"] / budget * possible * step))})
    if orgs > 1:
        targets.append({"id": "system-underlying", "basis": "recurrent",
                        "values": fmt_values(0.5 * max(rec_sys[-1], 1.0) * ramp), "hard": False,
                        "shortfall_penalty": 1.0})
        org_caps = [lim for lim in limits if lim["metric"] == "capital_cost"]
        if org_caps:
            total = np.array([[lim["values"][y] for y in ylist] for lim in org_caps]).sum(axis=0)
            limits.append({"id": "system-capital", "metric": "capital_cost", "sense": "<=",
                           "values": fmt_values(min(1.0, LIMITS["system_capital"] * budget) * total)})
    fund = if_started_early(one_off_by[ev], ev)
    if fund.max() > 0:  # a transformation fund pays one-off revenue costs
        limits.append({"id": "transformation-fund", "metric": "one_off_cost", "sense": "<=",
                       "values": fmt_values(np.full(T, LIMITS["fund"] * budget * fund.max()))})

    # quality floors: the portfolio may not lose experience or access on balance beyond a little
    def floor(domain: str) -> float:
        s = scores[domain][eligible]
        return float(np.floor(-0.02 * len(s)))  # a small net loss allowed, as boards allow

    instance = {
        "format_version": 1,
        "name": f"Synthetic system: {n} schemes, {orgs} organisations, {T} years (seed {seed})",
        "money_unit": "GBP thousand",
        "years": ylist,
        "discount_rate": 0.035,
        "organisations": [{"id": oid, "name": f"Organisation {oid} ({sec.replace('_', ' ')}, "
                                              f"turnover GBP {turnover[i] / 1000:.0f}m)", "sector": str(sec)}
                          for i, (oid, sec) in enumerate(zip(org_ids, sectors))],
        "targets": targets,
        "limits": limits,
        "quality": {"domains": ["safety", "effectiveness", "experience", "access"],
                    "scheme_min": {"safety": 0, "effectiveness": 0},
                    "max_risk": 12, "hard_max_risk": 15,
                    "portfolio_min": {"experience": floor("experience"), "access": floor("access")}},
        "objective": {"mode": "net_present_value", "risk": "expected"},
        "solver": {"time_limit": 300, "mip_gap": 0.0001},
    }
    return {"instance": instance, "schemes": schemes, "profiles": prof, "relations": relations,
            "shares": shares}


def _yaml(data: dict) -> str:
    """instance.yaml as JSON (YAML written as JSON is valid; fast and exact for large instances)."""
    import json
    return ("# generated by benchmarks/generate.py; YAML written as JSON\n"
            + json.dumps(data, indent=1) + "\n")


def write(parts: dict, out: str | Path) -> Path:
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    (path / "instance.yaml").write_text(_yaml(parts["instance"]), encoding="utf-8")
    for name in ("schemes", "profiles", "relations", "shares"):
        parts[name].to_csv(path / f"{name}.csv", index=False, lineterminator="\n", float_format="%.10g")
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--schemes", type=int, required=True, help="number of candidate schemes N")
    ap.add_argument("--years", type=int, default=5, help="plan years T (default 5)")
    ap.add_argument("--orgs", type=int, default=None,
                    help="organisations K (default: one per 150 schemes, at least 1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget", type=float, default=1.0,
                    help="scale every limit: higher looser, lower tighter (default 1)")
    ap.add_argument("--out", required=True, help="instance folder to write")
    args = ap.parse_args(argv)
    orgs = args.orgs if args.orgs is not None else default_orgs(args.schemes)
    path = write(generate(args.schemes, args.years, orgs, args.seed, args.budget), args.out)
    print(f"wrote {path} ({args.schemes} schemes, {orgs} organisations, {args.years} years, seed {args.seed})")


def default_orgs(n: int) -> int:
    """One organisation per 150 candidate schemes (a trust's portfolio is 30-150 schemes)."""
    return max(1, round(n / 150))


if __name__ == "__main__":
    main()
