"""Daemon threads still running when the interpreter exits: CPython ends each one that wakes during
finalization with pthread_exit, for which glibc (>= 2.34) dlopens libgcc_s.so.1 itself, after the
app's last line ran (and after the tracer's last look). A hermetic dist must hold libgcc_s.so.1
though no traced object needs it; without it, such a process aborts about one run in two, so the
app runs eight children and prints their exit statuses."""
import subprocess
import sys
import threading
import time


def spin(counts, i):
    while True:
        counts[i] += 1
        time.sleep(0)


def child():
    counts = [0] * 16
    for i in range(16):
        threading.Thread(target=spin, args=(counts, i), daemon=True).start()
    time.sleep(0.05)
    print("threads", threading.active_count() - 1, "all ran", all(counts))


if __name__ == "__main__":
    if sys.argv[1:] == ["child"]:
        child()
    else:
        runs = [subprocess.run([sys.executable, __file__, "child"], capture_output=True, text=True)
                for _ in range(8)]
        print("exit statuses", [r.returncode for r in runs])
        print("outputs", sorted({r.stdout.strip() for r in runs}))
