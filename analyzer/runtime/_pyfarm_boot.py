"""_pyfarm_boot: started by pyfarm.pth in every interpreter of a pyfarm dist.

It only installs a lazy import hook (no import cost at start-up) that adjusts
two standard modules where a dist can stand in a root without the host's
tools or files:

- ctypes.util.find_library asks ldconfig and gcc, which an empty root lacks:
  the dist's own lib/ answers first.
- an empty root has no /etc/hosts: "localhost" falls back to the loopback
  addresses instead of failing.
- Debian's certifi names the host's trust store by its absolute path
  (/etc/ssl/certs/ca-certificates.crt); where that file is absent, it names
  the copy the dist carries and points SSL_CERT_FILE at.
"""
import os
import sys

_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "@ROOT@"))
_LIB = os.path.join(_ROOT, "lib")
_LOCAL = ("localhost", "localhost.localdomain", "ip6-localhost")


def _find_library(orig):
    def find_library(name):
        prefix = "lib" + name + ".so"
        try:
            for f in sorted(os.listdir(_LIB)):
                if f == prefix or f.startswith(prefix + "."):
                    return f
        except OSError:
            pass
        return orig(name)
    return find_library


def _patch_ctypes_util(module):
    module.find_library = _find_library(module.find_library)


def _patch_socket(module):
    orig_gai, orig_ghbn = module.getaddrinfo, module.gethostbyname

    def getaddrinfo(host, *args, **kwargs):
        try:
            return orig_gai(host, *args, **kwargs)
        except module.gaierror:
            if host not in _LOCAL:
                raise
            return orig_gai("127.0.0.1", *args, **kwargs)

    def gethostbyname(host):
        try:
            return orig_ghbn(host)
        except module.gaierror:
            if host not in _LOCAL:
                raise
            return "127.0.0.1"

    module.getaddrinfo, module.gethostbyname = getaddrinfo, gethostbyname


def _patch_certifi_core(module):
    named, carried = module.where(), os.environ.get("SSL_CERT_FILE", "")
    if os.path.isabs(named) and not os.path.exists(named) and os.path.isfile(carried) \
            and carried.startswith(_ROOT + os.sep):
        module.where = lambda: carried


_PATCHES = {"ctypes.util": _patch_ctypes_util, "socket": _patch_socket,
            "certifi.core": _patch_certifi_core}


class _Finder:
    def find_spec(self, name, path=None, target=None):
        patch = _PATCHES.pop(name, None)
        if patch is None:
            return None
        if not _PATCHES:
            sys.meta_path.remove(self)
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        orig_exec = loader.exec_module

        def exec_module(module):
            orig_exec(module)
            try:
                patch(module)
            except Exception:  # never break the app over a convenience
                pass

        loader.exec_module = exec_module
        return spec


for _name in list(_PATCHES):
    if _name in sys.modules:
        _PATCHES.pop(_name)(sys.modules[_name])
if _PATCHES:
    sys.meta_path.insert(0, _Finder())
