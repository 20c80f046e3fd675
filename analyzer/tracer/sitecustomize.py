"""pyfarm's tracer: records what this Python process uses.

pfanalyze puts this file's folder first on PYTHONPATH and sets
PYFARM_TRACE_DIR. site.py imports us as `sitecustomize`; we take our folder
off sys.path (the app sees its usual sys.path; children still inherit
PYTHONPATH and are traced too), chain-load the environment's own
sitecustomize, and record facts as they happen into a file of this process
alone (docs/trace-format.md): one os.write per line on an O_APPEND file, so a
process that dies at any point leaves whole lines, and processes never share
a file. Nothing is written into the traced environment.

Why not atexit alone: atexit handlers do not run in processes that leave
through os._exit (multiprocessing's fork workers, and pytest-xdist workers
are killed or exit through execnet's os._exit path) nor on SIGTERM with the
default action. So facts are written as they come, and the few that are
only known late (sys.path after the script's folder was added, modules that
bypassed the finder) are snapshot at exit, before fork, before exec, in
os._exit and on SIGTERM.

The tracer never raises into the app: every hook catches everything, and
after an internal failure it goes quiet.
"""
import os as _os
import sys as _sys


def _pyfarm_tracer():
    import _thread

    here = _os.path.dirname(_os.path.abspath(__file__))
    _sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or ".") != here]
    tdir = _os.environ.get("PYFARM_TRACE_DIR")

    def esc(s):
        if s is None:
            return ""
        s = str(s)
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")

    state = {"pid": None, "fd": -1, "path": None, "id": None, "dead": not tdir, "maps": set(),
             "mods": set(),
             "dirty": True, "lock": _thread.allocate_lock(), "busy": {}}

    def open_record():
        """This process's record file, opened once per process. The app may
        close our descriptor (close_fds, closerange) and reuse its number:
        the file's identity is checked before every write, and a lost
        descriptor is reopened on the same file, never written blindly."""
        pid = _os.getpid()
        fd = state["fd"]
        if state["pid"] == pid and fd >= 0:
            try:
                st = _os.fstat(fd)
                if (st.st_dev, st.st_ino) == state["id"]:
                    return fd
            except OSError:
                pass
            fd = _os.open(state["path"], _os.O_WRONLY | _os.O_APPEND | _os.O_CLOEXEC)
            fd = high_fd(fd)
            state["fd"] = fd
            st = _os.fstat(fd)
            state["id"] = (st.st_dev, st.st_ino)
            return fd
        state["pid"] = pid
        name = "py-%d-%d.rec" % (pid, _time_ns())
        state["path"] = _os.path.join(tdir, name)
        fd = _os.open(state["path"], _os.O_WRONLY | _os.O_CREAT | _os.O_APPEND
                      | _os.O_CLOEXEC, 0o644)
        fd = high_fd(fd)
        state["fd"] = fd
        st = _os.fstat(fd)
        state["id"] = (st.st_dev, st.st_ino)
        try:
            exe = _os.readlink("/proc/self/exe")
        except OSError:
            exe = _sys.executable
        try:
            cwd = _os.getcwd()
        except OSError:
            cwd = ""
        _os.write(fd, ("P\t%d\t%d\t%s\t%s\n" % (pid, _os.getppid(), esc(cwd), esc(exe)))
                  .encode("utf-8", "surrogateescape"))
        return fd

    def high_fd(fd):
        """Move the descriptor out of the way of the app's low numbers."""
        try:
            import fcntl
            hi = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 900)
            _os.close(fd)
            return hi
        except Exception:
            return fd

    def emit(*lines):
        """Write lines (tuples: kind, fields...) in one write."""
        if state["dead"]:
            return
        try:
            data = "".join(k + "".join("\t" + esc(f) for f in fs) + "\n" for (k, *fs) in lines)
            with state["lock"]:
                _os.write(open_record(), data.encode("utf-8", "surrogateescape"))
        except Exception:
            state["dead"] = True

    def _time_ns():
        import time
        return time.time_ns()

    # ---- the interpreter and the entry ----

    def interpreter_facts():
        stdlib = _os.path.dirname(_os.__file__)
        dyn = next((p for p in _sys.path if p.endswith("lib-dynload")), "")
        gil = "0"
        if hasattr(_sys, "_is_gil_enabled"):
            gil = "0" if _sys._is_gil_enabled() else "1"
        facts = [
            ("executable", _sys.executable), ("version", "%d.%d.%d" % _sys.version_info[:3]),
            ("abiflags", getattr(_sys, "abiflags", "")), ("prefix", _sys.prefix),
            ("exec_prefix", _sys.exec_prefix), ("base_prefix", getattr(_sys, "base_prefix", "")),
            ("base_exec_prefix", getattr(_sys, "base_exec_prefix", "")),
            ("platlibdir", getattr(_sys, "platlibdir", "lib")), ("stdlib", stdlib),
            ("platstdlib", _os.path.dirname(dyn) if dyn else stdlib),
            ("cache_tag", _sys.implementation.cache_tag or ""),
            ("multiarch", getattr(_sys.implementation, "_multiarch", "")),
            ("gil_disabled", gil),
            ("ld_library_path", _os.environ.get("LD_LIBRARY_PATH", "")),
            ("path", _os.environ.get("PATH", "")),
            ("pythonhome", _os.environ.get("PYTHONHOME", "")),
            ("pythonpath", ":".join(p for p in _os.environ.get("PYTHONPATH", "").split(":")
                                    if p and _os.path.abspath(p) != here)),
        ]
        lines = [("I", k, v) for k, v in facts]
        try:
            import site
            lines += [("G", p) for p in site.getsitepackages()]
            if site.ENABLE_USER_SITE and site.USER_SITE:
                lines.append(("G", site.USER_SITE))
            lines += [("B", p) for p in site.getsitepackages([_sys.base_prefix])]
        except Exception:
            pass
        return lines

    def entry():
        """From sys.orig_argv: the script, -m module, -c code, or interactive."""
        argv = list(getattr(_sys, "orig_argv", None) or _sys.argv)
        with_arg = {"-X", "-W", "--check-hash-based-pycs"}
        i = 1
        while i < len(argv):
            a = argv[i]
            if a in with_arg:
                i += 2
                continue
            if a == "-m" and i + 1 < len(argv):
                return ("module", argv[i + 1]), argv[i + 2:]
            if a.startswith("-m") and len(a) > 2:
                return ("module", a[2:]), argv[i + 1:]
            if a == "-c" or (a.startswith("-c") and len(a) > 2):
                return ("code", ""), argv[i + (2 if a == "-c" else 1):]
            if a == "-":
                return ("interactive", ""), argv[i + 1:]
            if a.startswith("-") and a != "-":
                if a[1:2] in ("X", "W") and len(a) > 2:
                    i += 1
                    continue
                i += 1
                continue
            try:
                return ("script", _os.path.abspath(a)), argv[i + 1:]
            except OSError:
                return ("script", a), argv[i + 1:]
        return ("interactive", ""), []

    # ---- modules ----

    def kind_of(spec):
        if spec.origin is None and spec.submodule_search_locations is not None:
            return "namespace"
        loader = spec.loader
        # BuiltinImporter and FrozenImporter are classes, not instances
        loader = "" if loader is None else getattr(loader, "__name__", None) or type(loader).__name__
        return {"ExtensionFileLoader": "extension", "SourceFileLoader": "source",
                "SourcelessFileLoader": "bytecode", "zipimporter": "zip",
                "BuiltinImporter": "builtin", "FrozenImporter": "frozen"}.get(loader, "other")

    import importlib
    IMPORTLIB = _os.path.dirname(importlib.__file__) + _os.sep

    def importer():
        """__name__ of the module whose code asked for the import."""
        try:
            f = _sys._getframe(2)
        except ValueError:
            return ""
        while f is not None:
            fn = f.f_code.co_filename
            if not (fn.startswith("<frozen importlib") or fn.startswith(IMPORTLIB)
                    or fn == __file__):
                return f.f_globals.get("__name__", "") or ""
            f = f.f_back
        return ""

    def module_lines(name, spec, imp):
        if spec is None or (spec.origin and spec.origin.startswith(here + _os.sep)):
            return []  # ourselves
        kind = kind_of(spec)
        origin = spec.origin if getattr(spec, "has_location", False) and spec.origin else ""
        if kind == "zip" and spec.origin:
            origin = spec.origin
        lines = [("M", name, origin, kind, imp)]
        if kind == "namespace":
            lines += [("N", name, p) for p in list(spec.submodule_search_locations or [])]
        if kind == "extension":
            state["dirty"] = True
        return lines

    class PyfarmFinder:
        """First on sys.meta_path: asks the other finders, records what they found."""

        def find_spec(self, name, path=None, target=None):
            # imports made by other finders while they search come back here:
            # record those too, to a small depth (no runaway recursion)
            tid = _thread.get_ident()
            depth = state["busy"].get(tid, 0)
            if depth >= 4 or state["dead"]:
                return None
            state["busy"][tid] = depth + 1
            try:
                scan_maps_if_dirty()
                for finder in _sys.meta_path:
                    if finder is self:
                        continue
                    fs = getattr(finder, "find_spec", None)
                    if fs is None:
                        continue
                    spec = fs(name, path, target)
                    if spec is not None:
                        if name not in state["mods"]:
                            state["mods"].add(name)
                            emit(*module_lines(name, spec, importer()))
                        return spec
                return None
            except Exception:
                return None
            finally:
                if depth:
                    state["busy"][tid] = depth
                else:
                    state["busy"].pop(tid, None)

    def modules_snapshot(imp):
        lines = []
        for name, mod in list(_sys.modules.items()):
            if name in state["mods"] or mod is None:
                continue
            spec = getattr(mod, "__spec__", None)
            if spec is not None:
                state["mods"].add(name)
                lines += module_lines(name, spec, imp)
            elif getattr(mod, "__file__", None):  # __main__ of a script
                state["mods"].add(name)
                lines.append(("M", name, mod.__file__, "source", imp))
        return lines

    # ---- shared objects mapped ----

    def scan_maps():
        lines = []
        try:
            with open("/proc/self/maps", "rb") as f:
                data = f.read().decode("utf-8", "surrogateescape")
        except OSError:
            return lines
        seen = state["maps"]
        for line in data.splitlines():
            i = line.find("/")
            if i < 0:
                continue
            p = line[i:]
            if p in seen or p.endswith(" (deleted)") or p.startswith(("/dev/", "/proc/", "/memfd:")):
                continue
            seen.add(p)
            lines.append(("O", p))
        state["dirty"] = False
        return lines

    def scan_maps_if_dirty():
        if state["dirty"]:
            lines = scan_maps()
            if lines:
                emit(*lines)

    # ---- programs ----

    def which(prog, env=None):
        prog = _os.fsdecode(prog)
        if "/" in prog:
            return _os.path.abspath(prog)
        path = None
        if env is not None:
            try:
                path = env.get("PATH", env.get(b"PATH"))
            except Exception:
                path = None
        if path is None:
            path = _os.environ.get("PATH", _os.defpath)
        for d in _os.fsdecode(path).split(":"):
            cand = _os.path.join(d or ".", prog)
            if _os.path.isfile(cand) and _os.access(cand, _os.X_OK):
                return _os.path.abspath(cand)
        return prog

    def snapshot(reason):
        lines = [("S", i, p) for i, p in enumerate(list(_sys.path))]
        lines += modules_snapshot("")
        lines += scan_maps()
        if reason:
            lines.append(("Z", reason))
        emit(*lines)

    def audit(event, args):
        if state["dead"] or event not in WATCH:
            return
        try:
            if event == "import":
                # finders inserted later at the front (pytest's assertion
                # rewriter, editable installs) would hide imports from us:
                # stay first, and still ask them, in order
                mp = _sys.meta_path
                if mp and not isinstance(mp[0], PyfarmFinder):
                    for i, f in enumerate(mp):
                        if isinstance(f, PyfarmFinder):
                            mp.insert(0, mp.pop(i))
                            break
            elif event == "ctypes.dlopen":
                state["dirty"] = True
                emit(("D", args[0] if args else ""))
            elif event == "subprocess.Popen":
                exe, argv = args[0], args[1]
                env = args[3] if len(args) > 3 else None
                if isinstance(argv, (str, bytes)):
                    argv = [argv]
                argv = list(argv or [])
                prog = exe if exe is not None else (argv[0] if argv else None)
                if prog is not None:
                    emit(("X", which(prog, env), _os.fsdecode(argv[0]) if argv else ""))
            elif event == "os.posix_spawn":
                emit(("X", which(args[0]), _os.fsdecode(args[1][0]) if args[1] else ""))
            elif event == "os.system":
                emit(("X", "/bin/sh", "sh"))
            elif event == "os.exec":
                path = which(args[0])
                emit(("X", path, _os.fsdecode(args[1][0]) if args[1] else ""))
                snapshot("exec")
        except Exception:
            pass

    WATCH = frozenset(("import", "ctypes.dlopen", "subprocess.Popen", "os.posix_spawn",
                       "os.system", "os.exec"))

    # ---- start ----
    chain_load(here)
    if state["dead"]:
        return
    try:
        (ekind, evalue), args = entry()
        lines = interpreter_facts()
        lines += [("S", i, p) for i, p in enumerate(list(_sys.path))]
        lines.append(("E", ekind, evalue))
        lines += [("R", a) for a in args]
        lines += modules_snapshot("site")  # what start-up imported before us
        lines += scan_maps()
        emit(*lines)
        _sys.meta_path.insert(0, PyfarmFinder())
        _sys.addaudithook(audit)

        def after_fork():
            state["lock"] = _thread.allocate_lock()
            state["busy"] = {}
            state["fd"] = -1
            state["pid"] = None
            # the child inherits the parent's facts; its own start from here
            emit(*[("S", i, p) for i, p in enumerate(list(_sys.path))])

        _os.register_at_fork(before=lambda: scan_maps_if_dirty(), after_in_child=after_fork)
        real_exit = _os._exit

        def _exit(code):
            try:
                snapshot("os._exit")
            except Exception:
                pass
            real_exit(code)

        _exit.__doc__ = real_exit.__doc__
        _os._exit = _exit
        import atexit
        atexit.register(snapshot, "exit")
        import signal
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            def on_term(signum, frame):
                try:
                    snapshot("signal")
                finally:
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    _os.kill(_os.getpid(), signal.SIGTERM)
            try:
                signal.signal(signal.SIGTERM, on_term)
            except ValueError:  # not the main thread of the main interpreter
                pass
    except Exception:
        state["dead"] = True


def _chain_load(here):
    """Run the environment's own sitecustomize, as if we were not here."""
    import importlib.machinery
    import importlib.util
    spec = importlib.machinery.PathFinder.find_spec(
        "sitecustomize", [p for p in _sys.path if _os.path.abspath(p or ".") != here])
    if spec is None or spec.origin is None or _os.path.dirname(_os.path.abspath(spec.origin)) == here:
        return
    mod = importlib.util.module_from_spec(spec)
    _sys.modules["sitecustomize"] = mod
    try:
        spec.loader.exec_module(mod)
    except Exception:
        import traceback
        _sys.stderr.write("Error in sitecustomize; set PYTHONVERBOSE for traceback:\n")
        traceback.print_exc()


chain_load = _chain_load
try:
    _pyfarm_tracer()
except Exception:
    pass
