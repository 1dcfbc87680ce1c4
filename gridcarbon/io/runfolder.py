"""Output files and folders that appear whole or not at all, and never replace what is not ours.

Every output is built under a temporary name beside (or inside) its target and published by a
rename, in this order: write → ``fsync`` of every file → rename → ``fsync`` of the parent folder,
so after a kill or a power cut each output is either complete or absent.

- A **run folder** (``gridcarbon run``/``grid``) is published whole.  A new folder is renamed into
  place with ``renameat2(RENAME_NOREPLACE)``: a folder that appeared at the name during the run is
  never replaced.  With ``overwrite`` the new folder is swapped in with
  ``renameat2(RENAME_EXCHANGE)``, so the old result stays intact under its name until the new one
  is there; the old one is then removed file by file from its manifest.
- Every folder gridcarbon publishes holds a **manifest** (:data:`MANIFEST_NAME`) listing every
  entry it wrote.  ``overwrite`` replaces a folder only if it is empty or everything in it is
  listed; otherwise it refuses, naming the foreign entries.  Nothing of the user's is deleted.
- A **set of files** added to a folder that may already exist (``invert``, ``osse``, ``zones``,
  ``map``) is written completely into a temporary folder inside it and then moved in; a failure
  while moving puts back what was there.
- Runs into one folder are serialised by an ``fcntl.flock`` lock (the kernel releases it when the
  process dies, even by SIGKILL).  Under the lock, temporary folders of earlier runs that were
  killed are removed; only folders whose name matches gridcarbon's pattern *and* that hold the
  :data:`PARTIAL_MARKER` file (or a complete manifest) are touched.
- Where ``renameat2`` is unavailable (not Linux, old C library, or a file system that does not
  support the flags), a portable fallback is used: a file is published with ``os.link`` (which
  refuses an existing name) and then unlinked from its temporary name; a folder by ``os.mkdir`` of
  the target (which refuses an existing name) and a rename onto that empty folder.  Instead of an
  exchange, the old result is first moved aside (``.NAME.old-*``); if the run dies before the new
  one is in place, the next run into the same folder restores it.
- Interrupts: :func:`deferred_signals` holds SIGINT/SIGTERM back during one write step (a NetCDF
  write interrupted inside xarray dead-locks on xarray's file-manager lock); the interrupt is
  raised as soon as the step ends.  A second interrupt during the step removes the temporary
  folders and exits at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import logging
import os
import shutil
import signal
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from gridcarbon._version import __version__
from gridcarbon.errors import GridcarbonError, OutputExistsError

if TYPE_CHECKING:  # pragma: no cover
    from gridcarbon.contracts import LayerStyle

__all__ = [
    "MANIFEST_NAME",
    "PARTIAL_MARKER",
    "PARTIAL_SUFFIX",
    "OutputError",
    "OutputBusyError",
    "RenameUnsupported",
    "Terminated",
    "atomic_directory",
    "atomic_path",
    "atomic_write",
    "output_set",
    "partial_folder",
    "resumable_directory",
    "check_folder_target",
    "check_output_folder",
    "check_output_set",
    "check_outputs",
    "check_writable",
    "deferred_signals",
    "exchange",
    "fsync_dir",
    "fsync_file",
    "fsync_tree",
    "foreign_entries",
    "read_manifest",
    "rename_noreplace",
    "renameat2",
    "write_gpkg_atomic",
    "write_manifest",
]

log = logging.getLogger(__name__)

#: The manifest gridcarbon writes into every folder it publishes: the entries it wrote.
MANIFEST_NAME = ".gridcarbon-manifest.json"
#: The marker inside every temporary folder while it is being filled.
PARTIAL_MARKER = ".gridcarbon-partial"
_SET_PREFIX = ".gridcarbon-set.tmp-"
_MANIFEST_FORMAT = 1


class OutputError(GridcarbonError, OSError):
    """An output cannot be written where asked (read-only, not a folder, a symlink, ...)."""


class OutputBusyError(OutputError):
    """Another gridcarbon process is writing the same output."""


class RenameUnsupported(OSError):
    """``renameat2`` with the requested flag is not available for these paths."""


class Terminated(BaseException):  # noqa: N818 - named like KeyboardInterrupt, its sibling
    """Raised in the main thread when SIGTERM arrives (like KeyboardInterrupt for SIGINT)."""


# -- renameat2 -----------------------------------------------------------------------------------
_AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2


def _load_renameat2():
    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # not glibc >= 2.28 / not Linux
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


_RENAMEAT2 = _load_renameat2()


def renameat2(src: str | Path, dst: str | Path, flags: int) -> None:
    """Linux ``renameat2(2)`` through the C library.

    Raises
    ------
    RenameUnsupported
        The C library or the file system does not offer ``flags`` (use a fallback).
    OSError
        Any other failure, with its ``errno`` (``EEXIST`` for ``RENAME_NOREPLACE`` onto an
        existing name).
    """
    if _RENAMEAT2 is None:
        raise RenameUnsupported(errno.ENOSYS, "renameat2 is not available", str(src))
    rc = _RENAMEAT2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags)
    if rc != 0:
        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise RenameUnsupported(err, os.strerror(err), str(src), None, str(dst))
        raise OSError(err, os.strerror(err), str(src), None, str(dst))


def rename_noreplace(src: str | Path, dst: str | Path) -> None:
    """Rename ``src`` to ``dst`` unless ``dst`` exists (then :class:`OutputExistsError`).

    ``renameat2(RENAME_NOREPLACE)``; elsewhere ``os.link`` + unlink for a file, ``os.mkdir`` + a
    rename onto the new empty folder for a folder (both refuse an existing name).
    """
    src, dst = Path(src), Path(dst)
    try:
        try:
            renameat2(src, dst, RENAME_NOREPLACE)
        except RenameUnsupported:
            if src.is_dir() and not src.is_symlink():
                os.mkdir(dst)
                os.rename(src, dst)  # replaces the empty folder just made; fails if it is not
            else:
                os.link(src, dst, follow_symlinks=False)
                os.unlink(src)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise OutputExistsError(
                f"{str(dst)!r} appeared while gridcarbon was writing it; it was left untouched "
                "(choose another output, or pass --overwrite to replace it)"
            ) from None
        raise


def exchange(a: str | Path, b: str | Path) -> None:
    """Swap two existing paths atomically (``renameat2(RENAME_EXCHANGE)``).

    Raises :class:`RenameUnsupported` where the swap is not available.
    """
    renameat2(a, b, RENAME_EXCHANGE)


# -- fsync ---------------------------------------------------------------------------------------
def fsync_file(path: str | Path) -> None:
    """Flush a file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | Path) -> None:
    """Flush a folder's entries (names created or renamed in it) to disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems cannot fsync a folder; nothing more to do there
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


def fsync_tree(path: str | Path) -> None:
    """Flush every file and folder under ``path`` (a file or a folder), deepest first."""
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        fsync_file(path)
        return
    for root, _dirs, files in os.walk(path, topdown=False):
        for name in files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                fsync_file(p)
        fsync_dir(root)


# -- manifest ------------------------------------------------------------------------------------
def _walk_entries(folder: Path) -> list[str]:
    """Every entry under ``folder`` (not following symlinks), relative, folders ending in '/'."""
    out: list[str] = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        for d in list(dirs):
            p = Path(root) / d
            if p.is_symlink():  # os.walk lists symlinks to folders as folders; keep them as links
                dirs.remove(d)
                out.append((rel / d).as_posix())
            else:
                out.append((rel / d).as_posix() + "/")
        out.extend((rel / f).as_posix() for f in files)
    return sorted(e for e in out if e not in (MANIFEST_NAME, PARTIAL_MARKER))


def write_manifest(folder: str | Path, entries: Iterable[str] | None = None) -> Path:
    """Write ``folder``'s manifest: ``entries`` (default: everything now in it), atomically."""
    folder = Path(folder)
    listed = sorted(set(_walk_entries(folder) if entries is None else entries))
    doc = {
        "gridcarbon_manifest": _MANIFEST_FORMAT,
        "note": "entries gridcarbon wrote; `--overwrite` replaces this folder only if nothing "
        "else is in it",
        "gridcarbon_version": __version__,
        "entries": listed,
    }
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    return atomic_write(
        folder / MANIFEST_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=True
    )


