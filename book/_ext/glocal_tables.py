"""Sphinx extension of the glocal book: captioned table outputs are numbered as tables, not as figures.

MyST-NB wraps the outputs of a code cell that has ``mystnb.figure`` options (scripts/execute_book.py moves a
chapter's caption cells there) in a figure node, so a captioned DataFrame would read "Figure 5.1". This
extension turns every such figure whose name starts with ``tab-`` into a :class:`table_output`, a figure
node registered as enumerable of the type "table": it is numbered with the tables ("Table 5.1", the
``numfig_format`` of _config.yml) and ``{numref}`` links to it as a table; the HTML is that of a figure.
"""
from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.writers.html5 import HTML5Translator

PREFIX = "tab-"


class table_output(nodes.figure):  # noqa: N801 (docutils node classes are lower case)
    """A captioned table output of a notebook cell (a figure node numbered as a table)."""


def _caption(node: nodes.Element) -> str:
    return next((c.astext() for c in node.children if isinstance(c, nodes.caption)), "")


def retype_tables(app: Sphinx, doctree: nodes.document) -> None:
    """Give the figures named ``tab-*`` the class :class:`table_output` (before the numbers are assigned)."""
    for node in list(doctree.findall(nodes.figure)):
        if type(node) is nodes.figure and any(n.startswith(PREFIX) for n in node["names"]):
            node.__class__ = table_output


def setup(app: Sphinx) -> dict:
    app.add_enumerable_node(table_output, "table", _caption,
                            html=(HTML5Translator.visit_figure, HTML5Translator.depart_figure))
    app.connect("doctree-read", retype_tables)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
