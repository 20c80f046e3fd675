"""pyfarm's tracer: records what this Python process uses.

pfanalyze puts this file's folder first on PYTHONPATH and sets
PYFARM_TRACE_DIR. site.py imports us as `sitecustomize`; we take our folder
off sys.path (the app sees its usual sys.path; children still inherit
PYTHONPATH and are traced too), chain-load the environment's own
sitecustomize (usercustomize then runs as usual, site.py imports it after
us), and record facts as they happen into a file of this process alone
(docs/trace-format.md): one os.write per line batch on an O_APPEND file, so a
process that dies at any point leaves whole lines, and processes never share
a file. Nothing is written into the traced environment.

Why not atexit alone (measured, tests/integration/test_tracer.py):
- multiprocessing workers started with `fork` or `forkserver` leave through
  os._exit: atexit never runs in them, nor in any os.fork child that ends
  with os._exit;
- `spawn` workers end with sys.exit: atexit runs once in each;
- Pool.terminate() (the end of a `with Pool()` block) kills the workers
  still alive with SIGTERM, whose default action runs no atexit at all;
- pytest-xdist 3.6 workers (execnet popen gateways) end normally: atexit
  runs once per worker, and once in the controller.
So facts are written as they come (modules when found, mapped objects soon
after each extension or ctypes load, programs at each exec), and the few
only known late (sys.path after the script's folder was added, modules that
bypassed the finder) are snapshot at exit, before fork, before exec, in
os._exit (and on SIGTERM when PYFARM_TRACE_SIGTERM=1, see the end).

The tracer never raises into the app: every hook catches everything, and
after an internal failure it goes quiet. It is safe with threads (one
re-entrant lock around writes, so a signal handler on the thread that holds
it does not deadlock) and with fork (the child gets a new lock and a file of
its own).
"""
import os as _os
import sys as _sys


