"""multiprocessing with fork, spawn and forkserver, and a subprocess of
sys.executable: all must come back through the dist's own interpreter."""
import multiprocessing as mp
import subprocess
import sys

import worker


def main():
    results = []
    for method in ("fork", "spawn", "forkserver"):
        ctx = mp.get_context(method)
        with ctx.Pool(2) as pool:
            results.append((method, sorted(pool.map(worker.square, range(6)))))
    for method, r in results:
        print(method, r)
    out = subprocess.run([sys.executable, "-c", "import json, sys; print(json.dumps(sys.argv[1:]))", "x", "y"],
                         capture_output=True, text=True, check=True).stdout.strip()
    print("subprocess", out)
    p = mp.get_context("spawn").Process(target=worker.hello, args=("spawned",))
    p.start()
    p.join()
    print("exitcode", p.exitcode)
    print("args", sys.argv[1:])


if __name__ == "__main__":
    main()