def read_manifest(folder: str | Path) -> set[str] | None:
    """The entries listed in ``folder``'s manifest; None when it has none.

    Raises :class:`OutputError` for a manifest that is not gridcarbon's, or lists an absolute
    path, a path with ``..``, or an entry that is a symlink on disk.
    """
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    if not path.exists() and not path.is_symlink():
        return None
    bad = f"the manifest {str(path)!r} is not one gridcarbon wrote"
    if path.is_symlink() or not path.is_file():
        raise OutputError(f"{bad} (it is not a plain file); the folder is left untouched")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OutputError(f"{bad} ({exc}); the folder is left untouched") from None
    entries = doc.get("entries") if isinstance(doc, dict) else None
    if doc.get("gridcarbon_manifest") != _MANIFEST_FORMAT or not isinstance(entries, list):
        raise OutputError(f"{bad}; the folder is left untouched")
    out: set[str] = set()
    for e in entries:
        if not isinstance(e, str) or not e.strip("/"):
            raise OutputError(f"{bad}: entry {e!r} is not a relative path")
        parts = e.rstrip("/").split("/")
        if e.startswith("/") or Path(e).is_absolute() or ".." in parts or "" in parts:
            raise OutputError(
                f"{bad}: entry {e!r} is absolute or leaves the folder; the folder is left untouched"
            )
        if (folder / e.rstrip("/")).is_symlink():
            raise OutputError(
                f"{bad}: entry {e!r} is a symlink (gridcarbon writes none); the folder is left "
                "untouched"
            )
        out.add(e)
    return out