def _pyfarm_tracer():
    here = _os.path.dirname(_os.path.abspath(__file__))

    def is_here(p):
        try:
            return _os.path.abspath(p or ".") == here
        except Exception:
            return False

    # the app sees the sys.path it would see without us
    _sys.path[:] = [p for p in _sys.path if not is_here(p)]
    for p in [p for p in list(_sys.path_importer_cache) if is_here(p)]:
        _sys.path_importer_cache.pop(p, None)
    _chain_load(here)

    tdir = _os.environ.get("PYFARM_TRACE_DIR")
    if not tdir or not hasattr(_sys, "addaudithook"):  # 3.8+
        return

    import _imp
    import _thread

    EXT_SUFFIXES = tuple(_imp.extension_suffixes())
    BC_SUFFIXES = (".pyc",)
    STDLIB = _os.path.dirname(_os.__file__) if getattr(_os, "__file__", None) else ""

    def private_import(name):
        """A module for the tracer's own use that the app's sys.modules
        does not show (an app that imports it later gets it as usual, through
        the finder, and it is recorded then)."""
        mod = _sys.modules.get(name)
        if mod is None:
            mod = __import__(name)
            _sys.modules.pop(name, None)
        return mod

    def esc(s):
        if s is None:
            return ""
        if isinstance(s, bytes):
            s = _os.fsdecode(s)
        s = str(s)
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")

    import time as _time  # built in, loaded at start-up already

    def time_ns():
        return _time.time_ns()

    state = {"pid": None, "fd": -1, "path": None, "id": None, "dead": False,
             "maps": set(), "mods": set(), "aliases": set(), "main": None, "dirty": False, "scanning": False, "last_scan": 0.0,
             "last_light": 0.0, "nmods": 0, "syspath": None, "emitting": 0,
             "lock": _thread.RLock(), "busy": {}}

    try:  # loaded once, here: an import while a record opens would recurse
        _fcntl = private_import("fcntl")
    except Exception:
        _fcntl = None

    def high_fd(fd):
        """Move the descriptor out of the way of the app's low numbers."""
        try:
            hi = _fcntl.fcntl(fd, 1030, 900)  # F_DUPFD_CLOEXEC
            _os.close(fd)
            return hi
        except Exception:
            return fd

    def open_record():
        """This process's record file, opened once per process (lock held).
        The app may close our descriptor (close_fds, closerange) and reuse
        its number: the file's identity is checked before every write, and a
        lost descriptor is reopened on the same file, never written blindly."""
        pid = _os.getpid()
        fd = state["fd"]
        if state["pid"] == pid and fd >= 0:
            try:
                st = _os.fstat(fd)
                if (st.st_dev, st.st_ino) == state["id"]:
                    return fd
            except OSError:
                pass
            fd = high_fd(_os.open(state["path"], _os.O_WRONLY | _os.O_APPEND | _os.O_CLOEXEC))
            st = _os.fstat(fd)
            state["fd"], state["id"] = fd, (st.st_dev, st.st_ino)
            return fd
        state["pid"] = pid
        try:
            exe = _os.path.realpath("/proc/self/exe")
        except OSError:
            exe = _sys.executable
        try:
            cwd = _os.getcwd()
        except OSError:
            cwd = ""
        # The record appears under its name with its P line already in it
        # (written under a name no reader lists, then renamed): a process
        # killed at any instant leaves a whole record or none, never an
        # empty one (Pool.terminate() SIGTERMs workers as they start).
        name = "py-%d-%d.rec" % (pid, time_ns())
        state["path"] = _os.path.join(tdir, name)
        part = _os.path.join(tdir, ".new-" + name[:-4])
        fd = high_fd(_os.open(part, _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL
                              | _os.O_APPEND | _os.O_CLOEXEC, 0o644))
        _os.write(fd, ("P\t%d\t%d\t%s\t%s\n" % (pid, _os.getppid(), esc(cwd), esc(exe)))
                  .encode("utf-8", "surrogateescape"))
        _os.rename(part, state["path"])
        st = _os.fstat(fd)
        state["fd"], state["id"] = fd, (st.st_dev, st.st_ino)
        return fd

    def emit(*lines):
        """Write lines (tuples: kind, fields...) with one write. Lines are
        whole or absent: os.write of a regular file writes all or fails."""
        if state["dead"] or not lines:
            return
        try:
            data = "".join(k + "".join("\t" + esc(f) for f in fs) + "\n"
                           for (k, *fs) in lines).encode("utf-8", "surrogateescape")
            with state["lock"]:
                # our own os.open/os.write raise audit events: the hook
                # ignores them on this thread while we write
                outer = state["emitting"]
                state["emitting"] = _thread.get_ident()
                try:
                    fd = open_record()
                    while data:
                        data = data[_os.write(fd, data):]
                finally:
                    state["emitting"] = outer
        except Exception:
            state["dead"] = True

    # ---- the interpreter and the entry ----

    def interpreter_facts():
        # sysconfig is not imported for this (the app did not ask for it);
        # its paths are written when the app has it loaded already
        paths, soabi = {}, ""
        sc = _sys.modules.get("sysconfig")
        try:
            if sc is not None:
                paths = sc.get_paths()
                soabi = sc.get_config_var("SOABI") or ""
        except Exception:
            paths = {}
        if not soabi:
            soabi = next((x[1:-3] for x in EXT_SUFFIXES
                          if x.startswith(".cpython-") and x.endswith(".so")), "")
        stdlib = paths.get("stdlib") or STDLIB
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
            ("platstdlib", _os.path.dirname(dyn) if dyn else paths.get("platstdlib", stdlib)),
            ("purelib", paths.get("purelib", "")), ("platlib", paths.get("platlib", "")),
            ("cache_tag", _sys.implementation.cache_tag or ""),
            ("soabi", soabi),
            ("multiarch", getattr(_sys.implementation, "_multiarch", "")),
            ("gil_disabled", gil),
            ("ld_library_path", _os.environ.get("LD_LIBRARY_PATH", "")),
            ("path", _os.environ.get("PATH", "")),
            ("pythonhome", _os.environ.get("PYTHONHOME", "")),
            ("pythonpath", ":".join(p for p in _os.environ.get("PYTHONPATH", "").split(":")
                                    if p and not is_here(p))),
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

    def command_line():
        argv = getattr(_sys, "orig_argv", None)
        if argv:
            return list(argv)
        try:
            with open("/proc/self/cmdline", "rb") as f:
                return [_os.fsdecode(a) for a in f.read().split(b"\0")[:-1]]
        except OSError:
            return []

    def module_arg():
        """The NAME of `-m NAME`, from the interpreter's own command line
        (options may be clustered: -Im NAME, -mNAME, -X opt -m NAME)."""
        argv = command_line()
        i = 1
        while i < len(argv):
            a = argv[i]
            i += 1
            if a == "--" or not a.startswith("-") or a == "-":
                return ""
            if a.startswith("--"):
                if a == "--check-hash-based-pycs":
                    i += 1
                continue
            j = 1
            while j < len(a):
                c = a[j]
                if c in "cmXW":
                    value = a[j + 1:]
                    if not value and i < len(argv):
                        value = argv[i]
                        i += 1
                    if c == "m":
                        return value
                    if c == "c":
                        return ""
                    break
                j += 1
        return ""

    def entry():
        """At start-up sys.argv[0] is "-c", "-m", "-" or "" (stdin or
        interactive) or the script as given; the arguments follow."""
        argv = list(_sys.argv) or [""]
        a0, rest = argv[0], argv[1:]
        if a0 == "-c":
            return ("code", ""), rest
        if a0 == "-m":
            return ("module", module_arg()), rest
        if a0 in ("", "-"):
            return ("interactive", ""), rest
        try:
            return ("script", _os.path.abspath(a0)), rest
        except Exception:
            return ("script", a0), rest

    # ---- modules ----


    def kind_of(spec):
        loader = spec.loader
        # BuiltinImporter and FrozenImporter are classes, not instances
        lname = "" if loader is None else getattr(loader, "__name__", None) or type(loader).__name__
        if lname in ("NamespaceLoader", "_NamespaceLoader") or (
                spec.origin in (None, "namespace") and spec.submodule_search_locations is not None):
            return "namespace"
        kind = {"ExtensionFileLoader": "extension", "SourceFileLoader": "source",
                "SourcelessFileLoader": "bytecode", "zipimporter": "zip",
                "BuiltinImporter": "builtin", "FrozenImporter": "frozen"}.get(lname)
        if kind:
            return kind
        return kind_of_file(spec.origin if getattr(spec, "has_location", False) else None)

    def kind_of_file(f):
        if not f:
            return "other"
        if f.endswith(EXT_SUFFIXES):
            return "extension"
        if f.endswith(BC_SUFFIXES):
            return "bytecode"
        if f.endswith(".py"):
            return "source"
        return "other"

    IMPORTLIB = _os.path.join(STDLIB, "importlib") + _os.sep
    ME = __file__

    def importer():
        """__name__ of the module whose code asked for the import."""
        try:
            f = _sys._getframe(2)
        except ValueError:
            return ""
        while f is not None:
            fn = f.f_code.co_filename
            if not (fn.startswith("<frozen importlib") or fn.startswith(IMPORTLIB) or fn == ME):
                return f.f_globals.get("__name__", "") or ""
            f = f.f_back
        return ""

    def module_lines(name, spec, imp):
        if spec is None:
            return []
        origin = spec.origin or ""
        if origin.startswith(here + _os.sep):
            return []  # ourselves
        kind = kind_of(spec)
        has_file = getattr(spec, "has_location", False) or kind == "zip"
        lines = [("M", name, origin if has_file and kind != "namespace" else "", kind, imp)]
        if kind == "namespace":
            lines += [("N", name, p) for p in list(spec.submodule_search_locations or [])]
        elif kind == "extension":
            state["dirty"] = True  # its objects are mapped soon: scan then
        return lines

    class PyfarmFinder:
        """First on sys.meta_path: asks the other finders, in order, and
        records the spec the first one returns (so the import resolves
        exactly as it would without us)."""

        def find_spec(self, name, path=None, target=None):
            # imports made by other finders while they search come back here:
            # record those too, to a small depth (no runaway recursion)
            tid = _thread.get_ident()
            busy = state["busy"]
            depth = busy.get(tid, 0)
            if depth >= 4 or state["dead"]:
                return None
            busy[tid] = depth + 1
            try:
                if state["dirty"]:
                    scan_maps_soon()
                for finder in list(_sys.meta_path):
                    if finder is self or isinstance(finder, PyfarmFinder):
                        continue
                    fs = getattr(finder, "find_spec", None)
                    if fs is None:
                        continue
                    spec = fs(name, path, target)  # its errors are the app's, as without us
                    if spec is not None:
                        if name not in state["mods"]:
                            try:
                                state["mods"].add(name)
                                emit(*module_lines(name, spec, importer()))
                            except Exception:
                                pass
                        return spec
                return None
            finally:
                if depth:
                    busy[tid] = depth
                else:
                    busy.pop(tid, None)

        def invalidate_caches(self):
            pass

    def alias_lines(name, mod):
        """A lines: the other names this module object goes by (its
        __name__, its spec's name) when sys.modules holds it under `name`:
        multiprocessing's `__mp_main__` is `__main__`, `-m pkg` runs
        `pkg.__main__` as `__main__`. Imports made by its code carry its
        __name__; the analysis joins the names into one node."""
        out = []
        spec = getattr(mod, "__spec__", None)
        for other in (getattr(mod, "__name__", None), getattr(spec, "name", None)):
            if isinstance(other, str) and other and other != name:
                key = (name, other)
                if key not in state["aliases"]:
                    state["aliases"].add(key)
                    out.append(("A", name, other))
        return out

    def modules_snapshot(imp):
        """Modules that are in sys.modules but did not come through the finder
        (set directly, or imported before we were installed), and the
        aliases of every module."""
        lines = []
        for name, mod in list(_sys.modules.items()):
            if mod is None:
                continue
            try:
                lines += alias_lines(name, mod)
            except Exception:
                pass
            if name in state["mods"]:
                continue
            state["mods"].add(name)
            spec = getattr(mod, "__spec__", None)
            if spec is not None:
                lines += module_lines(name, spec, imp)
            else:
                # no spec: the import system did not load it from a file. A
                # __file__ is only what the module claims (torch's _ops sets
                # "_ops.py"): believed when it names an existing file
                f = getattr(mod, "__file__", None)
                if isinstance(f, str) and f and not f.startswith(here + _os.sep):
                    if _os.path.isabs(f) and _os.path.isfile(f):
                        lines.append(("M", name, f, kind_of_file(f), imp))
                    else:
                        lines.append(("M", name, "", "other", imp))
        return lines

    # ---- objects mapped ----

    def scan_maps():
        """O lines for files newly mapped since the last scan. One reader at
        a time; a scan wanted while one runs is done by the next one."""
        if state["scanning"]:
            return
        state["scanning"] = True
        state["dirty"] = False
        state["last_scan"] = _time.monotonic()
        try:
            fd = _os.open("/proc/self/maps", _os.O_RDONLY | _os.O_CLOEXEC)
            try:
                chunks = []
                while True:
                    b = _os.read(fd, 1 << 16)
                    if not b:
                        break
                    chunks.append(b)
            finally:
                _os.close(fd)
            seen = state["maps"]
            new = []
            for line in b"".join(chunks).split(b"\n"):
                i = line.find(b" /")
                if i < 0:
                    continue
                p = line[i + 1:]
                if p in seen:
                    continue
                seen.add(p)
                if p.endswith(b" (deleted)") or p.startswith((b"/dev/", b"/proc/", b"/memfd:")):
                    continue
                new.append(("O", _os.fsdecode(p)))
            emit(*new)
        except Exception:
            pass
        finally:
            state["scanning"] = False

    def scan_maps_soon():
        """After an extension module or a ctypes load: a scan, at most one
        per SCAN_EVERY seconds (reading /proc/self/maps costs ~0.2 ms, and
        imports come in bursts); what is left is scanned by the first event
        after that, or by the next snapshot."""
        if _time.monotonic() - state["last_scan"] >= SCAN_EVERY:
            scan_maps()

    SCAN_EVERY = 0.025

    # ---- programs ----

    def which(prog, env=None, cwd=None):
        """The program an exec of prog runs: a path with a slash as is
        (relative to the child's cwd), else the first executable file along
        PATH (the child's env's PATH when given, as subprocess does)."""
        prog = _os.fsdecode(prog)
        if "/" in prog:
            if cwd is not None and not prog.startswith("/"):
                prog = _os.path.join(_os.fsdecode(cwd), prog)
            return _os.path.abspath(prog)
        try:
            dirs = _os.get_exec_path(env)
        except Exception:
            dirs = _os.get_exec_path()
        for d in dirs:
            cand = _os.path.join(_os.fsdecode(d) or ".", prog)
            if _os.path.isfile(cand) and _os.access(cand, _os.X_OK):
                return _os.path.abspath(cand)
        return None

    def argv0(argv):
        try:
            if isinstance(argv, (str, bytes, _os.PathLike)):
                return _os.fsdecode(argv)
            argv = list(argv or [])
            return _os.fsdecode(argv[0]) if argv else ""
        except Exception:
            return ""

    def light_snapshot():
        """At most every LIGHT_EVERY seconds, from the audit hook: sys.path
        when it changed, modules that bypassed the finder when sys.modules
        grew. So a process that ends without a snapshot (SIGTERM, SIGKILL)
        loses little."""
        state["last_light"] = _time.monotonic()
        lines = []
        path = list(_sys.path)
        if path != state["syspath"]:
            state["syspath"] = path
            lines += [("S", i, p) for i, p in enumerate(path)]
        n = len(_sys.modules)
        if n != state["nmods"]:
            state["nmods"] = n
            lines += modules_snapshot("")
        emit(*lines)

    LIGHT_EVERY = 0.05

    def snapshot(reason):
        path = list(_sys.path)
        state["syspath"] = path
        lines = [("S", i, p) for i, p in enumerate(path)]
        lines += modules_snapshot("")
        emit(*lines)
        scan_maps()
        if reason:
            emit(("Z", reason))

    def audit(event, args):
        if state["dead"]:
            return
        e = state["emitting"]
        if e and e == _thread.get_ident():
            return
        try:
            if state["dirty"] and event != "ctypes.dlopen":
                scan_maps_soon()  # an extension module or a library loaded since
            main = _sys.modules.get("__main__")
            if main is not state["main"]:
                # a spawned multiprocessing worker puts the script, run as
                # __mp_main__, in place of __main__; Pool workers then often
                # end by SIGTERM, before any snapshot: its alias now
                state["main"] = main
                emit(*alias_lines("__main__", main))
            if _time.monotonic() - state["last_light"] >= LIGHT_EVERY:
                light_snapshot()
            if event not in WATCH:
                return
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
                if args and args[0] is not None:
                    emit(("D", args[0]))
            elif event == "subprocess.Popen":
                exe, argv = args[0], args[1]
                cwd = args[2] if len(args) > 2 else None
                env = args[3] if len(args) > 3 else None
                a0 = argv0(argv)
                prog = which(exe if exe is not None else a0, env, cwd)
                if prog:
                    emit(("X", prog, a0))
            elif event == "os.posix_spawn":
                env = args[2] if len(args) > 2 else None
                prog = which(args[0], env)
                if prog:
                    emit(("X", prog, argv0(args[1])))
            elif event == "os.system":
                emit(("X", "/bin/sh", "sh"))
            elif event == "os.exec":
                # os.execvp tries each PATH entry with os.execv: only the
                # candidate that exists is the program that runs
                prog = which(args[0])
                if prog and _os.path.isfile(prog) and _os.access(prog, _os.X_OK):
                    emit(("X", prog, argv0(args[1])))
                    snapshot("exec")
        except Exception:
            pass

    WATCH = frozenset(("import", "ctypes.dlopen", "subprocess.Popen", "os.posix_spawn",
                       "os.system", "os.exec"))

    # ---- start ----
    try:
        (ekind, evalue), args = entry()
        state["syspath"] = list(_sys.path)
        lines = [("S", i, p) for i, p in enumerate(state["syspath"])]
        lines.append(("E", ekind, evalue))
        lines += [("R", a) for a in args]
        lines += modules_snapshot("site")  # what start-up imported before us
        emit(*interpreter_facts(), *lines)
        scan_maps()
        if state["dead"]:
            return
        _sys.meta_path.insert(0, PyfarmFinder())
        _sys.addaudithook(audit)

        def before_fork():
            try:
                lines = modules_snapshot("")
                emit(*lines)
                if state["dirty"]:
                    scan_maps()
            except Exception:
                pass

        def after_fork_in_child():
            # the child shares the parent's facts up to the fork (they are in
            # the parent's record, ppid); its own start from here, in a new
            # file, under a new lock (another thread may have held the old)
            try:
                state["lock"] = _thread.RLock()
                state["emitting"] = 0
                state["busy"] = {}
                state["scanning"] = False
                state["fd"] = -1
                state["pid"] = None
                emit(*[("S", i, p) for i, p in enumerate(list(_sys.path))])
            except Exception:
                state["dead"] = True

        _os.register_at_fork(before=before_fork, after_in_child=after_fork_in_child)

        real_exit = _os._exit

        def _exit(status):
            try:
                snapshot("os._exit")
            except BaseException:
                pass
            real_exit(status)

        _exit.__name__ = _exit.__qualname__ = "_exit"
        _exit.__module__ = real_exit.__module__
        _exit.__doc__ = real_exit.__doc__
        _os._exit = _exit

        import atexit
        atexit.register(snapshot, "exit")

        # SIGTERM: off unless PYFARM_TRACE_SIGTERM=1. A Python-level handler
        # runs only when the main thread next executes bytecode: a SIGTERM
        # that lands just before a blocking C call (sem_wait in a
        # multiprocessing worker's queue lock, measured: Pool.terminate()
        # then hung in about 1 run of 6) is never handled, where the default
        # action would have killed the process. Without the handler nothing
        # is lost but the final snapshot, which the periodic light snapshot
        # makes small; the record then ends without Z, as after SIGKILL.
        import _signal  # not `signal`: the app did not import it
        if _os.environ.get("PYFARM_TRACE_SIGTERM") == "1" and \
                _signal.getsignal(_signal.SIGTERM) == _signal.SIG_DFL:
            def on_term(signum, frame):
                try:
                    snapshot("signal")
                except BaseException:
                    pass
                # the default action, as if we had not been here
                _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
                _os.kill(_os.getpid(), _signal.SIGTERM)

            try:
                _signal.signal(_signal.SIGTERM, on_term)
            except ValueError:  # not the main thread of the main interpreter
                pass
    except Exception:
        state["dead"] = True


