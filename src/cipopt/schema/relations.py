"""Relations: which schemes the relations, start windows and the horizon make impossible to select."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from cipopt.schema.gaps import RELATION_CHECK_BUDGET, SourceRows
from cipopt.schema.instance import Instance, Relation, Scheme
from cipopt.schema.problems import ProblemLog

# -- relations: which schemes can never be selected ----------------------------------------------

@dataclass(frozen=True)
class _Edge:
    """One constraint t[head] <= t[tail] + weight (tail/head -1 is the plan's year zero), with its source."""

    tail: int
    head: int
    weight: int
    relation: int | None = None  # index into instance.relations; None for a start window
    bound: str = ""  # "earliest" or "latest" for a start window


class _Budget(Exception):
    pass


class RelationAnalysis:
    """Find schemes that relations, start windows and the horizon make impossible to select.

    If a scheme is selected, so is everything it `requires` or goes `together` with (its closure
    S); choosing exactly S keeps every relation if and only if S holds no `excludes` pair and the
    start-year constraints of S have a solution. Those are difference constraints
    (t_b <= t_a - lag for requires, t_b >= t_a + lag for precedes, windows as bounds), which have
    an integer solution if and only if their graph has no negative cycle (Bellman-Ford). So the
    test is exact for relations and windows: a scheme reported can never be selected, and one not
    reported can be, as far as relations go (targets, limits, QIA rules and `excluded` may still
    bar it: those are left to the model).

    Schemes in one strongly connected part of the requires/together graph share their closure and
    are checked once; one that requires an impossible scheme is impossible too, and is named with
    the scheme that causes it. Impossible schemes are errors; so is a set of mandatory schemes that
    cannot all be selected. A scheme barred only because a mandatory scheme must be selected, and a
    `precedes` pair that can never both be selected, are warnings: the data is consistent, the
    option is merely dead.
    """

    def __init__(self, inst: Instance, log: ProblemLog, src: SourceRows,
                 index: dict[str, int], duplicates: set[str]):
        self.inst, self.log, self.src = inst, log, src
        self.label = src.label("relations")
        self.schemes: tuple[Scheme, ...] = inst.schemes
        self.first = inst.years[0]
        self.last_offset = len(inst.years) - 1
        self.budget = RELATION_CHECK_BUDGET
        self.window: dict[int, tuple[int, int]] = {}
        self.select: dict[int, list[tuple[int, int]]] = defaultdict(list)  # requires/together: a -> (b, rel)
        self.excludes: dict[int, list[tuple[int, int]]] = defaultdict(list)
        self.timing: dict[int, list[_Edge]] = defaultdict(list)  # start-year constraints by tail
        self._windows: dict[int, tuple[_Edge, _Edge]] = {}
        year_set = set(inst.years)
        usable = set()
        named = {r.a for r in inst.relations} | {r.b for r in inst.relations}
        for sid in named:
            i = index.get(sid)
            if i is None or sid in duplicates:
                continue
            s = self.schemes[i]
            if any(y is not None and y not in year_set for y in (s.earliest_start, s.latest_start)):
                continue  # already an error; its window would cause follow-on reports
            lo = (s.earliest_start - self.first) if s.earliest_start is not None else 0
            hi = (s.latest_start - self.first) if s.latest_start is not None else self.last_offset
            if lo <= hi:
                self.window[i] = (lo, hi)
                usable.add(sid)
        self.nodes: set[int] = set()
        for k, r in enumerate(inst.relations):
            if r.a not in usable or r.b not in usable:
                continue
            a, b = index[r.a], index[r.b]
            self.nodes.update((a, b))
            if r.kind == "requires":
                self.select[a].append((b, k))
                self._timing(_Edge(a, b, -r.lag, k))
            elif r.kind == "together":
                self.select[a].append((b, k))
                self.select[b].append((a, k))
            elif r.kind == "excludes":
                self.excludes[a].append((b, k))
                self.excludes[b].append((a, k))
            elif r.kind == "precedes":
                self._timing(_Edge(b, a, -r.lag, k))

    def _timing(self, edge: _Edge) -> None:
        self.timing[edge.tail].append(edge)  # by tail: each edge is met once, from its tail

    def _window_edges(self, i: int) -> tuple[_Edge, _Edge]:
        """lo <= t_i <= hi as two edges from and to the plan's year zero (made once per scheme)."""
        if i not in self._windows:
            lo, hi = self.window[i]
            self._windows[i] = (_Edge(-1, i, hi, bound="latest"), _Edge(i, -1, -lo, bound="earliest"))
        return self._windows[i]

    # -- words --------------------------------------------------------------------------------
    def _name(self, i: int) -> str:
        return self.schemes[i].id

    def _row(self, k: int) -> int:
        return self.src.row("relations", k)

    @staticmethod
    def _years(n: int) -> str:
        return f"{n} year" if n == 1 else f"{n} years"

    def _names(self, members, most: int = 8) -> str:
        names = [self._name(i) for i in members]
        if len(names) > most:
            names = names[:most] + [f"{len(names) - most} more"]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    def _say_select(self, k: int) -> str:
        r: Relation = self.inst.relations[k]
        if r.kind == "together":
            return f"{r.a} and {r.b} go together (row {self._row(k)})"
        return f"{r.a} requires {r.b} (row {self._row(k)})"

    def _say_edge(self, e: _Edge) -> str:
        if e.relation is None:
            i = e.head if e.bound == "latest" else e.tail
            s = self.schemes[i]
            lo, hi = self.window[i]
            if e.bound == "latest":
                why = "its latest_start" if s.latest_start is not None else "the last plan year"
                return f"{s.id} can start no later than {self.first + hi} ({why})"
            why = "its earliest_start" if s.earliest_start is not None else "the first plan year"
            return f"{s.id} can start no earlier than {self.first + lo} ({why})"
        r = self.inst.relations[e.relation]
        row = self._row(e.relation)
        if r.kind == "requires":
            when = f"at least {self._years(r.lag)} before it" if r.lag else "no later than it"
            return f"{r.a} requires {r.b} to start {when} (row {row})"
        if r.lag:
            return f"{r.b} must start at least {self._years(r.lag)} after {r.a} (row {row})"
        return f"{r.b} must not start before {r.a} (row {row})"

    # -- graph work ---------------------------------------------------------------------------
    def _spend(self, units: int) -> None:
        self.budget -= units
        if self.budget < 0:
            raise _Budget

    def _closure(self, starts: list[int]) -> tuple[list[int], dict[int, tuple[int, int] | None]]:
        """Everything selected with `starts`, and how each was reached (parent, relation)."""
        parent: dict[int, tuple[int, int] | None] = {s: None for s in starts}
        order = list(starts)
        for u in order:
            self._spend(1 + len(self.select.get(u, ())))
            for v, k in self.select.get(u, ()):
                if v not in parent:
                    parent[v] = (u, k)
                    order.append(v)
        return order, parent

    def _path(self, node: int, parent) -> list[int]:
        """The relations that bring `node` into the closure, from a start outwards."""
        out = []
        while parent.get(node) is not None:
            node, k = parent[node]
            out.append(k)
        return out[::-1]

    def _conflict(self, members: list[int], parent) -> tuple[list[int], str] | None:
        """None if the set can be selected together; else (relation indices, reason in words)."""
        chosen = set(members)
        for u in members:
            for v, k in self.excludes.get(u, ()):
                if v in chosen:
                    via = self._path(u, parent)
                    via += [p for p in self._path(v, parent) if p not in via]
                    r = self.inst.relations[k]
                    return via + [k], self._reason(
                        [self._say_select(p) for p in via], [f"{r.a} excludes {r.b} (row {self._row(k)})"])
        cycle = self._negative_cycle(members, chosen)
        if cycle is None:
            return None
        touched = {e.tail for e in cycle} | {e.head for e in cycle}
        cycle_rels = [e.relation for e in cycle if e.relation is not None]
        via: list[int] = []
        for node in members:
            if node in touched:
                via += [p for p in self._path(node, parent) if p not in via and p not in cycle_rels]
        return via + cycle_rels, self._reason(
            [self._say_select(p) for p in via], [self._say_edge(e) for e in cycle])

    @staticmethod
    def _reason(how: list[str], clash: list[str]) -> str:
        """"A requires B (row 2), but B excludes A (row 3)": how the set arises, then the clash."""
        clash_text = "; ".join(clash)
        return f"{'; '.join(how)}, but {clash_text}" if how else clash_text

    def _negative_cycle(self, members: list[int], chosen: set[int]) -> list[_Edge] | None:
        """Bellman-Ford on the start-year constraints of `members`; a negative cycle, in order."""
        zero = -1
        self._spend(len(members))
        edges: list[_Edge] = []
        for i in members:
            edges += self._window_edges(i)
            edges += [e for e in self.timing.get(i, ()) if e.head in chosen]
        nodes = len(members) + 1
        dist = dict.fromkeys(members, 0)
        dist[zero] = 0
        pred: dict[int, _Edge] = {}
        updated = None
        for _ in range(nodes):
            self._spend(len(edges))
            updated = None
            for e in edges:
                if dist[e.tail] + e.weight < dist[e.head]:
                    dist[e.head] = dist[e.tail] + e.weight
                    pred[e.head] = e
                    updated = e.head
            if updated is None:
                return None
        node = updated
        for _ in range(nodes):
            node = pred[node].tail
        cycle = []
        start = node
        while True:
            e = pred[node]
            cycle.append(e)
            node = e.tail
            if node == start:
                break
        cycle.reverse()
        # Read it from the plan's year zero when the windows are part of the reason.
        at_zero = [n for n, e in enumerate(cycle) if e.tail == zero]
        if at_zero:
            start_at = at_zero[0]
        else:  # from the relation on the earliest row
            start_at = min(range(len(cycle)), key=lambda n: self._row(cycle[n].relation))
        return cycle[start_at:] + cycle[:start_at]

    def _components(self) -> list[list[int]]:
        """Strongly connected parts of the requires/together graph, sinks first (Tarjan)."""
        index: dict[int, int] = {}
        low: dict[int, int] = {}
        stack: list[int] = []
        on_stack: set[int] = set()
        out: list[list[int]] = []
        counter = 0
        for root in sorted(self.nodes):
            if root in index:
                continue
            work = [(root, iter(self.select.get(root, ())))]
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack.add(root)
            while work:
                node, it = work[-1]
                advanced = False
                for v, _ in it:
                    if v not in index:
                        index[v] = low[v] = counter
                        counter += 1
                        stack.append(v)
                        on_stack.add(v)
                        work.append((v, iter(self.select.get(v, ()))))
                        advanced = True
                        break
                    if v in on_stack:
                        low[node] = min(low[node], index[v])
                if advanced:
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    part = []
                    while True:
                        v = stack.pop()
                        on_stack.discard(v)
                        part.append(v)
                        if v == node:
                            break
                    out.append(sorted(part))
        return out

    # -- the analysis -------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except _Budget:
            self.log.warn(self.label, "the relations link so many schemes that the check for impossible "
                                      "combinations stopped early; a contradiction it did not reach shows "
                                      "as an infeasible plan")

    def _run(self) -> None:
        parts = self._components()
        part_of = {i: n for n, part in enumerate(parts) for i in part}
        impossible: dict[int, int] = {}  # part -> the root part that makes it impossible
        roots: dict[int, tuple[list[int], list[str]]] = {}
        dependents: dict[int, list[int]] = defaultdict(list)
        for n, part in enumerate(parts):  # sinks first, so successors are settled
            cause = next((impossible[part_of[v]] for u in part for v, _ in self.select.get(u, ())
                          if part_of[v] != n and part_of[v] in impossible), None)
            if cause is not None:
                impossible[n] = cause
                dependents[cause].extend(part)
                continue
            members, parent = self._closure([part[0]])
            conflict = self._conflict(members, parent)
            if conflict is not None:
                impossible[n] = n
                roots[n] = conflict
        mandatory_blocked = set()
        for n, (rels, reason) in roots.items():
            part = parts[n]
            message = f"{self._names(part)} can never be selected: {reason}."
            deps = dependents.get(n, [])
            if deps:
                message += f" Nor can {self._names(deps)}, which depend on {'it' if len(part) == 1 else 'them'}."
            mandatory = [i for i in part + deps if self.schemes[i].mandatory]
            if mandatory:
                mandatory_blocked.update(mandatory)
                message += (f" {self._names(mandatory)} {'is' if len(mandatory) == 1 else 'are'} mandatory, "
                            "so no plan can keep these relations: the instance is infeasible.")
                self._report(self.log.warn, message, rels)  # valid format, infeasible: solve says so (exit 3)
            else:  # the data is consistent (the format allows it): the plan just leaves them out
                message += f" The plan leaves {'it' if len(part) + len(deps) == 1 else 'them'} out."
                self._report(self.log.warn, message, rels)
        self._mandatory(parts, impossible, mandatory_blocked)
        self._precedes_pairs(part_of, impossible)

    def _report(self, report, message: str, rels: list[int]) -> None:
        """Log at the first relations.csv row of the reason (column lag if one lag is the cause)."""
        rows = sorted(self._row(k) for k in rels)
        column = "lag" if len(set(rels)) == 1 and self.inst.relations[rels[0]].lag else None
        report(self.label, message, row=rows[0] if rows else None, column=column)

    def _groups(self) -> dict[int, int]:
        """Scheme -> its group: schemes linked by relations of any kind (union-find)."""
        root = {i: i for i in self.nodes}

        def find(i: int) -> int:
            while root[i] != i:
                root[i] = root[root[i]]
                i = root[i]
            return i

        links = [(a, b) for a, bs in self.select.items() for b, _ in bs]
        links += [(a, b) for a, bs in self.excludes.items() for b, _ in bs]
        links += [(e.tail, e.head) for edges in self.timing.values() for e in edges]
        for a, b in links:
            ra, rb = find(a), find(b)
            if ra != rb:
                root[ra] = rb
        return {i: find(i) for i in self.nodes}

    def _mandatory(self, parts, impossible, blocked: set[int]) -> None:
        """Mandatory schemes that cannot all be selected, which makes the instance infeasible, and
        options they rule out: warnings (the format allows both; solve reports the infeasibility).

        Only schemes linked by relations can interact, so each group is checked on its own.
        """
        group = self._groups()
        mandatory_of: dict[int, list[int]] = defaultdict(list)
        for i in sorted(self.nodes):
            if self.schemes[i].mandatory:
                mandatory_of[group[i]].append(i)
        parts_of: dict[int, list[int]] = defaultdict(list)
        for n, part in enumerate(parts):
            parts_of[group[part[0]]].append(n)
        for g, mandatory in mandatory_of.items():
            if blocked & set(mandatory):
                continue  # already reported as impossible
            members, parent = self._closure(mandatory)
            conflict = self._conflict(members, parent)
            ids = {self.schemes[i].id: i for i in mandatory}
            if conflict is not None:
                rels, reason = conflict
                involved = self._involved(rels, ids) or mandatory
                self._report(self.log.warn, f"the mandatory schemes {self._names(involved)} cannot all be "
                                            f"selected, so no plan is possible (the instance is infeasible): "
                                            f"{reason}.", rels)
                continue
            forced = set(members)
            for n in parts_of[g]:
                part = parts[n]
                if n in impossible or part[0] in forced:
                    continue
                members, parent = self._closure([part[0]] + mandatory)
                conflict = self._conflict(members, parent)
                if conflict is None:
                    continue
                rels, reason = conflict
                involved = self._involved(rels, ids) or mandatory
                verb = "is" if len(involved) == 1 else "are"
                self._report(self.log.warn, f"{self._names(part)} can never be selected, because "
                                            f"{self._names(involved)} {verb} mandatory: {reason}.", rels)
                impossible[n] = n

    def _involved(self, rels: list[int], ids: dict[str, int]) -> list[int]:
        """The schemes of `ids` that the relations `rels` name."""
        named = {x for k in rels for x in (self.inst.relations[k].a, self.inst.relations[k].b)}
        return sorted(ids[x] for x in named if x in ids)

    def _precedes_pairs(self, part_of, impossible) -> None:
        """A precedes pair that can never both be selected acts as `excludes`: worth a warning."""
        index = {self.schemes[i].id: i for i in self.nodes}
        for k, r in enumerate(self.inst.relations):
            if r.kind != "precedes" or r.a not in index or r.b not in index:
                continue
            a, b = index[r.a], index[r.b]
            if part_of[a] in impossible or part_of[b] in impossible:
                continue
            members, parent = self._closure([a, b])
            conflict = self._conflict(members, parent)
            if conflict is None:
                continue
            self.log.warn(self.label, f"{r.a} and {r.b} can never both be selected (so this precedes acts "
                                      f"as excludes): {conflict[1]}.", row=self._row(k), column="lag")