def foreign_entries(folder: str | Path) -> list[str]:
    """Entries in ``folder`` that its manifest does not list (all of them without a manifest)."""
    folder = Path(folder)
    listed = read_manifest(folder) or set()
    return [e for e in _walk_entries(folder) if e not in listed]


def _add_to_manifest(folder: Path, names: Iterable[str], published: Path) -> None:
    """List the entries now under ``names`` in ``folder``'s existing manifest."""
    listed = read_manifest(folder)
    if listed is None:
        return  # a folder gridcarbon did not make: leave no manifest in it
    new = set(listed)
    for name in names:
        p = published / name
        new.add(name + "/" if p.is_dir() and not p.is_symlink() else name)
        if p.is_dir() and not p.is_symlink():
            new.update(f"{name}/{e}" for e in _walk_entries(p))
    write_manifest(folder, new)


def _remove_listed(folder: Path) -> bool:
    """Delete the entries ``folder``'s manifest lists, then the manifest and the folder.

    Returns False (and deletes nothing unlisted) when something else is in it.
    """
    listed = read_manifest(folder) or set()
    for entry in sorted(listed, key=lambda e: (e.count("/"), e), reverse=True):
        p = folder / entry.rstrip("/")
        if p.is_symlink():
            continue
        with contextlib.suppress(FileNotFoundError, OSError):
            if entry.endswith("/"):
                p.rmdir()
            else:
                p.unlink()
    with contextlib.suppress(FileNotFoundError):
        (folder / MANIFEST_NAME).unlink()
    with contextlib.suppress(FileNotFoundError):
        (folder / PARTIAL_MARKER).unlink()
    try:
        folder.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


# -- signals -------------------------------------------------------------------------------------
_ACTIVE_TEMPS: set[Path] = set()
_DEFER = threading.local()
_EXIT_CODE = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _discard(tmp: Path) -> None:
    """Remove a temporary folder: whole while it is partial (marker inside); once it holds a
    manifest (a result being published, or an old one swapped out), only what that lists."""
    if tmp.is_symlink() or not tmp.is_dir():
        return
    if (tmp / PARTIAL_MARKER).is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        return
    with contextlib.suppress(OutputError, OSError):
        _remove_listed(tmp)


