"""An app for the free-threaded interpreter: threads running C code at
once, stdlib extension modules (_decimal, _sqlite3, _hashlib, zlib), the
app's own C extension (ftext, built for this interpreter, no GIL needed) and
multiprocessing with fork, spawn and forkserver. The output depends on
neither paths nor timing, so a dist prints the same."""
import concurrent.futures
import hashlib
import multiprocessing as mp
import sqlite3
import sys
import sysconfig
import threading
import zlib

import ftext
import worker


def threads():
    lock = threading.Lock()
    total = [0]

    def job(k):
        start, length = ftext.collatz(20000 + 7000 * k)
        with lock:
            total[0] += length
        return start, length

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(job, range(8)))
    print("threads", results, total[0])


def stdlib():
    db = sqlite3.connect(":memory:")
    db.execute("create table t (x integer)")
    db.executemany("insert into t values (?)", [(i,) for i in range(100)])
    print("sqlite", db.execute("select sum(x), count(*) from t").fetchone())
    data = b"pyfarm" * 1000
    print("crc", ftext.crc(data) == zlib.crc32(data))
    print("sha256", hashlib.sha256(data).hexdigest()[:16])


def processes():
    fork = mp.get_context("fork")
    with fork.Pool(2) as pool:  # before the threads run: forking threads is deprecated
        print("fork", pool.map(worker.task, range(3)))
    for method in ("spawn", "forkserver"):
        with mp.get_context(method).Pool(2) as pool:
            print(method, pool.map(worker.task, range(3)))


def main():
    print("abiflags", sys.abiflags, "Py_GIL_DISABLED", sysconfig.get_config_var("Py_GIL_DISABLED"))
    print("ext", ftext.__file__.rsplit("/", 1)[-1])
    processes()
    threads()
    stdlib()
    print("gil", sys._is_gil_enabled())
    print("args", sys.argv[1:])


if __name__ == "__main__":
    main()
