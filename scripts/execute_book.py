"""Execute the book's chapters with papermill at a named scale.

Each jupytext source in notebooks/ is converted to a notebook and executed with papermill, which sets
two names in its `parameters` cell: `scale` and `overrides` (the `-p name value` pairs of the command
line that the chapter takes). The chapter reads every value from notebooks/scales.yml through
`glocal.book.chapter_parameters(chapter, scale, overrides)`; this script resolves the same values
first, so an unknown scale, chapter or parameter name fails before any kernel starts, and records
them in results/<scale>/execution.json. Executed notebooks go to book/chapters/. Chapters share
artifacts through the cache directory (glocal.cache), so re-executing a chapter recomputes only what
its parameters change.

    python scripts/execute_book.py --scale ci
    python scripts/execute_book.py --scale laptop --only 05_results -p seed 1
    python scripts/execute_book.py --scale ci --only 02_spectra --show      # print the parameters only

A `-p` value is read as YAML (`-p snr_list "[30, 50]"`); it replaces the whole value (a dict such as
`train` is not merged). With several chapters, a name is passed to the chapters that take it and
must be taken by at least one of them.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import yaml

from glocal import book

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "book" / "chapters"
#: environment of the kernels: no progress bars (tqdm takes its defaults from TQDM_* variables) and no warning
#: from ``tqdm.auto`` about the absent notebook widgets; the book's outputs carry neither (scripts/check_html.py
#: fails on a page whose outputs show "Warning" or "Traceback")
KERNEL_ENVIRON = {"TQDM_DISABLE": "1"}
QUIET_WARNINGS = "ignore:IProgress not found"


def load_scales() -> dict:
    """The checked scales file (:func:`glocal.book.load_scales`); kept for scripts/export_pretrained.py."""
    return book.load_scales()


def parameters_for(scales: dict, scale: str, chapter: str, overrides: dict) -> dict:
    """A chapter's resolved parameters as a dict (:func:`glocal.book.chapter_parameters`); kept for
    scripts/export_pretrained.py. Exits with the error's message for an unknown scale, chapter or name."""
    try:
        return book.chapter_parameters(chapter, scale, overrides, spec=scales).to_dict()
    except ValueError as err:
        raise SystemExit(str(err)) from None


