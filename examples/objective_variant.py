"""Copy an instance folder with some `objective` keys changed (for examples/delivery-risk.sh).

    python examples/objective_variant.py SOURCE TARGET key=value [key=value ...]

Values are read as YAML (`risk_targets=[underlying]`, `cvar_penalty=2`). Only instance.yaml
changes; the tables are copied as they are.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import yaml


def main(argv: list[str]) -> None:
    source, target, *pairs = argv
    shutil.copytree(source, target, dirs_exist_ok=True)
    path = Path(target) / "instance.yaml"
    context = yaml.safe_load(path.read_text(encoding="utf-8"))
    for pair in pairs:
        key, _, value = pair.partition("=")
        context.setdefault("objective", {})[key] = yaml.safe_load(value)
    path.write_text(f"# {source} with objective {' '.join(pairs)}\n"
                    + yaml.safe_dump(context, sort_keys=False, default_flow_style=None, width=100), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
