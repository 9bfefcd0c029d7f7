"""Execute the book's chapters with papermill at a named scale.

Each jupytext source in notebooks/ is converted to a notebook, executed with papermill with
the parameters of the scale (notebooks/scales.yml: common values, then per-chapter values,
then ``-p name value`` overrides from the command line) and written to book/chapters/.
Chapters share artifacts through the cache directory (glocal.cache), so re-executing a
chapter recomputes only what its parameters change.

    python scripts/execute_book.py --scale ci
    python scripts/execute_book.py --scale laptop --only 05_results -p seed 1
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import jupytext
import papermill
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "book" / "chapters"


def load_scales() -> dict:
    with open(NOTEBOOKS / "scales.yml") as fh:
        return yaml.safe_load(fh)


def parameters_for(scales: dict, scale: str, chapter: str, overrides: dict) -> dict:
    if scale not in scales["scales"]:
        raise SystemExit(f"unknown scale {scale!r}; choose from {sorted(scales['scales'])}")
    spec = scales["scales"][scale]
    params = {"scale": scale, **spec.get("common", {}), **spec.get(chapter, {}), **overrides}
    return params


def parse_value(text: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="laptop")
    ap.add_argument("--only", action="append", default=[], help="chapter name(s) to execute (default: all)")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    ap.add_argument("--cache", default=os.environ.get("GLOCAL_CACHE", str(ROOT / ".cache" / "glocal")))
    ap.add_argument("--missing", action="store_true",
                    help="only list the chapters not executed yet (exit status 1 if there are any)")
    args = ap.parse_args(argv)

    scales = load_scales()
    chapters = scales["chapters"]
    if args.missing:
        missing = [c for c in chapters if not (OUT / f"{c}.ipynb").exists()]
        if missing:
            print(f"not executed yet: {', '.join(missing)}")
        return 1 if missing else 0
    only = [c.removesuffix(".py") for c in args.only if c]
    unknown = [c for c in only if c not in chapters]
    if unknown:
        raise SystemExit(f"unknown chapter(s) {unknown}; chapters are {chapters}")
    overrides = {k: parse_value(v) for k, v in args.parameter}
    os.environ["GLOCAL_CACHE"] = str(Path(args.cache).resolve())
    os.environ.pop("MPLBACKEND", None)  # kernels must use the inline backend so figures are captured
    # the kernels synthesise spectra themselves too: same malloc settings as the grid workers (but not
    # their one-thread limits: torch trains with both cores in the kernel)
    from glocal.build import WORKER_ENVIRON
    for k, v in WORKER_ENVIRON.items():
        if k.startswith("MALLOC_"):
            os.environ.setdefault(k, str(v))
    OUT.mkdir(parents=True, exist_ok=True)
    log = {}
    for chapter in chapters:
        if only and chapter not in only:
            continue
        params = parameters_for(scales, args.scale, chapter, overrides)
        source = NOTEBOOKS / f"{chapter}.py"
        nb = jupytext.read(source)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        tmp = OUT / f".{chapter}.input.ipynb"
        jupytext.write(nb, tmp)
        print(f"[book] {chapter} scale={args.scale} params={json.dumps(params)}", flush=True)
        t0 = time.time()
        try:
            papermill.execute_notebook(str(tmp), str(OUT / f"{chapter}.ipynb"), parameters=params,
                                       kernel_name="python3", cwd=str(OUT), progress_bar=False,
                                       log_output=False)
        finally:
            tmp.unlink(missing_ok=True)
        log[chapter] = {"parameters": params, "seconds": round(time.time() - t0, 1)}
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
