"""LineTail: complete lines only, in order, each once; blank lines dropped."""

from __future__ import annotations

from pathlib import Path

from harness.line_tail import LineTail


def test_reads_complete_lines_once_and_holds_back_a_partial_one(tmp_path: Path) -> None:
    path = tmp_path / "stream.jsonl"
    tail = LineTail(path)
    assert tail.read_lines() == []  # not there yet

    path.write_bytes(b'{"a": 1}\n\n{"b": ')
    assert tail.read_lines() == [b'{"a": 1}']

    with path.open("ab") as handle:
        handle.write(b'2}\n{"c": 3}\n')
    assert tail.read_lines() == [b'{"b": 2}', b'{"c": 3}']
    assert tail.read_lines() == []
