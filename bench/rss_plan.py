#!/usr/bin/env python3
"""Resident memory per plan line: which consumers of `midge --plan` are in RAM right after
start (or after N idle clients connect).

Here's how it works: the plan printed by `midge --plan` gives each consumer's count and bytes;
laid out back to back with 64-byte alignment (Sources/Bounded/MemoryPlan.swift) they give each
line's offset in the arena. The script starts midge with the same config, finds the arena in
/proc/PID/maps (the anonymous mapping of the plan's total, page-rounded; for a build that
still mallocs the arena, the smallest anonymous mapping at least that large, whose start is then
off by the allocator's header, under a page), reads the present bit (63) of every page of
every line from /proc/PID/pagemap, and prints resident KiB per line beside VmRSS. A page shared
by two lines counts for both. A page that was only read maps the kernel's shared zero page:
present in pagemap but no RAM; as root the script tells them apart (/proc/kpageflags).

Board profiles: --board NAME writes the `default` lines of boards/NAME.conf into the config,
so an ARM board's plan (budget, connections, packet size...) runs natively on x86_64. Only the
pointer-sized strides differ from a 32-bit board (armv7: a few structures are smaller there).

Usage: bench/rss_plan.py [--midge dist/x86_64-generic/midge] [--board x86_64-generic]
       [--memory 64MiB] [--clients N] [--set 'key value' ...] [--summary]
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")
LINE = re.compile(r"^(.+?)\s+(\d+)\s+(\d+)\s+(\d+)$")


def board_defaults(board):
    out = []
    for raw in (ROOT / "boards" / f"{board}.conf").read_text().splitlines():
        words = raw.split("#", 1)[0].split()
        if words[:1] == ["default"] and len(words) >= 3:
            out.append(" ".join(words[1:]))
    return out


def plan_lines(midge, conf, memory):
    args = [midge, "--plan", "-c", conf] + (["--memory", memory] if memory else [])
    text = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    lines, offset = [], 0
    for raw in text.splitlines()[2:]:
        m = LINE.match(raw.strip())
        if not m:
            continue
        name, total = m.group(1), int(m.group(4))
        offset = (offset + 63) // 64 * 64
        lines.append((name, offset, total))
        offset += total
    mode = next((l for l in text.splitlines() if l.startswith("memory_lock")), "")
    return lines, offset, mode


def status(pid, key):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith(key + ":"):
            return int(l.split()[1])
    return 0


def arena_start(pid, total):
    want = (total + PAGE - 1) // PAGE * PAGE
    best = None
    for l in open(f"/proc/{pid}/maps"):
        f = l.split()
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if len(f) == 5 and hi - lo >= want and (best is None or hi - lo < best[1] - best[0]):
            best = (lo, hi)
    assert best, "no anonymous mapping as large as the plan"
    return best[0]


def zero_page(pfn):
    """Whether pfn is the kernel's shared zero page (a page only read, never written: present in
    pagemap but no RAM of the process). Needs root for /proc/kpageflags; else assume not."""
    if pfn == 0:
        return False
    try:
        with open("/proc/kpageflags", "rb") as f:
            f.seek(pfn * 8)
            return int.from_bytes(f.read(8), "little") >> 24 & 1 == 1  # KPF_ZERO_PAGE
    except OSError:
        return False


def resident_pages(pid, start, length):
    """Pages of [start, start + length) backed by RAM of their own (not the zero page)."""
    first, last = start // PAGE, (start + length + PAGE - 1) // PAGE
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(first * 8)
        data = f.read((last - first) * 8)
    n = 0
    for i in range(0, len(data), 8):
        entry = int.from_bytes(data[i:i + 8], "little")
        if entry >> 63 and not zero_page(entry & ((1 << 55) - 1)):
            n += 1
    return n


def connect_clients(port, n):
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        cid = f"rss-{i}".encode()
        body = b"\x00\x04MQTT\x04\x02\x00\x00" + len(cid).to_bytes(2, "big") + cid
        s.sendall(bytes([0x10, len(body)]) + body)
        socks.append(s)
    for s in socks:
        assert s.recv(4)[:1] == b"\x20", "no CONNACK"
    return socks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--midge", default=str(ROOT / "dist" / "x86_64-generic" / "midge"))
    ap.add_argument("--board", default="")
    ap.add_argument("--memory", default="")
    ap.add_argument("--clients", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], help="an extra config line")
    ap.add_argument("--summary", action="store_true", help="only VmRSS and the arena total")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        conf = Path(tmp) / "midge.conf"
        lines = [f"listener {port} 127.0.0.1", "allow_anonymous true"]
        lines += board_defaults(a.board) if a.board else []
        lines += a.set
        if a.clients and not a.board:  # a board profile keeps its own max_connections
            lines.append(f"max_connections {max(a.clients + 16, 64)}")
        conf.write_text("".join(l + "\n" for l in lines))
        plan, total, mode = plan_lines(a.midge, str(conf), a.memory)
        args = [a.midge, "-c", str(conf)] + (["--memory", a.memory] if a.memory else [])
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                assert proc.poll() is None, "midge exited"
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "midge did not listen"
                    time.sleep(0.05)
            socks = connect_clients(port, a.clients) if a.clients else []
            time.sleep(0.5)
            base = arena_start(proc.pid, total)
            rows = [(n, t, resident_pages(proc.pid, base + o, t) * PAGE) for n, o, t in plan]
            rss, anon = status(proc.pid, "VmRSS"), status(proc.pid, "RssAnon")
            arena_kib = resident_pages(proc.pid, base, total) * PAGE // 1024
            for sck in socks:
                sck.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    label = a.board or "default"
    if a.summary:
        print(f"{label:18} budget {a.memory or '(board)':8} plan {total:>10} B  VmRSS {rss} KiB  "
              f"arena resident {arena_kib} KiB  clients {a.clients}")
        return
    print(f"{label}: {mode}")
    print(f"{'consumer':28}{'plan bytes':>12}{'resident KiB':>14}")
    for n, t, r in rows:
        print(f"{n:28}{t:>12}{r // 1024:>14}")
    print(f"{'arena':28}{total:>12}{arena_kib:>14}")
    print(f"VmRSS {rss} KiB (RssAnon {anon} KiB), {a.clients} clients connected")


if __name__ == "__main__":
    sys.exit(main())
