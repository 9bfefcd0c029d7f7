"""The package stays legible: short functions, modules under 500 lines, docstrings free of hosts and
measured timings (those belong in ``results/benchmarks/`` records and the book)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "glocal"
SOURCES = sorted(PACKAGE.rglob("*.py"))
MAX_FUNCTION, MAX_KERNEL, MAX_MODULE = 80, 150, 500
# a compiled numerical kernel may reach MAX_KERNEL lines when a comment inside it says why it is not split
KERNEL_REASON = re.compile(r"#.*\b(split|splitting)\b.*\b(cost|slow|speed|inlin|register|vectori)", re.I)
HOST_OR_TIMING = re.compile(
    r"\b(Ice ?Lake|Emerald Rapids|Sapphire Rapids|Skylake|Cascade Lake|EPYC|znver\d|Xeon|this host|"
    r"on this machine|on the fastest host)\b"
    r"|\b\d+(\.\d+)?\s?(s|ms|min|minutes|seconds|hours|CPU[- ]s|CPU-hours)\b(?!\s*(\^-?|⁻|-)\s*1)",
    re.I)


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _is_compiled_kernel(node) -> bool:
    return any("njit" in ast.unparse(d) or "numba" in ast.unparse(d) for d in node.decorator_list)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_and_function_lengths(path):
    text = path.read_text()
    n_lines = text.count("\n")
    assert n_lines <= MAX_MODULE, f"{path.name}: {n_lines} lines > {MAX_MODULE}; split it by concept"
    lines = text.splitlines()
    for node in _functions(ast.parse(text)):
        length = node.end_lineno - node.lineno + 1
        if length <= MAX_FUNCTION:
            continue
        body = "\n".join(lines[node.lineno - 1:node.end_lineno])
        kernel_ok = _is_compiled_kernel(node) and length <= MAX_KERNEL and KERNEL_REASON.search(body)
        assert kernel_ok, f"{path.name}:{node.lineno} {node.name}() is {length} lines > {MAX_FUNCTION}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_host_names_or_timings_in_docs(path):
    text = path.read_text()
    docs = [ast.get_docstring(n) or "" for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    comments = [ln.split("#", 1)[1] for ln in text.splitlines() if "#" in ln and not ln.lstrip().startswith(("'", '"'))]
    for chunk in docs + comments:
        m = HOST_OR_TIMING.search(chunk)
        assert m is None, f"{path.name}: names a host or a measured timing: {m.group(0)!r} in {chunk[:120]!r}"


def test_shape_checks_can_fail(tmp_path):
    """The checks above are not vacuous: a long function and a host name are caught."""
    long_fn = "def f():\n" + "    x = 1\n" * (MAX_FUNCTION + 1)
    node = next(_functions(ast.parse(long_fn)))
    assert node.end_lineno - node.lineno + 1 > MAX_FUNCTION
    assert HOST_OR_TIMING.search("took 8.4 s on this host")
    assert HOST_OR_TIMING.search("an Ice Lake server")
    assert HOST_OR_TIMING.search("12.5 s per model")
    assert HOST_OR_TIMING.search("deposit 23 -> 15 s")
    assert not HOST_OR_TIMING.search("velocity in km s^-1 per pixel, 5 s^-1 rates")