def _emergency_exit(signum: int) -> None:
    for tmp in list(_ACTIVE_TEMPS):
        _discard(tmp)
    os.write(2, b"gridcarbon: interrupted twice; temporary files removed\n")
    os._exit(_EXIT_CODE.get(signum, 128 + signum))


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for one write step; deliver them when it ends.

    A second signal during the step removes the temporary folders and exits (130 / 143)
    at once.  Outside the main thread this does nothing (signals go to the main thread).
    """
    if threading.current_thread() is not threading.main_thread() or getattr(_DEFER, "on", False):
        yield
        return
    pending: list[int] = []

    def hold(signum, frame):
        if pending:
            _emergency_exit(signum)
        pending.append(signum)
        log.warning("interrupt received; stopping once the file being written is complete")

    old = {s: signal.getsignal(s) for s in _EXIT_CODE}
    for s in _EXIT_CODE:
        signal.signal(s, hold)
    _DEFER.on = True
    try:
        yield
    finally:
        _DEFER.on = False
        for s, handler in old.items():
            signal.signal(s, handler)
        if pending:
            _deliver(pending[0], old[pending[0]])


def _deliver(signum: int, handler) -> None:
    if handler is signal.SIG_IGN:  # ignored before the step (nohup, a background job): still so
        return
    if callable(handler):
        handler(signum, None)
    elif signum == signal.SIGINT:
        raise KeyboardInterrupt
    else:  # SIG_DFL / SIG_IGN for SIGTERM: end as the default action would, without a trace
        signal.raise_signal(signum)


def raise_terminated(signum, frame) -> None:
    """SIGTERM handler that unwinds like Ctrl-C (so temporary folders are removed)."""
    raise Terminated(signum)


# -- refusals ------------------------------------------------------------------------------------
def _resolved(p: Path) -> Path:
    return Path(os.path.abspath(p)).resolve()


def check_folder_target(path: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """Refuse an output folder that must never be written or replaced; returns ``path``.

    Refused: ``/``, the home folder, the current folder or one of its ancestors, a symlink, a
    file, and a folder that holds one of ``inputs``.
    """
    path = Path(path)
    where = _resolved(path)
    cwd = _resolved(Path.cwd())
    home = _resolved(Path.home())
    why = None
    if where == Path(where.anchor):
        why = "it is the root folder"
    elif where == home:
        why = "it is your home folder"
    elif where == cwd or where in cwd.parents:
        why = "it is the current folder or holds it"
    elif path.is_symlink():
        why = "it is a symlink (give the real folder)"
    elif path.exists() and not path.is_dir():
        why = "it is a file"
    else:
        for inp in inputs:
            if inp is not None and _resolved(Path(inp)).is_relative_to(where):
                why = f"it holds the input {str(inp)!r}"
                break
    if why:
        raise OutputError(
            f"refusing to write the output folder {str(path)!r}: {why}; give a new folder, "
            "e.g. --out gridcarbon-output"
        )
    return path


def check_output_folder(
    path: str | Path, overwrite: bool = False, inputs: Iterable[str | Path] = ()
) -> Path:
    """Before any work: :func:`check_folder_target`, a writable place, and an existing ``path``
    only with ``overwrite`` and only if everything in it was written by gridcarbon (checked
    again, under the lock, when the folder is published)."""
    path = check_folder_target(path, inputs)
    _check_replaceable(path, overwrite)
    check_writable(path.parent)
    return path


def check_writable(folder: str | Path) -> None:
    """Refuse a folder (or, while it does not exist, its nearest existing ancestor) that cannot
    be written: a read-only file system or no permission."""
    where = Path(os.path.abspath(folder))
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        read_only = bool(os.statvfs(where).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        read_only = False
    if read_only:
        raise _output_os_error(OSError(errno.EROFS, "read-only"), where)
    if not os.access(where, os.W_OK | os.X_OK):
        raise _output_os_error(OSError(errno.EACCES, "permission denied"), where)


def _check_replaceable(path: Path, overwrite: bool) -> None:
    if not path.exists() and not path.is_symlink():
        return
    if not overwrite:
        raise OutputExistsError(
            f"{str(path)!r} already exists; pass --overwrite (overwrite=True) to replace it "
            "(only if everything in it was written by gridcarbon), or choose another output folder"
        )
    if path.is_symlink() or not path.is_dir():
        raise OutputError(f"{str(path)!r} is not a folder gridcarbon wrote; it is left untouched")
    foreign = foreign_entries(path)
    if foreign:
        shown = ", ".join(repr(e) for e in foreign[:8])
        more = f" and {len(foreign) - 8} more" if len(foreign) > 8 else ""
        raise OutputExistsError(
            f"refusing to replace {str(path)!r}: it holds entries gridcarbon did not write "
            f"({shown}{more}); move them away or choose another output folder"
        )


# -- lock ----------------------------------------------------------------------------------------
def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.gridcarbon-lock"


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``target``'s lock file; refuse at once if another holds it."""
    lock = _lock_path(target)
    if not os.access(target.parent, os.W_OK) and target.is_dir():
        lock = target / ".gridcarbon-lock"  # a set of files into a folder whose parent is closed
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _output_os_error(exc, lock.parent) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise OutputBusyError(
                f"another gridcarbon process (pid {holder}) is writing {str(target)!r}; wait for "
                "it to finish or choose another output"
            ) from None
        try:  # the file we locked must still be the one at the name (a finishing run unlinks it)
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def _output_os_error(exc: OSError, where: Path) -> OutputError:
    reason = {
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
    }.get(exc.errno, exc.strerror or str(exc))
    return OutputError(f"cannot write in {str(where)!r}: {reason}; choose another output folder")


