"""embed.py: turn a file into a C array at build time (the tracer ships
inside pfanalyze, so the two can never be out of step)."""
import sys

src, out, name = sys.argv[1:4]
data = open(src, "rb").read()
with open(out, "w") as f:
    f.write("/* generated from %s by embed.py */\n#include <stddef.h>\n" % src.split("/")[-1])
    f.write("const unsigned char %s[] = {\n" % name)
    for i in range(0, len(data), 16):
        f.write("".join("%d," % b for b in data[i:i + 16]) + "\n")
    f.write("};\nconst size_t %s_len = %d;\n" % (name, len(data)))