def parse_value(text: str):
    """A `-p` value as YAML (numbers, lists, dicts, null), or the text itself where it is not YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def chapter_overrides(spec: dict, chapters: list[str], overrides: dict) -> dict[str, dict]:
    """The overrides each of ``chapters`` takes; exits naming any override that none of them takes."""
    if "scale" in overrides:
        raise SystemExit("`scale` is chosen with --scale, not with -p")
    per_chapter = {c: {k: v for k, v in overrides.items() if k in book.parameter_names(c, spec)}
                   for c in chapters}
    unused = sorted(set(overrides) - {k for o in per_chapter.values() for k in o})
    if unused:
        names = sorted({n for c in chapters for n in book.parameter_names(c, spec)})
        raise SystemExit(f"no chapter of {chapters} takes the parameter(s) {unused}; they take {names}")
    return per_chapter


def execute(chapter: str, scale: str, overrides: dict) -> None:
    """Convert ``notebooks/<chapter>.py`` and execute it with papermill into ``book/chapters/``."""
    import jupytext
    import papermill

    nb = jupytext.read(NOTEBOOKS / f"{chapter}.py")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    tmp = OUT / f".{chapter}.input.ipynb"
    jupytext.write(nb, tmp)
    try:
        papermill.execute_notebook(str(tmp), str(OUT / f"{chapter}.ipynb"),
                                   parameters={"scale": scale, "overrides": overrides},
                                   kernel_name="python3", cwd=str(OUT), progress_bar=False, log_output=False)
    finally:
        tmp.unlink(missing_ok=True)
    present(OUT / f"{chapter}.ipynb")


def present(path: Path) -> None:
    """Tag the executed notebook for the HTML (the code and the outputs stay as executed).

    * Where papermill injected the values the chapter ran with, the chapter's own `parameters` cell (the
      defaults) gets `remove-cell` and the injected cell `hide-input`: the parameters show once, collapsed.
    * A markdown cell with a ``caption`` metadata entry (``# %% [markdown] caption="fig-grid-coverage"`` in
      the jupytext source) is the caption of the code cell before it: it is moved into that cell's
      ``mystnb.figure`` options (name = the entry, caption = the cell's text), so MyST-NB renders the cell's
      outputs as numbered figures that ``{numref}`` can link to. An empty entry gives a caption without a
      name, for a cell that draws several figures (a name must be unique).
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    tags_of = [c.metadata.setdefault("tags", []) for c in nb.cells]
    if any("injected-parameters" in t for t in tags_of):
        for tags in tags_of:
            for marker, tag in (("parameters", "remove-cell"), ("injected-parameters", "hide-input")):
                if marker in tags and tag not in tags:
                    tags.append(tag)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "caption" in cell.metadata:
            target = next((c for c in reversed(cells) if c.cell_type == "code"), None)
            if target is None:
                raise SystemExit(f"{path.name}: a caption cell precedes every code cell")
            options = {"caption": " ".join(cell.source.split())}
            if cell.metadata["caption"]:
                options["name"] = str(cell.metadata["caption"])
            target.metadata.setdefault("mystnb", {})["figure"] = options
            continue
        cells.append(cell)
    nb.cells = cells
    nbformat.write(nb, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="laptop", help="a scale of notebooks/scales.yml (default: laptop)")
    ap.add_argument("--only", action="append", default=[], help="chapter name(s) to execute (default: all)")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="override one parameter of scales.yml for this run (value read as YAML)")
    ap.add_argument("--cache", default=os.environ.get("GLOCAL_CACHE", str(ROOT / ".cache" / "glocal")))
    ap.add_argument("--show", action="store_true", help="print each chapter's resolved parameters and exit")
    ap.add_argument("--missing", action="store_true",
                    help="only list the chapters not executed yet (exit status 1 if there are any)")
    args = ap.parse_args(argv)

    try:
        spec = book.load_scales()
    except ValueError as err:
        raise SystemExit(str(err)) from None
    chapters = book.chapters(spec)
    if args.missing:
        missing = [c for c in chapters if not (OUT / f"{c}.ipynb").exists()]
        if missing:
            print(f"not executed yet: {', '.join(missing)}")
        return 1 if missing else 0
    if args.scale not in spec["scales"]:
        raise SystemExit(f"unknown scale {args.scale!r}; choose from {book.scale_names(spec)}")
    only = [c.removesuffix(".py") for c in args.only if c]
    unknown = [c for c in only if c not in chapters]
    if unknown:
        raise SystemExit(f"unknown chapter(s) {unknown}; chapters are {chapters}")
    selected = [c for c in chapters if not only or c in only]
    overrides = chapter_overrides(spec, selected, {k: parse_value(v) for k, v in args.parameter})
    resolved = {c: book.chapter_parameters(c, args.scale, overrides[c], spec=spec).to_dict() for c in selected}
    if args.show:
        for chapter in selected:
            print(f"[book] {chapter} scale={args.scale} params={json.dumps(resolved[chapter])}")
        return 0
    os.environ["GLOCAL_CACHE"] = str(Path(args.cache).resolve())
    os.environ.update(KERNEL_ENVIRON)
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, (os.environ.get("PYTHONWARNINGS"), QUIET_WARNINGS)))
    os.environ.pop("MPLBACKEND", None)  # kernels must use the inline backend so figures are captured
    # the kernels synthesise spectra themselves too: same malloc settings as the grid workers (but not
    # their one-thread limits: torch trains with both cores in the kernel)
    from glocal.build import WORKER_ENVIRON
    for k, v in WORKER_ENVIRON.items():
        if k.startswith("MALLOC_"):
            os.environ.setdefault(k, str(v))
    OUT.mkdir(parents=True, exist_ok=True)
    log = {}
    for chapter in selected:
        print(f"[book] {chapter} scale={args.scale} overrides={json.dumps(overrides[chapter])} "
              f"params={json.dumps(resolved[chapter])}", flush=True)
        t0 = time.time()
        execute(chapter, args.scale, overrides[chapter])
        log[chapter] = {"parameters": resolved[chapter], "overrides": overrides[chapter],
                        "seconds": round(time.time() - t0, 1)}
        print(f"[book] {chapter} done in {log[chapter]['seconds']} s", flush=True)
    results = ROOT / "results" / args.scale
    results.mkdir(parents=True, exist_ok=True)
    record = results / "execution.json"
    previous = json.loads(record.read_text()) if record.exists() else {}
    previous.update(log)
    record.write_text(json.dumps(previous, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
