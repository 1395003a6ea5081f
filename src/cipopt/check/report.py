"""What the checker finds: broken rules in words, the plan's objective and its yearly figures."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

MAX_NAMED_SCHEMES = 10  # a message names at most this many schemes; `Violation.schemes` has all


def fmt(x: float) -> str:
    """A number as a finance reader writes it: thousands separated, at most 3 decimals."""
    if x != x:  # NaN
        return "none"
    if x != 0 and abs(x) < 0.001:
        return f"{x:.3g}"
    text = f"{x:,.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def name_schemes(schemes: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(schemes[:MAX_NAMED_SCHEMES])
    more = len(schemes) - MAX_NAMED_SCHEMES
    return shown + (f" and {more:,} more" if more > 0 else "")


@dataclass(frozen=True)
class Violation:
    """One broken rule: which (a rule id of docs/checker.md), when, by whom and by how much."""

    rule: str
    year: int | None
    schemes: tuple[str, ...]
    amount: float  # by how much, in the rule's unit (money, years, score points), >= 0
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class CheckReport:
    """The verdict on one plan; `ok` only if no rule is broken beyond the stated tolerance."""

    violations: list[Violation]
    objective: float
    years: pd.DataFrame
    objective_mode: str = "net_present_value"
    risk: str = "expected"
    money_unit: str = ""
    penalty: float = 0.0  # the discounted soft-target shortfall penalty P inside `objective`
    selected: int = 0  # how many schemes the plan selects
    notes: list[str] = field(default_factory=list)
    risk_figures: dict = field(default_factory=dict)  # risk cvar / chance: the plan's CVaR or chance (docs/risk.md)
    net_present_value: float = 0.0  # Σ_y d(y)(in-year net saving − capital), no penalties, any mode
    risk_penalty: float = 0.0  # risk cvar: cvar_penalty × CVaR, inside `objective`

    @property
    def ok(self) -> bool:
        return not self.violations

    def violations_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "rule": [v.rule for v in self.violations],
                "year": pd.array([v.year for v in self.violations], dtype="Int64"),
                "schemes": [";".join(v.schemes) for v in self.violations],
                "amount": [float(v.amount) for v in self.violations],
                "message": [v.message for v in self.violations],
            },
            columns=["rule", "year", "schemes", "amount", "message"],
        )

    def lines(self) -> list[str]:
        out = [v.message for v in self.violations]
        if not out:
            out.append(f"every rule holds ({self.selected:,} schemes selected)")
        else:
            out.append(f"{len(self.violations):,} rule(s) broken")
        money = f" {self.money_unit}" if self.money_unit else ""
        unit = money if self.objective_mode != "weighted_score" else ""
        out.append(f"net present value: {fmt(self.net_present_value)}{money} (no penalties)")
        out.append(f"shortfall penalty: {fmt(self.penalty)}")
        if self.risk_penalty:
            out.append(f"CVaR penalty: {fmt(self.risk_penalty)}")
        words = {"net_present_value": "NPV", "savings": "discounted net savings",
                 "weighted_score": "weighted score"}.get(self.objective_mode, self.objective_mode)
        less = " less shortfall penalties" + (" and the CVaR penalty" if self.risk == "cvar" else "")
        out.append(f"objective ({words}{less}; risk {self.risk}): {fmt(self.objective)}{unit}")
        out.extend(self.notes)
        return out
