"""Run one command as a separate process and measure its wall time and memory.

Whose memory: the whole process tree the command starts. For ``reviews-etl run`` that is
the Python driver *and* the Spark JVM it launches (``spark-submit`` execs ``java``; the JVM
is a child of the Python process, and PySpark does not wait for it, so when Python exits
first the JVM is re-parented). To keep that JVM in view, this process makes itself a
*child subreaper* (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``): orphaned descendants are
re-parented here instead of to init, and this process reaps every one of them with
``wait4``, whose ``ru_maxrss`` is the kernel's exact peak RSS of that process.

Figures per run:

* ``wall_seconds``: from start until the launched process exits (what ``time`` shows; JVM
  start and shutdown included);
* ``cpu_seconds``: user + system CPU time of the whole tree (``wait4`` of every process, which
  includes what its own reaped children used): less sensitive than wall time to other load
  on a shared machine;
* ``peak_rss_mib``: peak of the summed RSS of all live processes of the tree, sampled every
  ``interval`` seconds from ``/proc`` (so a spike shorter than the interval can be missed;
  shared pages are counted once per process; a ``vfork``-ed child that still shares its
  parent's address space, as when the JVM spawns a helper, is not counted twice);
* ``peak_rss_by_name_mib``: per executable name (``java``, ``python3``, ``duckdb`` runs in
  ``python3``), the largest exact per-process peak (``ru_maxrss`` from ``wait4``);
* ``heap_max``: the JVM's ``-Xmx`` when a JVM was seen (to show the driver heap limit).

Standard library only; Linux (``/proc``) for the memory figures.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
MIB = 1024 * 1024


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux only); returns whether it worked."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


@dataclass
class ProcessRun:
    argv: list[str]
    returncode: int
    wall_seconds: float
    tree_seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    peak_rss_by_name_mib: dict[str, float]
    heap_max: str | None
    samples: int
    stdout: Path
    stderr: Path
    timed_out: bool = False
    notes: list[str] = field(default_factory=list)


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from every thread's ``children`` list)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as handle:
                found.extend(int(item) for item in handle.read().split())
        except (OSError, ValueError):
            continue
    return found


def _descendants(root: int) -> list[int]:
    seen: list[int] = []
    stack = _children(root)
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.append(pid)
        stack.extend(_children(pid))
    return seen


def _status(pid: int) -> tuple[str, int, int, int] | None:
    """(name, parent pid, VmSize, VmRSS), sizes in bytes, of a live process; or None."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    name, ppid, size, rss = "?", 0, 0, 0
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "Name":
            name = value.strip() or "?"
        elif key == "PPid":
            ppid = int(value)
        elif key == "VmSize":
            size = int(value.split()[0]) * 1024
        elif key == "VmRSS":
            rss = int(value.split()[0]) * 1024
    return name, ppid, size, rss


def _heap_max(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            args = handle.read().split(b"\0")
    except OSError:
        return None
    for arg in args:
        if arg.startswith(b"-Xmx"):
            return arg[4:].decode("ascii", "replace")
    return None


def measure(
    argv: Sequence[str],
    *,
    stdout: Path,
    stderr: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    interval: float = 0.05,
    timeout: float = 3600.0,
    linger: float = 60.0,
) -> ProcessRun:
    """Run ``argv`` to completion (and every process it leaves behind) and measure it.

    Call :func:`become_subreaper` once beforehand so orphaned descendants are counted.
    The caller must not have other children running: every child is reaped here.
    """
    me = os.getpid()
    names: dict[int, str] = {}
    exact_peaks: dict[int, int] = {}
    cpu = 0.0
    peak_tree = 0
    samples = 0
    heaps: dict[int, str | None] = {}
    returncode: int | None = None
    wall = 0.0
    timed_out = False
    notes: list[str] = []

    with stdout.open("wb") as out, stderr.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), stdout=out, stderr=err, cwd=cwd, env=dict(env) if env else None
        )
        try:
            pidfd: int | None = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            pidfd = None
        poller = select.poll()
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        main_deadline = start + timeout
        while True:
            # Sample the live tree.
            live = {pid: info for pid in _descendants(me) if (info := _status(pid)) is not None}
            total = 0
            for pid, (name, ppid, size, rss) in live.items():
                parent = live.get(ppid)
                if parent is not None and (parent[2], parent[3]) == (size, rss):
                    # A vfork()ed child before its exec (the JVM spawning a helper) shares its
                    # parent's address space: counting it would double the JVM.
                    continue
                names[pid] = name
                total += rss
                if name == "java" and pid not in heaps:
                    heaps[pid] = _heap_max(pid)
            samples += 1
            peak_tree = max(peak_tree, total)
            # Reap whatever has exited.
            no_children = False
            while True:
                try:
                    pid, status, usage = os.wait4(-1, os.WNOHANG)
                except ChildProcessError:
                    no_children = True
                    break
                if pid == 0:
                    break
                exact_peaks[pid] = max(exact_peaks.get(pid, 0), usage.ru_maxrss * 1024)
                cpu += usage.ru_utime + usage.ru_stime
                if pid == proc.pid:
                    wall = time.perf_counter() - start
                    returncode = os.waitstatus_to_exitcode(status)
                    proc.returncode = returncode
                    # Give the JVM (and anything else left) ``linger`` seconds to exit.
                    main_deadline = time.perf_counter() + linger
            if no_children:
                break
            now = time.perf_counter()
            if now > main_deadline:
                timed_out = returncode is None
                leftovers = _descendants(me)
                notes.append(f"killed {len(leftovers)} process(es) still running")
                for pid in leftovers:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                main_deadline = now + 30.0
            if pidfd is not None and returncode is None:
                poller.poll(interval * 1000)
            else:
                time.sleep(interval)
        tree = time.perf_counter() - start
        if pidfd is not None:
            os.close(pidfd)

    # The JVM that matters is the biggest one (spark-submit first runs a small launcher JVM).
    jvms = sorted(heaps, key=lambda pid: exact_peaks.get(pid, 0), reverse=True)
    heap_max = heaps[jvms[0]] if jvms else None
    by_name: dict[str, float] = {}
    for pid, peak in exact_peaks.items():
        name = names.get(pid, "other")
        by_name[name] = max(by_name.get(name, 0.0), peak / MIB)
    return ProcessRun(
        argv=list(argv),
        returncode=returncode if returncode is not None else -9,
        wall_seconds=wall if returncode is not None else tree,
        tree_seconds=tree,
        cpu_seconds=cpu,
        peak_rss_mib=peak_tree / MIB,
        peak_rss_by_name_mib={k: round(v, 1) for k, v in sorted(by_name.items())},
        heap_max=heap_max,
        samples=samples,
        stdout=stdout,
        stderr=stderr,
        timed_out=timed_out,
        notes=notes,
    )
