"""What a constraint family states, in one place: the `Family` record each family module exports.

A family builds its rows, and says everything the rest of cipopt needs to know of them, so that
re-solving a variant in place (cipopt.solve.variant), the infeasibility diagnosis
(cipopt.solve.diagnose) and the explanations loop over the registry (cipopt.model.build.FAMILIES)
and never name a row:

- `rows`: the constraint components it adds (their names are the LP file's);
- `reads(instance)`: the instance fields its rows are made from (coefficients included). A variant
  that changes a field a family reads keeps the built model only if the family `rebounds` that
  field and its `keeps_rows` agrees (the schemes' figures, which every family's coefficients are
  made from, are compared once for all, by cipopt.solve.variant); so a field nobody listed can
  never leave stale rows (tests/test_family_registry.py records the reads while building);
- `rebound(ctx, rows)`: the bounds and costs of its rows for a variant (ctx is the variant's);
- `price(name, bound, scale)`: its relaxation price per unit in the diagnosis (None: stays hard);
- `words(name, index, instance)`: a row in the user's words; `proved(...)`: what a solve that
  optimised one of its rows alone proved, as a sentence;
- `rules(instance)` / `rule_rows(ref, instance)`: the typed rules (`RuleRef`) it holds and their rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cipopt.model.context import fmt
from cipopt.schema.instance import Instance
from cipopt.schema.rules import RuleRef


class RowBounds(Protocol):
    """What a family may change of the loaded model for a variant (cipopt.solve.variant.Rebounds)."""

    model: object  # the built Pyomo model (its variables, to price them)
    base: Instance  # the instance the model was built for

    def has_row(self, name: str, index) -> bool: ...

    def set_row(self, name: str, index, lower: float, upper: float, what: str) -> None:
        """A row's bounds; a row the build left out (no scheme counts in it) that the new bounds
        cannot keep makes the variant infeasible, in the words `what`."""

    def raise_row_lower(self, name: str, index, lower: float) -> None: ...

    def close_start(self, pair: int) -> None: ...

    def force_start(self, pair: int) -> None: ...

    def infeasible(self, message: str) -> None: ...

    def set_start_costs(self, values) -> None: ...

    def set_var_cost(self, var, cost: float) -> None: ...


@dataclass(frozen=True)
class Proof:
    """What the diagnosis knows when it words a row a solve optimised alone."""

    side: str  # ">=": the row's lower bound was missed; "<=": its upper bound
    bound: float  # the best the row's activity can be, proved
    row_lower: float
    row_upper: float
    drivers: Callable  # plan -> the scheme ids counted in the row
    plan: object  # the probe's plan (columns), or None
    mandatory: frozenset  # ids of the mandatory schemes


def nothing(*_args, **_kwargs):
    """A part a family has, stated as empty (no rebound, no rules)."""
    return None


def no_rules(_instance: Instance) -> list[RuleRef]:
    return []


def no_rule_rows(_ref: RuleRef, _instance: Instance) -> list:
    return []


def hard(_name: str, _bound: float, _scale: float) -> float | None:
    """The price of a family whose rows never bend in the diagnosis."""
    return None


def not_relaxed(_name: str, _index, _proof: Proof, _instance: Instance) -> str | None:
    return None


@dataclass(frozen=True)
class Family:
    name: str
    add_to: Callable  # (model, ctx, notes) -> None
    rows: tuple[str, ...]
    reads: Callable[[Instance], frozenset[str]]
    rebounds: frozenset[str]  # the fields (among `reads`) a variant may change in place
    keeps_rows: Callable  # (base ctx, variant) -> None, or why the built rows no longer fit
    rebound: Callable  # (variant ctx, RowBounds) -> None
    price: Callable[[str, float, float], float | None]
    words: Callable  # (name, index, instance) -> str
    proved: Callable  # (name, index, Proof, instance) -> str | None
    rules: Callable[[Instance], list[RuleRef]]
    rule_rows: Callable[[RuleRef, Instance], list]  # (name, index) of the rule's rows (those that may exist)

    def owns(self, name: str) -> bool:
        return name in self.rows


def fields(*names: str) -> Callable[[Instance], frozenset[str]]:
    """`reads` of a family whose fields do not depend on the instance."""
    found = frozenset(names)
    return lambda _instance: found


def proof_suffix(side: str) -> str:
    return f" (a solve {'maximising' if side == '>=' else 'minimising'} it alone proved this)"


def keeps_shape(shape: Callable[[Instance], object], why: str) -> Callable:
    """`keeps_rows` of a family whose rows fit any variant with the same `shape` (which rules
    there are, and the years they name): only their values, bounds and costs may change."""
    return lambda base, variant: why if shape(base.instance) != shape(variant) else None


def per_unit_of_bound(name: str, bound: float, scale: float) -> float:
    """A relaxation price per unit of the row's own bound: missing 4,000 by 400 costs as much as
    missing -3 by 0.3 (targets, limits, quality floors)."""
    return 1.0 / max(1.0, abs(bound))


def missed_by(words: str, amount: float | None) -> str:
    """A row in words, with the amount it is missed by when the diagnosis knows it."""
    return words if amount is None else f"{words} by {fmt(amount)}"