#: Free bytes below which a failed write is taken to have filled the disk.
_FULL_BELOW = 16 << 20


@contextlib.contextmanager
def _disk_full_named(path: Path) -> Iterator[None]:
    """Turn a failure while writing ``path`` on a full disk (the libraries report it in their own
    words, e.g. ``NetCDF: HDF error``) into one clear :class:`OutputError`."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, OutputError):
            raise
        full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
        if not full:
            with contextlib.suppress(OSError):
                full = shutil.disk_usage(path.parent).free < _FULL_BELOW
        if full:
            raise OutputError(
                f"no space left on the device while writing {str(path)!r} "
                f"({type(exc).__name__}: {exc}); nothing was published — free some space or "
                "choose another output folder"
            ) from exc
        raise


# -- temporary folders ---------------------------------------------------------------------------
def _make_temp(parent: Path, prefix: str) -> Path:
    """A new temporary folder in ``parent`` holding :data:`PARTIAL_MARKER` (our pid in it)."""
    tmp = parent / f"{prefix}{uuid.uuid4().hex[:8]}"
    try:
        os.mkdir(tmp)
        (tmp / PARTIAL_MARKER).write_text(f"{os.getpid()}\n", encoding="ascii")
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _output_os_error(exc, parent) from None
    _ACTIVE_TEMPS.add(tmp)
    return tmp


def _drop_temp(tmp: Path) -> None:
    with deferred_signals():
        _discard(tmp)
        _ACTIVE_TEMPS.discard(tmp)


def _is_own_temp(folder: Path) -> bool:
    """Whether ``folder`` is a temporary folder this process is filling."""
    return any(folder == t or folder.is_relative_to(t) for t in _ACTIVE_TEMPS)


def _clean_stale(target: Path) -> None:
    """Under ``target``'s lock: remove temporary folders of earlier, killed runs into it, and put
    back an old result a killed ``--overwrite`` had moved aside."""
    parent = target.parent
    candidates: list[Path] = []
    if parent.is_dir():
        candidates += [
            p
            for p in parent.glob(f".{_glob_escape(target.name)}.*")
            if ".tmp-" in p.name or ".old-" in p.name
        ]
    if target.is_dir() and not target.is_symlink():
        candidates += list(target.glob(f"{_SET_PREFIX}*"))
    for p in sorted(candidates):
        if p.is_symlink() or not p.is_dir():
            continue
        name = p.name
        if not (
            name.startswith((f".{target.name}.tmp-", f".{target.name}.old-", _SET_PREFIX))
            and len(name.rsplit("-", 1)[-1]) == 8
        ):
            continue
        if (p / PARTIAL_MARKER).is_file():
            log.info("removing %s, left by an interrupted gridcarbon run", p)
            shutil.rmtree(p, ignore_errors=True)
            continue
        if not any(p.iterdir()):  # emptied by a run killed at the very end of its cleanup
            p.rmdir()
            continue
        try:
            complete = read_manifest(p) is not None and not foreign_entries(p)
        except OutputError:
            complete = False
        if not complete:
            continue
        if ".old-" in name and not target.exists() and not target.is_symlink():
            log.warning("restoring %s from %s (an earlier --overwrite was interrupted)", target, p)
            rename_noreplace(p, target)
            fsync_dir(parent)
        else:
            log.info("removing %s, left by an interrupted gridcarbon run", p)
            _remove_listed(p)


def _glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


# -- publishing ----------------------------------------------------------------------------------
def _publish_folder(tmp: Path, path: Path, overwrite: bool) -> None:
    write_manifest(tmp)
    (tmp / PARTIAL_MARKER).unlink()
    fsync_tree(tmp)
    parent = path.parent
    if not overwrite or (not path.exists() and not path.is_symlink()):
        rename_noreplace(tmp, path)  # refuses a folder that appeared during the run
        fsync_dir(parent)
        return
    _check_replaceable(path, overwrite)  # again: something may have appeared during the run
    try:
        exchange(tmp, path)  # the old result now sits at the temporary name
        fsync_dir(parent)
        old = tmp
    except RenameUnsupported:
        old = parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(path, old)
        fsync_dir(parent)
        try:
            rename_noreplace(tmp, path)
        except BaseException:
            os.rename(old, path)
            fsync_dir(parent)
            raise
        fsync_dir(parent)
    if not _remove_listed(old):
        kept = parent / f"{path.name}.gridcarbon-kept-{uuid.uuid4().hex[:8]}"
        os.rename(old, kept)
        fsync_dir(parent)
        log.warning("the replaced result held files gridcarbon did not write; kept as %s", kept)


@contextlib.contextmanager
def atomic_directory(
    path: str | Path, overwrite: bool = False, inputs: Iterable[str | Path] = ()
) -> Iterator[Path]:
    """Yield a new empty temporary folder beside ``path``; on success it becomes ``path``.

    Refuses before any work (:func:`check_folder_target`, the lock, an existing ``path`` without
    ``overwrite`` or with entries gridcarbon did not write).  On an exception, a kill or an
    interrupt, ``path`` is untouched and the temporary folder is removed (at once, or by the next
    run into ``path``).  Every file written into the folder is flushed to disk before the rename.
    """
    path = check_folder_target(path, inputs)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_os_error(exc, path.parent) from None
    with _locked(path):
        _clean_stale(path)
        _check_replaceable(path, overwrite)
        tmp = _make_temp(path.parent, f".{path.name}.tmp-")
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
        try:
            with _disk_full_named(path):
                yield tmp
            with deferred_signals():
                _publish_folder(tmp, path, overwrite)
        finally:
            _drop_temp(tmp)


#: The suffix of the fixed folder a resumable run fills before it is renamed into place.
PARTIAL_SUFFIX = ".partial"


def partial_folder(path: str | Path) -> Path:
    """The fixed folder ``<path>.partial`` a resumable run into ``path`` fills."""
    path = Path(path)
    return path.with_name(path.name + PARTIAL_SUFFIX)


@contextlib.contextmanager
def resumable_directory(
    path: str | Path,
    overwrite: bool = False,
    resume: bool = False,
    inputs: Iterable[str | Path] = (),
) -> Iterator[tuple[Path, bool]]:
    """Yield ``(<path>.partial, fresh)``: the fixed folder a resumable run fills, and whether it
    was made now (False: a partial run continued with ``resume``); on success it becomes
    ``path`` (published like :func:`atomic_directory`'s folder, a manifest listing everything).

    Unlike :func:`atomic_directory`, a failed, killed or interrupted run leaves the partial folder
    in place for ``resume``; nothing in it is deleted.  Refused before any work: the targets of
    :func:`check_folder_target`, another process writing ``path`` (the lock), an existing
    ``path`` without ``overwrite`` (or with entries gridcarbon did not write), and an existing
    partial folder without ``resume`` (continue it, or remove it yourself).
    """
    path = check_folder_target(path, inputs)
    partial = check_folder_target(partial_folder(path), inputs)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_os_error(exc, path.parent) from None
    with _locked(path):
        _check_replaceable(path, overwrite)
        fresh = not partial.exists()
        if not fresh and not resume:
            raise OutputExistsError(
                f"{str(partial)!r} holds an unfinished run into {str(path)!r}; continue it with "
                "--resume (resume=True), or remove that folder yourself to start afresh"
            )
        if fresh:
            try:
                os.mkdir(partial)
            except OSError as exc:
                raise _output_os_error(exc, path.parent) from None
        (partial / PARTIAL_MARKER).write_text(f"{os.getpid()}\n", encoding="ascii")
        with _disk_full_named(path):
            yield partial, fresh
        with deferred_signals():
            _publish_folder(partial, path, overwrite)


@contextlib.contextmanager
def output_set(
    folder: str | Path,
    names: Iterable[str],
    overwrite: bool = False,
    inputs: Iterable[str | Path] = (),
    check_folder: bool = True,
) -> Iterator[Path]:
    """Yield a temporary folder to write the files ``names`` into; on success they move into
    ``folder`` (made, with a manifest, when it does not exist).

    Existing files of ``names`` are replaced only with ``overwrite`` (refused before any work
    otherwise).  Inside a temporary folder this process is filling (a stage of ``run``),
    ``folder`` itself is yielded.  ``check_folder=False`` skips the refusals of
    :func:`check_folder_target` (for a single file such as a map, which may go anywhere).
    """
    folder = Path(folder)
    names = list(names)
    if _is_own_temp(folder):
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    if check_folder:
        check_folder_target(folder, inputs)
    elif folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise OutputError(f"{str(folder)!r} is not a folder; choose another output")
    if not folder.exists():
        with atomic_directory(folder, overwrite=False, inputs=inputs) as tmp:
            yield tmp
        return
    resolved_inputs = {_resolved(Path(i)) for i in inputs if i is not None}
    with _locked(folder):
        _clean_stale(folder)
        _check_set(folder, names, overwrite, resolved_inputs)
        tmp = _make_temp(folder, _SET_PREFIX)
        try:
            yield tmp
            with deferred_signals():
                written = sorted(p.name for p in tmp.iterdir() if p.name != PARTIAL_MARKER)
                _check_set(folder, written, overwrite, resolved_inputs)
                _move_in(tmp, folder, written)
        finally:
            _drop_temp(tmp)


def check_output_set(
    folder: str | Path,
    names: Iterable[str],
    overwrite: bool = False,
    inputs: Iterable[str | Path] = (),
    check_folder: bool = True,
) -> None:
    """Before any work, the refusals :func:`output_set` would make at the end (checked again
    there, under the lock)."""
    folder = Path(folder)
    if _is_own_temp(folder):
        return
    if check_folder:
        check_folder_target(folder, inputs)
    if folder.is_dir():
        _check_set(folder, list(names), overwrite, {_resolved(Path(i)) for i in inputs if i})
    check_writable(folder)


def _check_set(folder: Path, names: list[str], overwrite: bool, inputs: set[Path]) -> None:
    existing = [n for n in names if (folder / n).exists() or (folder / n).is_symlink()]
    for n in existing:
        p = folder / n
        if p.is_symlink():
            raise OutputError(f"{str(p)!r} is a symlink; gridcarbon does not write through it")
        if _resolved(p) in inputs or any(i.is_relative_to(_resolved(p)) for i in inputs):
            raise OutputError(f"{str(p)!r} is an input of this run; choose another output folder")
    if existing and not overwrite:
        shown = ", ".join(repr(n) for n in existing[:8])
        raise OutputExistsError(
            f"{str(folder)!r} already holds {shown}; pass --overwrite to replace "
            f"{'it' if len(existing) == 1 else 'them'}, or choose another output folder"
        )


def _move_in(tmp: Path, folder: Path, names: list[str]) -> None:
    """Move ``names`` from ``tmp`` into ``folder``; on a failure put everything back."""
    fsync_tree(tmp)
    done: list[tuple[str, bool]] = []  # (name, swapped with an old version)
    try:
        for n in names:
            src, dst = tmp / n, folder / n
            if dst.exists():
                try:
                    exchange(src, dst)
                except RenameUnsupported:
                    if dst.is_dir():
                        raise OutputError(
                            f"cannot replace the folder {str(dst)!r} atomically on this file "
                            "system; remove it first"
                        ) from None
                    os.link(dst, tmp / f".{n}.old")
                    os.replace(src, dst)
                    os.replace(tmp / f".{n}.old", src)
                done.append((n, True))
            else:
                rename_noreplace(src, dst)
                done.append((n, False))
        fsync_dir(folder)
        _add_to_manifest(folder, names, folder)
    except BaseException:
        for n, swapped in reversed(done):
            with contextlib.suppress(OSError):
                if swapped:
                    try:
                        exchange(tmp / n, folder / n)
                    except RenameUnsupported:
                        os.replace(tmp / n, folder / n)
                else:
                    os.rename(folder / n, tmp / n)
        with contextlib.suppress(OSError):
            fsync_dir(folder)
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); on success it becomes ``path``.

    The file (or folder, e.g. a Zarr store) is flushed to disk before the rename, the parent
    folder after it.  Without ``overwrite`` an existing ``path`` is refused, before the work and
    again at the rename (which never replaces a name that appeared meanwhile).  On an exception
    the temporary path is removed and ``path`` is untouched.
    """
    path = Path(path)
    check_outputs([path], overwrite)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_os_error(exc, path.parent) from None
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        with _disk_full_named(path):
            yield tmp
        with deferred_signals():
            fsync_tree(tmp)
            if overwrite and (path.exists() or path.is_symlink()):
                if path.is_symlink():
                    raise OutputError(f"{str(path)!r} is a symlink; it is left untouched")
                if path.is_dir():
                    try:
                        exchange(tmp, path)
                    except RenameUnsupported:
                        shutil.rmtree(path)
                        os.rename(tmp, path)
                else:
                    os.replace(tmp, path)
            else:
                rename_noreplace(tmp, path)
            fsync_dir(path.parent)
    finally:
        with deferred_signals():
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            elif tmp.exists() or tmp.is_symlink():
                tmp.unlink()


def atomic_write(
    path: str | Path, writer: Callable[[Path], object], overwrite: bool = False
) -> Path:
    """Call ``writer(tmp)`` (one write step: interrupts wait for it) and publish ``tmp`` as
    ``path`` (see :func:`atomic_path`)."""
    path = Path(path)
    with atomic_path(path, overwrite) as tmp, deferred_signals():
        writer(tmp)
    return path


def check_outputs(paths: list[Path], overwrite: bool) -> None:
    """Raise :class:`OutputExistsError` naming the first existing output unless ``overwrite``."""
    if overwrite:
        return
    existing = [p for p in paths if p.exists() or p.is_symlink()]
    if existing:
        raise OutputExistsError(
            f"{str(existing[0])!r} already exists ({len(existing)} output file(s) would be "
            "replaced); pass overwrite=True (--overwrite) or choose another output folder"
        )


def write_gpkg_atomic(
    gdf,
    path: Path,
    layer: str = "control_units",
    overwrite: bool = False,
    metadata: dict[str, str] | None = None,
    style: LayerStyle | None = None,
) -> Path:
    """Write one GeoPackage layer atomically (opens in QGIS; metadata as layer metadata;
    ``style``, if given, in the ``layer_styles`` table as the layer's default style)."""
    import pyogrio

    from gridcarbon.io.layer_styles import add_layer_style

    def w(tmp: Path) -> None:
        pyogrio.write_dataframe(
            gdf,
            tmp,
            layer=layer,
            driver="GPKG",
            layer_metadata={k: str(v) for k, v in (metadata or {}).items()},
        )
        if style is not None:
            add_layer_style(tmp, layer, style)

    return atomic_write(Path(path), w, overwrite)
