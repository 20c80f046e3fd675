"""A strict reader of the tracer's record files (docs/trace-format.md)."""
from pathlib import Path

UNESCAPE = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def split_line(line):
    fields, cur, i = [], [], 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            assert i + 1 < len(line) and line[i + 1] in UNESCAPE, f"bad escape in {line!r}"
            cur.append(UNESCAPE[line[i + 1]])
            i += 2
            continue
        if c == "\t":
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    fields.append("".join(cur))
    return fields


def read_record(path):
    """Lines of one record as lists of fields; every line must be whole."""
    data = Path(path).read_bytes().decode("utf-8", "surrogateescape")
    assert data.endswith("\n"), f"{path}: last line cut"
    lines = [split_line(line) for line in data[:-1].split("\n")]
    assert lines[0][0] == "P" and len(lines[0]) == 5, f"{path}: no P line first"
    for f in lines:
        assert len(f[0]) == 1 and f[0] in "PIGBSERMNODXFZ", f"{path}: unknown kind {f[0]!r}"
    return lines


def records(trace_dir, prefix="py-"):
    return {p.name: read_record(p) for p in sorted(Path(trace_dir).glob(prefix + "*.rec"))}


def kinds(lines, kind):
    return [f[1:] for f in lines if f[0] == kind]
