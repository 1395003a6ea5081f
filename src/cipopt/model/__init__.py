"""The Pyomo model, one module per constraint family (docs/formulation.md).

Importing the package first narrows Pyomo's eager scipy imports (below). The families import
`pyomo.core`, not `pyomo.environ`: the environment loads every plugin (solvers, writers,
transformations), about 0.2 s of CPU a start that a solve does not use; only writing an LP file
(build.write_lp) loads it.
"""

from __future__ import annotations


def _defer_pyomo_scipy() -> None:
    """Keep Pyomo from importing scipy.stats, scipy.spatial and scipy.integrate (about 0.5 s of
    CPU, a third of a small solve; docs/performance.md, "Start-up").

    pyomo.common.dependencies finalises scipy by importing those three packages: at once if scipy
    is already imported when Pyomo loads, else when Pyomo first touches scipy. cipopt's Pyomo code
    needs only scipy.sparse. So Pyomo's dependency module is loaded while scipy looks unimported
    (its scipy stays deferred), and the deferred import's finalisation is narrowed to
    scipy.sparse; anything else of scipy still loads on first use (scipy's lazy submodules).
    """
    import sys

    if "pyomo.common.dependencies" in sys.modules:
        return  # Pyomo was imported before cipopt.model: nothing left to defer
    held = sys.modules.pop("scipy", None)
    try:
        from pyomo.common import dependencies
    finally:
        if held is not None:
            sys.modules["scipy"] = held
    indicator = getattr(dependencies, "scipy_available", None)
    if hasattr(indicator, "_callback"):  # a deferred import (Pyomo >= 6.0): narrow its finalisation
        indicator._callback = _finalize_sparse_only


def _finalize_sparse_only(module, available) -> None:
    if available:
        import scipy.sparse  # noqa: F401


_defer_pyomo_scipy()
