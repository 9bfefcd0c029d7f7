import json

import pytest

from glocal.cache import artifact, cache_key


def test_key_is_order_insensitive_and_parameter_sensitive():
    assert cache_key("grid", {"a": 1, "b": 2}) == cache_key("grid", {"b": 2, "a": 1})
    assert cache_key("grid", {"a": 1}) != cache_key("grid", {"a": 2})
    assert cache_key("grid", {"a": 1}) != cache_key("run", {"a": 1})


def test_artifact_builds_once_and_reuses(tmp_path):
    calls = []

    def build(path):
        calls.append(path)
        path.write_text("x")

    p1 = artifact("grid", {"n": 3}, build, suffix=".txt", root=tmp_path)
    p2 = artifact("grid", {"n": 3}, build, suffix=".txt", root=tmp_path)
    assert p1 == p2 and len(calls) == 1
    meta = json.loads(p1.with_name(p1.name + ".params.json").read_text())
    assert meta["params"] == {"n": 3}
    artifact("grid", {"n": 4}, build, suffix=".txt", root=tmp_path)
    assert len(calls) == 2


def test_interrupted_build_is_retried(tmp_path):
    def failing(path):
        path.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        artifact("grid", {"n": 1}, failing, suffix=".txt", root=tmp_path)
    seen = []
    p = artifact("grid", {"n": 1}, lambda path: (seen.append(path.read_text()), path.write_text("done")),
                 suffix=".txt", root=tmp_path)
    assert seen == ["half"] and p.read_text() == "done"


def test_rejects_unserialisable(tmp_path):
    with pytest.raises(TypeError):
        cache_key("grid", {"f": object()})


def test_key_is_stable_for_numpy_values_and_paths():
    """numpy scalars/arrays and paths hash like their plain values, and the key is the one earlier
    versions computed (existing cached artifacts stay valid)."""
    from pathlib import Path

    import numpy as np

    plain = {"preset": "ci", "seed": 0, "x": 0.25, "w": [0, 1, 2], "p": "/a/b"}
    typed = {"preset": "ci", "seed": 0, "x": np.float64(0.25), "w": np.arange(3), "p": Path("/a/b")}
    assert cache_key("grid", typed) == cache_key("grid", plain) == "926c4f28ce08f2c3"
