"""Run folders: nothing of the user's is deleted, outputs appear whole or not at all."""

from __future__ import annotations

import errno
import json
import os
import signal
from pathlib import Path

import pytest

from gridcarbon.errors import OutputExistsError
from gridcarbon.io import runfolder
from gridcarbon.io.runfolder import (
    MANIFEST_NAME,
    PARTIAL_MARKER,
    OutputBusyError,
    OutputError,
    atomic_directory,
    atomic_write,
    deferred_signals,
    output_set,
    read_manifest,
    rename_noreplace,
)


def _publish(out: Path, files: dict[str, str], overwrite: bool = False) -> None:
    with atomic_directory(out, overwrite=overwrite) as tmp:
        for name, text in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            atomic_write(tmp / name, lambda p, text=text: p.write_text(text))


def _tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME
    }


def test_manifest_lists_every_entry_written(tmp_path):
    out = tmp_path / "out"
    _publish(out, {"a.nc": "1", "store/0.0": "2"})
    assert read_manifest(out) == {"a.nc", "store/", "store/0.0"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no lock, no temporary


def test_overwrite_keeps_the_users_files_and_names_them(tmp_path):
    out = tmp_path / "out"
    _publish(out, {"prior.nc": "old"})
    (out / "notes.txt").write_text("mine")
    (out / "mydata").mkdir()
    (out / "mydata" / "stations.csv").write_text("id\n1\n")
    with pytest.raises(OutputExistsError) as err:
        _publish(out, {"prior.nc": "new"}, overwrite=True)
    assert "'mydata/'" in str(err.value) and "'notes.txt'" in str(err.value)
    assert _tree(out) == {"mydata/stations.csv": "id\n1\n", "notes.txt": "mine", "prior.nc": "old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_overwrite_replaces_a_folder_gridcarbon_wrote(tmp_path):
    out = tmp_path / "out"
    _publish(out, {"prior.nc": "old", "gone.csv": "x"})
    _publish(out, {"prior.nc": "new"}, overwrite=True)
    assert _tree(out) == {"prior.nc": "new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_folder_that_appears_during_the_run_is_not_replaced(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(OutputExistsError, match="appeared while gridcarbon was writing"):
        with atomic_directory(out) as tmp:
            (tmp / "prior.nc").write_text("result")
            out.mkdir()
            (out / "important.txt").write_text("the user's")
    assert _tree(out) == {"important.txt": "the user's"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    out = tmp_path / "out"
    with atomic_directory(out) as tmp:
        (tmp / "a").write_text("first")
        with pytest.raises(OutputBusyError, match=f"pid {os.getpid()}.* is writing"):
            with atomic_directory(out):
                pass
    assert _tree(out) == {"a": "first"}


@pytest.mark.parametrize("entry", ["/etc/passwd", "../outside.txt", "a/../../b", "link"])
def test_bad_manifest_entries_are_refused(tmp_path, entry):
    out = tmp_path / "out"
    _publish(out, {"a": "1"})
    (tmp_path / "outside.txt").write_text("keep")
    (out / "link").symlink_to(tmp_path / "outside.txt")
    doc = json.loads((out / MANIFEST_NAME).read_text())
    doc["entries"].append(entry)
    (out / MANIFEST_NAME).write_text(json.dumps(doc))
    with pytest.raises(OutputError, match="manifest"):
        _publish(out, {"a": "2"}, overwrite=True)
    assert (out / "a").read_text() == "1" and (tmp_path / "outside.txt").read_text() == "keep"


def test_refused_output_folders(tmp_path, monkeypatch):
    work = tmp_path / "work"
    (work / "inputs").mkdir(parents=True)
    (work / "inputs" / "units.gpkg").write_text("x")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    cases = {
        "/": "root folder",
        str(tmp_path / "home"): "home folder",
        ".": "current folder",
        "..": "current folder or holds it",
        str(tmp_path / "link"): "symlink",
        str(work / "inputs"): "holds the input",
    }
    for out, why in cases.items():
        with pytest.raises(OutputError, match=why):
            with atomic_directory(out, overwrite=True, inputs=[work / "inputs" / "units.gpkg"]):
                raise AssertionError("refused before the body runs")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "link", "real", "work"]
    assert sorted(p.name for p in work.iterdir()) == ["inputs"]


def test_stale_temporaries_are_cleaned_only_when_they_are_ours(tmp_path):
    out = tmp_path / "out"
    killed = tmp_path / ".out.tmp-0a1b2c3d"
    killed.mkdir()
    (killed / PARTIAL_MARKER).write_text("12345\n")
    (killed / "prior.nc").write_text("half")
    lookalike = tmp_path / ".out.tmp-99999999"  # the pattern, but no marker: not ours
    lookalike.mkdir()
    (lookalike / "keep.txt").write_text("keep")
    _publish(out, {"a": "1"})
    assert not killed.exists()
    assert (lookalike / "keep.txt").read_text() == "keep"


def test_an_old_result_moved_aside_by_a_killed_overwrite_is_restored(tmp_path):
    out = tmp_path / "out"
    _publish(out, {"a": "old"})
    aside = tmp_path / ".out.old-0a1b2c3d"
    os.rename(out, aside)  # the state a kill between the two fallback renames leaves
    with atomic_directory(out, overwrite=True) as tmp:
        assert (out / "a").read_text() == "old"  # restored before the work starts
        (tmp / "a").write_text("new")
    assert _tree(out) == {"a": "new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("exchange_available", [True, False])
def test_a_failure_between_the_renames_of_overwrite_keeps_the_old_result(
    tmp_path, monkeypatch, exchange_available
):
    out = tmp_path / "out"
    _publish(out, {"prior.nc": "old"})
    eio = OSError(errno.EIO, "Input/output error")
    if exchange_available:

        def failing(a, b):
            raise eio

        monkeypatch.setattr(runfolder, "exchange", failing)
    else:
        real = runfolder.rename_noreplace

        def unsupported(a, b):
            raise runfolder.RenameUnsupported(errno.ENOSYS, "no")

        def second_rename_fails(src, dst):
            if Path(dst) == out:
                raise eio
            real(src, dst)

        monkeypatch.setattr(runfolder, "exchange", unsupported)
        monkeypatch.setattr(runfolder, "rename_noreplace", second_rename_fails)
    with pytest.raises(OSError, match="Input/output error"):
        _publish(out, {"prior.nc": "new"}, overwrite=True)
    assert _tree(out) == {"prior.nc": "old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_fsync_and_rename_order(tmp_path, monkeypatch):
    """Every rename's source is flushed before it, and its folder after it."""
    events: list[tuple[str, str, str]] = []
    real_fsync, real_renameat2 = os.fsync, runfolder.renameat2

    def spy_fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"), ""))
        real_fsync(fd)

    def spy_renameat2(src, dst, flags):
        events.append(("rename", str(Path(src).resolve()), str(Path(dst).absolute())))
        real_renameat2(src, dst, flags)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(runfolder, "renameat2", spy_renameat2)
    for mod in ("rename", "replace"):  # published outputs never go through a plain rename
        monkeypatch.setattr(os, mod, lambda *a, m=mod: pytest.fail(f"os.{m}{a}"))
    out = tmp_path / "out"
    _publish(out, {"prior.nc": "1", "tables/a.csv": "2"})
    _publish(out, {"prior.nc": "3"}, overwrite=True)
    renames = [i for i, e in enumerate(events) if e[0] == "rename"]
    assert len(renames) == 7  # 2 files, the manifest, the folder; a file, the manifest, the swap
    for i in renames:
        _, src, dst = events[i]
        synced_before = {p for kind, p, _ in events[:i] if kind == "fsync"}
        assert src in synced_before, (src, events[:i])
        flushed = [k for k, (kind, p, _) in enumerate(events) if kind == "fsync" and k > i]
        parent = str(Path(dst).parent)
        assert any(events[k][1] == parent for k in flushed), (dst, events[i:])
        nxt = [k for k in renames if k > i]
        assert not nxt or any(events[k][1] == parent for k in flushed if k < nxt[0])


def test_rename_noreplace_fallback_refuses_existing_names(tmp_path, monkeypatch):
    monkeypatch.setattr(runfolder, "_RENAMEAT2", None)
    (tmp_path / "f").write_text("new")
    (tmp_path / "g").write_text("user's")
    with pytest.raises(OutputExistsError):
        rename_noreplace(tmp_path / "f", tmp_path / "g")
    (tmp_path / "d").mkdir()
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "x").write_text("user's")
    with pytest.raises(OutputExistsError):
        rename_noreplace(tmp_path / "d", tmp_path / "e")
    rename_noreplace(tmp_path / "f", tmp_path / "h")
    rename_noreplace(tmp_path / "d", tmp_path / "c")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "e", "g", "h"]
    assert (tmp_path / "g").read_text() == "user's" and (tmp_path / "h").read_text() == "new"


def test_output_set_moves_all_or_nothing(tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "zone_a.csv").write_text("old a")
    with output_set(folder, ["zone_a.csv", "zone_b.csv"], overwrite=True) as tmp:
        (tmp / "zone_a.csv").write_text("new a")
        (tmp / "zone_b.csv").write_text("new b")
    assert _tree(folder) == {"notes.txt": "mine", "zone_a.csv": "new a", "zone_b.csv": "new b"}
    assert not (folder / MANIFEST_NAME).exists()  # a folder gridcarbon did not make

    real = runfolder.rename_noreplace

    def fail_on_c(src, dst):
        if Path(dst).name == "zone_c.csv":
            raise OSError(errno.EIO, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(runfolder, "rename_noreplace", fail_on_c)
    with pytest.raises(OSError, match="Input/output error"):
        with output_set(folder, ["zone_a.csv", "zone_c.csv"], overwrite=True) as tmp:
            (tmp / "zone_a.csv").write_text("newer a")
            (tmp / "zone_c.csv").write_text("c")
    assert _tree(folder) == {"notes.txt": "mine", "zone_a.csv": "new a", "zone_b.csv": "new b"}


def test_output_set_refuses_existing_files_before_the_work(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "map.html").write_text("not gridcarbon's")
    with pytest.raises(OutputExistsError, match="'map.html'.*--overwrite"):
        with output_set(folder, ["map.html"], check_folder=False):
            raise AssertionError("refused before the body runs")
    assert _tree(folder) == {"map.html": "not gridcarbon's"}


def test_interrupts_wait_for_the_write_step(tmp_path):
    # Python's own Ctrl-C handler, whatever this process inherited (a background job ignores it)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        done = []
        with pytest.raises(KeyboardInterrupt):
            with deferred_signals():
                os.kill(os.getpid(), signal.SIGINT)
                done.append("the step finished")
        assert done == ["the step finished"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_an_ignored_interrupt_stays_ignored_after_the_write_step(tmp_path):
    inherited = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as under nohup or `cmd &`
    try:
        done = []
        with deferred_signals():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("the step finished")
        done.append("and the caller goes on")
        assert done == ["the step finished", "and the caller goes on"]
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_a_full_disk_is_named(tmp_path):
    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError, match="no space left on the device while writing"):
        atomic_write(tmp_path / "prior.nc", full)
    assert list(tmp_path.iterdir()) == []
