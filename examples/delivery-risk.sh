#!/usr/bin/env bash
# Reproduces examples/delivery-risk.md: Holby with delivery risk, the expected-value plan against
# a CVaR plan and a chance-constrained plan, each simulated on the same 100,000 draws.
# Run from the repository root with the project's virtual environment active:
#   bash examples/delivery-risk.sh [OUT]          (default OUT: out/delivery-risk; it must not exist)
set -euo pipefail
OUT=${1:-out/delivery-risk}
INSTANCE=examples/holby-risk
mkdir -p "$OUT"

# 1. the expected-value plan (objective.risk: expected, as instance.yaml has it)
cipopt solve "$INSTANCE" --out "$OUT/ev" --no-store

# 2. the CVaR plan: the objective also pays 2 per unit of the CVaR (alpha 0.9, 200 scenarios of
#    seed 0) of the discounted shortfall of the three-year underlying target
python examples/objective_variant.py "$INSTANCE" "$OUT/holby-cvar" risk=cvar cvar_penalty=2 'risk_targets=[underlying-3y]'
cipopt solve "$OUT/holby-cvar" --out "$OUT/cvar" --no-store

# 3. the chance plan: the three-year underlying target met in at least 35% of the 200 scenarios
python examples/objective_variant.py "$INSTANCE" "$OUT/holby-chance" risk=chance chance_target=underlying-3y chance_probability=0.35
cipopt solve "$OUT/holby-chance" --out "$OUT/chance" --no-store

# 4. each plan against the same 100,000 draws (seed 1: not the model's sample), and valued at
#    expected values by the checker
for plan in ev cvar chance; do
  cipopt simulate "$INSTANCE" "$OUT/$plan/plan.csv" --draws 100000 --seed 1 --out "$OUT/$plan-simulated"
  cipopt check "$INSTANCE" "$OUT/$plan/plan.csv" | tail -1
done
