"""A strict reader of the tracer's record files (docs/trace-format.md).

It enforces the format: the escaping rules (only \\\\, \\t, \\n, \\r after a
backslash; no raw CR inside a line), P first, known kinds only, the number of
fields of each kind, and (unless allowed) a final LF on the last line."""
from pathlib import Path

UNESCAPE = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}

# fields after the kind letter
FIELDS = {"P": 4, "I": 2, "S": 2, "G": 1, "B": 1, "E": 2, "R": 1, "M": 4, "N": 2, "A": 2,
          "O": 1, "D": 1, "X": 2, "F": 1, "Z": 1}
Z_REASONS = {"exit", "os._exit", "signal", "exec"}
E_KINDS = {"script", "module", "code", "interactive"}
M_KINDS = {"source", "bytecode", "extension", "namespace", "builtin", "frozen", "zip", "other"}


class BadRecord(AssertionError):
    pass


def split_line(line):
    """Fields of one line (without its LF), unescaped."""
    if "\r" in line:
        raise BadRecord(f"raw CR in {line!r}")
    fields, cur, i = [], [], 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            if i + 1 >= len(line) or line[i + 1] not in UNESCAPE:
                raise BadRecord(f"bad escape in {line!r}")
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


def escape(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def check_line(f, where=""):
    kind = f[0]
    if len(kind) != 1 or kind not in FIELDS:
        raise BadRecord(f"{where}: unknown kind {kind!r}")
    if len(f) - 1 != FIELDS[kind]:
        raise BadRecord(f"{where}: {kind} line with {len(f) - 1} fields: {f!r}")
    if kind == "P" and not (f[1].isdigit() and f[2].isdigit()):
        raise BadRecord(f"{where}: bad P line {f!r}")
    if kind == "S" and not f[1].isdigit():
        raise BadRecord(f"{where}: bad S index {f!r}")
    if kind == "Z" and f[1] not in Z_REASONS:
        raise BadRecord(f"{where}: bad Z reason {f!r}")
    if kind == "E" and f[1] not in E_KINDS:
        raise BadRecord(f"{where}: bad entry kind {f!r}")
    if kind == "M" and f[3] not in M_KINDS:
        raise BadRecord(f"{where}: bad module kind {f!r}")
    if kind in "OFX" and not f[1].startswith("/"):
        raise BadRecord(f"{where}: path not absolute {f!r}")


def parse(data, where="", allow_cut=False):
    """Lines of one record's text as lists of fields. A last line without
    its LF (cut by a crash) is dropped when allow_cut, an error otherwise."""
    if not data:
        raise BadRecord(f"{where}: empty record")
    body, _, tail = data.rpartition("\n")
    if tail:
        if not allow_cut:
            raise BadRecord(f"{where}: last line cut: {tail!r}")
    if not body and not _:
        raise BadRecord(f"{where}: no whole line")
    lines = [split_line(line) for line in body.split("\n")]
    if lines[0][0] != "P":
        raise BadRecord(f"{where}: no P line first")
    for f in lines:
        check_line(f, where)
    if any(f[0] == "P" for f in lines[1:]):
        raise BadRecord(f"{where}: a second P line")
    return lines


def read_record(path, allow_cut=False):
    """Lines of one record file as lists of fields; every line must be whole."""
    data = Path(path).read_bytes().decode("utf-8", "surrogateescape")
    return parse(data, str(path), allow_cut)


def records(trace_dir, prefix="py-"):
    return {p.name: read_record(p) for p in sorted(Path(trace_dir).glob(prefix + "*.rec"))}


def kinds(lines, kind):
    return [f[1:] for f in lines if f[0] == kind]


def one(lines, kind):
    got = kinds(lines, kind)
    assert len(got) == 1, f"{len(got)} {kind} lines"
    return got[0]


def last_syspath(lines):
    """sys.path of the last complete S set (each set restarts at index 0)."""
    sets, cur = [], None
    for f in lines:
        if f[0] == "S":
            if f[1] == "0":
                cur = []
                sets.append(cur)
            if cur is not None:
                cur.append(f[2])
    return sets[-1] if sets else []
