"""CPU time of a server's whole process tree, read from /proc (Linux only).

core may run worker processes and an embedded nats-server, so the server's cost is the sum over
its descendants, not just the pid we started.
"""

from __future__ import annotations

import os
from pathlib import Path

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm (field 2) may hold spaces and parentheses: the fixed fields start after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def tree_pids(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_cpu_seconds(root: int) -> float:
    """utime+stime of every live process in the tree, plus cutime+cstime for children already reaped."""
    ticks = 0
    for pid in tree_pids(root):
        fields = _stat_fields(pid)
        if fields is not None:
            # After the comm: [0]=state [1]=ppid ... [11]=utime [12]=stime [13]=cutime [14]=cstime
            ticks += sum(int(v) for v in fields[11:15])
    return ticks / _CLK_TCK


def tree_memory_mb(root: int) -> tuple[float, float]:
    """(RSS, PSS) of the whole tree in MB. RSS counts shared pages (the workers' common code) once
    per process; PSS splits them, so it is what the tree really adds to the machine."""
    rss = pss = 0
    for pid in tree_pids(root):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return rss / 1024, pss / 1024
