/* pflaunch.c: the static launcher of hermetic dists. Copies of it stand
 * where the dist's programs are expected (python/bin/python3.11, bin/xz,
 * and `run`, the entry); each starts the real program, kept under libexec/,
 * through the dist's own loader:
 *
 *   ROOT/lib/ld-linux-x86-64.so.2 --inhibit-cache --library-path ROOT/lib
 *       --argv0 ARGV0 ROOT/libexec/REL ARGS...
 *
 * so nothing of the host's glibc or /etc/ld.so.cache is used. Static, with
 * no libc calls that need the host (an empty root has no /lib at all).
 * exec replaces the process, so exit status and signals pass through. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONF ".pyfarm/launch"

static void die(const char *what, const char *detail) {
    fprintf(stderr, "pyfarm launcher: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(127);
}

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (!p)
        die("out of memory", NULL);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* The dist root: the nearest folder above us holding .pyfarm/launch. */
static char *find_root(const char *self, const char **rel) {
    static char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", self);
    for (char *s = strrchr(buf, '/'); s && s > buf; s = strrchr(buf, '/')) {
        *s = 0;
        char *c = join(buf, CONF);
        int ok = exists(c);
        free(c);
        if (ok) {
            *rel = self + strlen(buf) + 1;
            return buf;
        }
    }
    die("no .pyfarm/launch above", self);
    return NULL;
}

/* Entry mode (`run`): set the environment from the config, then exec the
 * interpreter's launcher with the entry's arguments. Config lines:
 *   env NAME REL      NAME=ROOT/REL (when it exists)
 *   python REL        the interpreter's launcher
 *   arg VALUE | argpath REL   entry arguments, literal or dist-relative */
// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): it execs or dies; nothing to free
static void run_entry(const char *root, int argc, char **argv) {
    char *cp = join(root, CONF);
    FILE *fp = fopen(cp, "r");
    if (!fp)
        die("cannot read", cp);
    char **args = calloc((size_t)argc + 64, sizeof *args);
    int n = 1;
    char *python = NULL, line[PATH_MAX + 64];
    unsetenv("PYTHONHOME");
    unsetenv("PYTHONPATH");
    unsetenv("PYTHONSTARTUP");
    unsetenv("PYTHONUSERBASE");
    unsetenv("PYTHONEXECUTABLE");
    setenv("PYTHONNOUSERSITE", "1", 1);
    while (fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\n")] = 0;
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        *sp++ = 0;
        if (strcmp(line, "env") == 0) {
            char *sp2 = strchr(sp, ' ');
            if (!sp2)
                continue;
            *sp2++ = 0;
            char *v = join(root, sp2);
            if (exists(v))
                setenv(sp, v, 1);
            free(v);
        } else if (strcmp(line, "python") == 0) {
            free(python);
            python = join(root, sp);
        } else if (strcmp(line, "arg") == 0 && n < 60) {
            args[n++] = strdup(sp);
        } else if (strcmp(line, "argpath") == 0 && n < 60) {
            args[n++] = join(root, sp);
        }
    }
    fclose(fp);
    if (!python)
        die("no interpreter named in", cp);
    free(cp);
    const char *path = getenv("PATH");
    char *bin = join(root, "bin");
    size_t pl = strlen(bin) + (path ? strlen(path) : 14) + 2;
    char *newpath = malloc(pl);
    snprintf(newpath, pl, "%s:%s", bin, path ? path : "/usr/bin:/bin");
    setenv("PATH", newpath, 1);
    args[0] = python;
    for (int i = 1; i < argc; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    execv(python, args);
    die(python, strerror(errno));
}

int main(int argc, char **argv) {
    static char self[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0)
        die("cannot read /proc/self/exe (is /proc mounted?)", strerror(errno));
    self[k] = 0;
    const char *rel = NULL;
    char *root = find_root(self, &rel);
    if (strcmp(rel, "run") == 0)
        run_entry(root, argc, argv);

    char *loader = join(root, "lib/ld-linux-x86-64.so.2");
    char *libdir = join(root, "lib");
    char *real = join(root, "libexec");
    char *realp = join(real, rel);
    /* host library folders for GPU drivers, when the user names them */
    const char *extra = getenv("PYFARM_HOST_LIBRARY_PATH");
    if (extra && *extra) {
        size_t n = strlen(libdir) + strlen(extra) + 2;
        char *both = malloc(n);
        snprintf(both, n, "%s:%s", libdir, extra);
        libdir = both;
    }
    /* argv0: as invoked when it is a path, else our own path, so that
     * CPython's sys.executable is this launcher and finds its landmarks */
    const char *argv0 = argc > 0 && strchr(argv[0], '/') ? argv[0] : self;
    char **args = calloc((size_t)argc + 8, sizeof *args);
    int n = 0;
    args[n++] = loader;
    args[n++] = "--inhibit-cache";
    args[n++] = "--library-path";
    args[n++] = libdir;
    args[n++] = "--argv0";
    args[n++] = (char *)argv0;
    args[n++] = realp;
    for (int i = 1; i < argc; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    execv(loader, args);
    die(loader, strerror(errno));
    return 127;
}