def _chain_load(here):
    """Run the environment's own sitecustomize, as if we were not here: the
    next `sitecustomize` on sys.path after our folder, loaded under the name
    sitecustomize (site.py's own error handling reproduced)."""
    try:
        # importlib's bootstrap modules, always loaded: importing
        # importlib.util would load modules the app may not use
        bootstrap = _sys.modules["_frozen_importlib"]
        external = _sys.modules["_frozen_importlib_external"]
        spec = external.PathFinder.find_spec(
            "sitecustomize", [p for p in _sys.path if _os.path.abspath(p or ".") != here])
        if spec is None or spec.origin is None or \
                _os.path.dirname(_os.path.abspath(spec.origin)) == here:
            return
        mod = bootstrap.module_from_spec(spec)
    except Exception:
        return
    _sys.modules["sitecustomize"] = mod
    try:
        spec.loader.exec_module(mod)
    except Exception as err:
        if _sys.flags.verbose:
            _sys.excepthook(*_sys.exc_info())
        else:
            _sys.stderr.write(
                "Error in sitecustomize; set PYTHONVERBOSE for traceback:\n"
                "%s: %s\n" % (err.__class__.__name__, err))


def _cache_self():
    """With PYTHONDONTWRITEBYTECODE, every process would compile this file
    again (some milliseconds each): write its bytecode once, into the
    tracer's own folder (never the environment's), where the import of the
    next process finds it."""
    if not _sys.dont_write_bytecode:
        return  # the import system writes it itself
    try:
        external = _sys.modules["_frozen_importlib_external"]
        src = _os.path.abspath(__file__)
        cache = external.cache_from_source(src)
        st = _os.stat(src)
        try:
            if _os.stat(cache).st_mtime >= st.st_mtime:
                return  # there, and not older than this file
        except OSError:
            pass
        with open(src, "rb") as f:
            code = compile(f.read(), src, "exec", dont_inherit=True)
        data = external._code_to_timestamp_pyc(code, st.st_mtime, st.st_size)
        _os.makedirs(_os.path.dirname(cache), exist_ok=True)
        tmp = "%s.%d.tmp" % (cache, _os.getpid())
        with open(tmp, "wb") as f:
            f.write(data)
        _os.replace(tmp, cache)
    except Exception:
        pass


try:
    _pyfarm_tracer()
    if _os.environ.get("PYFARM_TRACE_DIR"):
        _cache_self()
except Exception:
    pass
