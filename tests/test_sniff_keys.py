"""Reading the top-level keys of a file's head (``triage.importers._common.top_level_keys``), which every
loader's sniffer uses to recognise its format: exact on whole JSON objects, tolerant of a cut-off head."""

from __future__ import annotations

import orjson
import pytest

from triage.importers import read_head
from triage.importers._common import top_level_keys, value_at


def test_keys_of_nested_and_tricky_values() -> None:
    head = b'{"a\\"b": 1, "c": [1, {"d": 2}, "]", ","], "e": {"f": "}"}, "g" : "\\\\", "h": null}'
    keys = top_level_keys(head)
    assert list(keys) == ['a\\"b', "c", "e", "g", "h"]
    assert value_at(head, "g").startswith('"\\\\"') and value_at(head, "h").startswith("null")


def test_a_head_cut_off_keeps_the_keys_before_the_cut() -> None:
    # A value cut off still has its key; a key cut off is not one.
    assert list(top_level_keys(b'{"info": {"x": 1}, "trajectory": "a long text cut \\')) == ["info", "trajectory"]
    assert list(top_level_keys(b'{"info": 1, "traj')) == ["info"]
    assert list(top_level_keys(b'\xef\xbb\xbf [ {"role": "user", "content": "hi"}, {"role"')) == ["role", "content"]
    assert dict(top_level_keys(b"not json")) == {} and dict(top_level_keys(b"")) == {}


@pytest.mark.corpus
def test_every_whole_json_object_of_the_corpus_gives_its_own_keys(corpus) -> None:
    checked = 0
    for path in sorted(p for p in corpus.rglob("*.json") if p.is_file()):
        head = read_head(path)
        if len(head) < path.stat().st_size:
            continue  # the head is only the start of this file
        try:
            value = orjson.loads(head)
        except orjson.JSONDecodeError:
            continue
        first = value[0] if isinstance(value, list) and value else value
        if isinstance(first, dict):
            assert list(top_level_keys(head)) == list(first), path
            checked += 1
    assert checked > 20
