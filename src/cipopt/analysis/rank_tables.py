"""The ranking's result and its tables (bids, levels, portfolios, samples, summary, words): what
`cipopt rank` writes, kept apart from the sweep that computes it (`cipopt.analysis.rank`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cipopt.analysis.rank_greedy import ROW_TOL, GreedyData
from cipopt.analysis.weights import WeightSet
from cipopt.report.text import money
from cipopt.schema.instance import Instance

NESTED_SHOWN = 10


@dataclass
class RankResult:
    instance: Instance  # the ranking instance
    fund: str
    fund_total: float
    fractions: list[float]
    levels: list[dict[str, Any]]
    weight_set: WeightSet
    centre: np.ndarray
    centre_how: str
    samples: np.ndarray  # (N x criteria); empty when the weights are exact
    sample_results: list[dict[str, Any]]
    data: GreedyData
    seed: int
    sampling: str = ""
    notes: list[str] = field(default_factory=list)

    # per bid ----------------------------------------------------------------------------------
    def _membership(self) -> np.ndarray:
        """(levels x schemes) True where the bid is in the optimal portfolio (False: no plan)."""
        ids = self.data.coef.scheme_ids
        out = np.zeros((len(self.levels), len(ids)), dtype=bool)
        for k, lv in enumerate(self.levels):
            if lv["plan"]:
                out[k] = [lv["plan"].get(s) is not None for s in ids]
        return out

    def _greedy_rank(self) -> dict[str, int]:
        ranks = {}
        for r, unit in enumerate(self.data.units, start=1):
            for i in unit.members:
                ranks[self.data.coef.scheme_ids[i]] = r
        return ranks

    def core_index(self) -> np.ndarray | None:
        ids = self.data.coef.scheme_ids
        if self.weight_set.is_point:
            return None
        plans = [r["plan"] for r in self.sample_results if r["plan"] is not None]
        if not plans:
            return None
        return np.array([np.mean([p.get(s) is not None for p in plans]) for s in ids])

    def non_nested(self) -> list[tuple[str, float, float]]:
        """(bid, budget where it is in, larger budget where it is out again)."""
        member = self._membership()
        ids = self.data.coef.scheme_ids
        has_plan = [lv["plan"] is not None for lv in self.levels]
        out = []
        for j, sid in enumerate(ids):
            ins = [k for k in range(len(self.levels)) if member[k, j]]
            if not ins:
                continue
            later_out = [k for k in range(ins[0] + 1, len(self.levels)) if has_plan[k] and not member[k, j]]
            if later_out:
                out.append((sid, self.budget(ins[0]), self.budget(later_out[0])))
        return out

    def budget(self, k: int) -> float:
        return round(self.fractions[k] * self.fund_total, 9)

    def bids(self) -> pd.DataFrame:
        coef = self.data.coef
        ids = coef.scheme_ids
        member = self._membership()
        has_plan = np.array([lv["plan"] is not None for lv in self.levels])
        core = self.core_index()
        greedy_rank = self._greedy_rank()
        schemes = {s.id: s for s in self.instance.schemes}
        rows = []
        for j, sid in enumerate(ids):
            ins = np.flatnonzero(member[:, j])
            entry = int(ins[0]) if len(ins) else None
            stays = None if entry is None else bool(member[entry:, j][has_plan[entry:]].all())
            cost = self.data.cost[j]
            value = self.data.value[j]
            vfm = (math.inf if cost <= ROW_TOL else value / cost) if not np.isnan(cost) else None
            ci = None if core is None else float(core[j])
            rows.append({
                "bid": sid, "name": schemes[sid].name or sid, "org": schemes[sid].org,
                "score": value, "fund_cost": None if np.isnan(cost) else float(cost),
                "value_for_money": vfm, "greedy_rank": greedy_rank.get(sid),
                "entry_fraction": None if entry is None else self.fractions[entry],
                "entry_budget": None if entry is None else self.budget(entry),
                "stays_in": stays,
                "in_at_full_budget": bool(member[-1, j]) if has_plan[-1] else None,
                "in_greedy_at_full_budget": self.levels[-1]["greedy"].get(sid) is not None,
                "core_index": ci, "core_class": _core_class(ci),
                "why_never": coef.ineligible.get(sid) or ("excluded" if schemes[sid].excluded else None)
                if entry is None else None,
            })
        frame = pd.DataFrame(rows)
        never = frame["entry_fraction"].isna()
        key = frame["entry_fraction"].fillna(2.0)
        ci = frame["core_index"].fillna(-1.0) if core is not None else 0.0
        frame = frame.assign(_never=never, _key=key, _ci=ci).sort_values(
            ["_never", "_key", "_ci", "score"], ascending=[True, True, False, False], kind="stable")
        frame.insert(0, "rank", range(1, len(frame) + 1))
        return frame.drop(columns=["_never", "_key", "_ci"]).reset_index(drop=True)

    def levels_table(self) -> pd.DataFrame:
        rows = []
        prev: set[str] | None = None
        for k, lv in enumerate(self.levels):
            chosen = {s for s, y in (lv["plan"] or {}).items() if y is not None}
            greedy = {s for s, y in lv["greedy"].items() if y is not None}
            opt = lv["objective"] if lv["plan"] is not None else None
            gv = lv["greedy_value"] if lv["greedy_ok"] else None
            loss = None if opt is None or gv is None else opt - gv
            rows.append({
                "step": k, "fraction": self.fractions[k], "fund_budget": self.budget(k),
                "status": lv["status"], "optimal_value": opt, "mip_gap": lv["mip_gap"],
                "optimal_net_present_value": lv["net_present_value"] if lv["plan"] is not None else None,
                "optimal_shortfall_penalty": lv["shortfall_penalty"] if lv["plan"] is not None else None,
                "greedy_value": lv["greedy_value"], "greedy_keeps_rules": lv["greedy_ok"],
                "greedy_net_present_value": lv["greedy_net_present_value"],
                "greedy_shortfall_penalty": lv["greedy_shortfall_penalty"],
                "greedy_loss": loss, "greedy_loss_share": None if loss is None or not opt else loss / opt,
                "optimal_bids": len(chosen) if lv["plan"] is not None else None, "greedy_bids": len(greedy),
                "entering": " ".join(sorted(chosen - prev)) if prev is not None and lv["plan"] else "",
                "leaving": " ".join(sorted(prev - chosen)) if prev is not None and lv["plan"] else "",
                "optimal_portfolio": " ".join(sorted(chosen)) if lv["plan"] is not None else "",
                "greedy_portfolio": " ".join(sorted(greedy)),
                "greedy_breaks": "; ".join(lv["greedy_breaks"]),
            })
            if lv["plan"] is not None:
                prev = chosen
        return pd.DataFrame(rows)

    def portfolios(self) -> pd.DataFrame:
        """Tidy: one row per level and bid, in the optimal and the greedy portfolio or not."""
        rows = []
        for k, lv in enumerate(self.levels):
            for sid in self.data.coef.scheme_ids:
                opt = (lv["plan"] or {}).get(sid)
                g = lv["greedy"].get(sid)
                rows.append({"step": k, "fund_budget": self.budget(k), "bid": sid,
                             "in_optimal": None if lv["plan"] is None else opt is not None,
                             "optimal_start": opt, "in_greedy": g is not None, "greedy_start": g})
        frame = pd.DataFrame(rows)
        for c in ("optimal_start", "greedy_start"):
            frame[c] = frame[c].astype("Int64")
        return frame

    def samples_table(self) -> pd.DataFrame:
        rows = []
        for i, (w, r) in enumerate(zip(self.samples, self.sample_results)):
            row = {"sample": i + 1}
            row.update({f"weight:{c}": float(v) for c, v in zip(self.weight_set.ids, w)})
            chosen = sorted(s for s, y in (r["plan"] or {}).items() if y is not None)
            row.update(status=r["status"], objective=r["objective"], net_present_value=r["net_present_value"],
                       shortfall_penalty=r["shortfall_penalty"], bids=len(chosen), portfolio=" ".join(chosen))
            rows.append(row)
        return pd.DataFrame(rows, columns=["sample", *[f"weight:{c}" for c in self.weight_set.ids],
                                           "status", "objective", "net_present_value", "shortfall_penalty",
                                           "bids", "portfolio"])

    def errors(self) -> list[str]:
        return [f"a solve ended in error: {'; '.join(r['messages'])}"
                for r in self.levels + self.sample_results if r["status"] == "error"]

    def summary(self) -> dict[str, Any]:
        lv = self.levels_table()
        bids = self.bids()
        worst = lv.dropna(subset=["greedy_loss"])
        core = self.core_index()
        return {
            "instance_name": self.instance.name, "instance_sha256": self.instance.sha256(),
            "fund": self.fund, "fund_total": self.fund_total, "money_unit": self.instance.money_unit,
            "steps": len(self.fractions) - 1,
            "central_weights": dict(zip(self.weight_set.ids, map(float, self.centre))),
            "central_weights_from": self.centre_how,
            "weight_set": self.weight_set.describe(),
            "samples": len(self.samples), "seed": self.seed,
            "sampling": self._sampling_words(),
            "value_meaning": "weighted score less shortfall penalties (a score, not money); "
                             "net_present_value: the portfolio's NPV, no penalties",
            "optimal_value_at_full_budget": _num(lv["optimal_value"].iloc[-1]),
            "optimal_net_present_value_at_full_budget": _num(lv["optimal_net_present_value"].iloc[-1]),
            "optimal_shortfall_penalty_at_full_budget": _num(lv["optimal_shortfall_penalty"].iloc[-1]),
            "greedy_value_at_full_budget": _num(lv["greedy_value"].iloc[-1]),
            "greedy_loss_at_full_budget": _num(lv["greedy_loss"].iloc[-1]),
            "largest_greedy_loss": None if worst.empty else _num(worst["greedy_loss"].max()),
            "largest_greedy_loss_budget": None if worst.empty else
            _num(worst.loc[worst["greedy_loss"].idxmax(), "fund_budget"]),
            "nested": not self.non_nested(),
            "not_nested": [{"bid": b, "in_at": i, "out_at": o} for b, i, o in self.non_nested()],
            "core": None if core is None else sorted(bids.loc[bids["core_class"] == "core", "bid"]),
            "borderline": None if core is None else sorted(bids.loc[bids["core_class"] == "borderline", "bid"]),
            "exterior": None if core is None else sorted(bids.loc[bids["core_class"] == "exterior", "bid"]),
            "notes": list(self.notes),
        }

    def _sampling_words(self) -> str | None:
        if self.weight_set.is_point or not len(self.samples):
            return None
        if self.sampling == "hit-and-run":
            return ("hit-and-run from the centre of the feasible weight set (the set is too thin for exact "
                    "rejection sampling; uniform in the limit)")
        return ("flat Dirichlet(1) on the free weights" + (", sorted into criteria_order" if self.weight_set.order
                                                             else "") +
                ", rejection outside the ranges (exactly uniform on the feasible weight set)")

    def lines(self) -> list[str]:
        unit = self.instance.money_unit
        out = [f"Ranking of {len(self.data.coef.scheme_ids)} bids against fund {self.fund} "
               f"({money(self.fund_total)} {unit} over {len(self._fund_years())} years), "
               f"{len(self.fractions) - 1} budget steps",
               f"weights: {self.centre_how}: " + ", ".join(f"{c} {v:.3f}" for c, v in zip(self.weight_set.ids, self.centre))]
        if not self.weight_set.is_point and not len(self.samples):
            out.append("robust view: not computed (--samples 0)")
        elif not self.weight_set.is_point:
            how = ", by hit-and-run" if self.sampling == "hit-and-run" else ""
            out.append(f"robust view: {len(self.samples)} weight vectors, uniform on {self.weight_set.describe()} "
                       f"(seed {self.seed}{how})")
        out.append("")
        bids = self.bids()
        per, scale = ("score/£m", 1000.0) if unit == "GBP thousand" else ("score/unit", 1.0)
        # columns as wide as their longest entry: a bid id or organisation is never cut short
        bid_w = max([3, *(len(str(b)) for b in bids["bid"])])
        org_w = max([3, *(len(str(o)) for o in bids["org"])])
        header = f"{'rank':>4}  {'bid':<{bid_w}} {'org':<{org_w}} {'score':>6} {'fund cost':>10} {per:>9} " \
                 f"{'greedy':>6} {'entry budget':>13} {'stays':>5}  {'core':>5} {'class':<10}"
        out.append(header)
        for r in bids.itertuples():
            vfm = "-" if r.value_for_money is None or pd.isna(r.value_for_money) else \
                ("free" if math.isinf(r.value_for_money) else f"{r.value_for_money * scale:,.2f}")
            entry = "never" if pd.isna(r.entry_budget) else f"{money(r.entry_budget)} ({r.entry_fraction:.0%})"
            stays = "" if r.stays_in is None or pd.isna(r.stays_in) else ("yes" if r.stays_in else "NO")
            core = "" if r.core_index is None or pd.isna(r.core_index) else f"{r.core_index:.2f}"
            grank = "" if r.greedy_rank is None or pd.isna(r.greedy_rank) else f"{int(r.greedy_rank)}"
            cost = "-" if r.fund_cost is None or pd.isna(r.fund_cost) else money(r.fund_cost)
            out.append(f"{r.rank:>4}  {r.bid:<{bid_w}} {str(r.org):<{org_w}} {r.score:>6.1f} {cost:>10} {vfm:>9} "
                       f"{grank:>6} {entry:>13} {stays:>5}  {core:>5} {(r.core_class or ''):<10}")
        out.append("")
        out.append("optimal, greedy, loss: weighted score less shortfall penalties (a score, not money); "
                   f"NPV: the optimal portfolio's net present value ({unit}, no penalties)")
        out.append(f"{'budget':>10} {'':>5} {'optimal':>9} {'greedy':>9} {'loss':>8} {'NPV':>10}  bids in (optimal/greedy)")
        for r in self.levels_table().itertuples():
            opt = r.status if r.optimal_value is None or pd.isna(r.optimal_value) else f"{r.optimal_value:,.1f}"
            gv = f"{r.greedy_value:,.1f}" + ("" if r.greedy_keeps_rules else "*")
            loss = "" if r.greedy_loss is None or pd.isna(r.greedy_loss) else f"{r.greedy_loss:,.1f}"
            npv = "-" if r.optimal_net_present_value is None or pd.isna(r.optimal_net_present_value) \
                else money(r.optimal_net_present_value)
            nb = "-" if r.optimal_bids is None or pd.isna(r.optimal_bids) else int(r.optimal_bids)
            out.append(f"{money(r.fund_budget):>10} {r.fraction:>5.0%} {opt:>9} {gv:>9} {loss:>8} {npv:>10}  "
                       f"{nb}/{r.greedy_bids}")
        if any(not lv["greedy_ok"] for lv in self.levels):
            out.append("* the greedy portfolio breaks a rule at this budget (see budget_levels.csv greedy_breaks)")
        nn = self.non_nested()
        out.append("")
        if nn:
            out.append("The optimal portfolios are NOT nested: a bid in at one budget leaves at a larger one:")
            out += [f"  {b}: in at {money(i)}, out again at {money(o)}" for b, i, o in nn[:NESTED_SHOWN]]
            if len(nn) > NESTED_SHOWN:
                out.append(f"  ... and {len(nn) - NESTED_SHOWN} more (bids.csv stays_in, portfolios.csv)")
        else:
            out.append("The optimal portfolios are nested: a bid in at a budget stays in at every larger budget.")
        out += self.notes
        return out

    def _fund_years(self) -> list[int]:
        return sorted(next(lim for lim in self.instance.limits if lim.id == self.fund).values)


def _num(v) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def _core_class(ci: float | None) -> str | None:
    if ci is None:
        return None
    if ci >= 1 - 1e-12:
        return "core"
    if ci <= 1e-12:
        return "exterior"
    return "borderline"
