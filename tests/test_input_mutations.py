"""Random damage to a valid instance folder never crashes the loader.

Hypothesis deletes cells, swaps columns, writes junk values, truncates files, fills them with
random bytes, deletes files or puts folders in their place. Whatever it does, `load_instance`
either returns an Instance or raises `InputError` whose every error names a file of the folder;
`cipopt validate` exits 0 or 2, never with a traceback.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cipopt.cli import main
from cipopt.io.load import load_instance
from cipopt.schema.instance import Instance
from cipopt.schema.problems import InputError
from test_input_errors import BASE

FILES = sorted(BASE)
CSV_FILES = [f for f in FILES if f.endswith(".csv")]

JUNK = st.one_of(
    st.sampled_from([
        "", " ", "12k", "£1,200", "1,5", "(3)", "-1", "0", "1e400", "-inf", "nan", "NaN", "%", "50%",
        "2025/26", "yes", "TRUE", "null", "~", '"', "'", ",", ";", "\t", "\n", "\r\n", "\x00", "\x1a",
        "\ufeff", "é", "£", "—", "requires", "excludes", "together", "precedes", "epr", "roster",
        "holby", "ccg", "agency", "x" * 300, "[1, 2]", "{a: 1}", "- x", ": :", "&a", "*a", "!!python/none",
        "2031", "1.5", "99999999999999999999", "-0", "0x10", "1_000",
    ]),
    st.text(max_size=12),
    st.integers(min_value=-10**6, max_value=10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@st.composite
def mutation(draw, files: dict[str, bytes | str | None]) -> None:
    """Apply one random mutation to `files` (name -> content; None deletes, "<dir>" makes a folder)."""
    name = draw(st.sampled_from(FILES))
    content = files[name]
    if content is None or content == "<dir>":
        return
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    kind = draw(st.sampled_from([
        "cell", "cell", "cell", "empty_cell", "swap_columns", "header", "drop_row", "dup_row",
        "truncate", "random_bytes", "insert_bytes", "delete", "folder", "yaml_value", "yaml_line",
        "encode",
    ]))
    if kind in ("cell", "empty_cell", "swap_columns", "header", "drop_row", "dup_row") and name in CSV_FILES:
        try:
            rows = _rows(text)
        except csv.Error:  # already damaged beyond what csv reads
            return
        width = len(rows[0]) if rows else 0
        if len(rows) < 2 or width == 0:
            return
        r = draw(st.integers(1, len(rows) - 1))
        c = draw(st.integers(0, width - 1))
        rows[r] += [""] * (width - len(rows[r]))
        if kind == "cell":
            rows[r][c] = draw(JUNK)
        elif kind == "empty_cell":
            rows[r][c] = ""
        elif kind == "swap_columns":
            d = draw(st.integers(0, width - 1))
            for row in rows:
                if max(c, d) < len(row):
                    row[c], row[d] = row[d], row[c]
        elif kind == "header":
            rows[0][c] = draw(JUNK)
        elif kind == "drop_row":
            del rows[r]
        else:
            rows.insert(r, list(rows[r]))
        files[name] = _csv(rows)
    elif kind == "truncate":
        data = text.encode()
        files[name] = data[: draw(st.integers(0, len(data)))]
    elif kind == "random_bytes":
        files[name] = draw(st.binary(max_size=300))
    elif kind == "insert_bytes":
        data = text.encode()
        at = draw(st.integers(0, len(data)))
        files[name] = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    elif kind == "delete":
        files[name] = None
    elif kind == "folder":
        files[name] = "<dir>"
    elif kind == "yaml_value" and name == "instance.yaml" and text:
        lines = text.splitlines(keepends=True)
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        cut = draw(st.integers(0, len(line)))
        lines[i] = line[:cut] + draw(JUNK) + line[cut + draw(st.integers(0, 6)):]
        files[name] = "".join(lines)
    elif kind == "yaml_line" and text.strip():
        lines = text.splitlines(keepends=True)
        i = draw(st.integers(0, len(lines) - 1))
        if draw(st.booleans()):
            del lines[i]
        else:
            lines.insert(i, lines[draw(st.integers(0, len(lines) - 1))])
        files[name] = "".join(lines)
    elif kind == "encode":
        codec = draw(st.sampled_from(["cp1252", "utf-16", "utf-8-sig", "latin-1"]))
        files[name] = text.encode(codec, "replace")


@st.composite
def damaged(draw) -> dict[str, bytes | str | None]:
    files: dict[str, bytes | str | None] = dict(BASE)
    for _ in range(draw(st.integers(1, 3))):
        draw(mutation(files))
    return files


def _write(folder: Path, files: dict[str, bytes | str | None]) -> None:
    for name, content in files.items():
        path = folder / name
        if content is None:
            continue
        if content == "<dir>":
            path.mkdir()
        else:
            path.write_bytes(content if isinstance(content, bytes) else content.encode())


def _assert_errors_name_files(error: InputError, folder: Path) -> None:
    assert error.errors, "an InputError must carry at least one error"
    for p in error.errors:
        where = Path(p.file)
        assert where == folder or where.parent == folder, f"{p} does not name a file of {folder}"
        assert p.message.strip(), p
        assert p.row is None or p.row >= 1, p


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=damaged())
def test_damaged_instance_loads_or_is_refused_with_located_errors(files):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, files)
        try:
            instance = load_instance(folder)
        except InputError as error:
            _assert_errors_name_files(error, folder)
        else:
            assert isinstance(instance, Instance)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=damaged())
def test_cipopt_validate_exits_0_or_2_without_a_traceback(files):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, files)
        result = CliRunner().invoke(main, ["validate", str(folder)])
        output = result.output
        assert "Traceback" not in output, output
        assert result.exit_code in (0, 2), (result.exit_code, output, result.exception)
        if result.exit_code == 2:
            assert any(f"{folder}" in line and ("error" in line.lower()) for line in output.splitlines()), output


def test_the_undamaged_instance_loads():
    with tempfile.TemporaryDirectory() as tmp:
        _write(Path(tmp), dict(BASE))
        assert len(load_instance(tmp).schemes) == 4
