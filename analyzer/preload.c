/* preload.c: libpfpreload.so, loaded with LD_PRELOAD into every process that
 * pfanalyze runs, Python or not. It records what native code does that the
 * Python tracer cannot see: files opened for reading (OpenSSL's
 * configuration, certificates, fontconfig, zoneinfo...) and programs
 * executed. One record file per process (docs/trace-format.md), written
 * with raw system calls so that logging never recurses into the functions
 * it wraps and never changes the errno a caller sees.
 *
 * dlopen is deliberately not wrapped: glibc searches DT_RUNPATH of the
 * *caller* of dlopen, so a wrapper would change which library is found.
 * Mapped objects are read from /proc/self/maps by the Python tracer. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PUBLIC __attribute__((visibility("default")))

static int log_fd = -1;
static pid_t log_pid;
static int log_lock; /* a spin lock: no pthread dependency, held briefly */

static void lock(void) {
    while (__atomic_exchange_n(&log_lock, 1, __ATOMIC_ACQUIRE))
        ;
}

static void unlock(void) {
    __atomic_store_n(&log_lock, 0, __ATOMIC_RELEASE);
}

static size_t put(char *buf, size_t n, size_t cap, const char *s) {
    for (; s && *s && n + 2 < cap; s++) {
        char c = *s;
        const char *e = c == '\\'   ? "\\\\"
                        : c == '\t' ? "\\t"
                        : c == '\n' ? "\\n"
                        : c == '\r' ? "\\r"
                                    : NULL;
        if (e) {
            buf[n++] = e[0];
            buf[n++] = e[1];
        } else {
            buf[n++] = c;
        }
    }
    return n;
}

static void raw_write(int fd, const char *buf, size_t n) {
    while (n) {
        long w = syscall(SYS_write, fd, buf, n);
        if (w <= 0)
            return;
        buf += w;
        n -= (size_t)w;
    }
}

/* A new record file for this process, its P line written. The descriptor
 * is moved above the app's usual numbers. */
static int new_log(const char *dir, char *path, size_t cap) {
    pid_t pid = (pid_t)syscall(SYS_getpid);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(path, cap, "%s/c-%d-%lld%09ld.rec", dir, (int)pid, (long long)ts.tv_sec, ts.tv_nsec);
    int fd =
        (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int hi = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 900);
    if (hi >= 0) {
        syscall(SYS_close, fd);
        fd = hi;
    }
    char exe[4096] = "", cwd[4096] = "";
    long k = syscall(SYS_readlink, "/proc/self/exe", exe, sizeof exe - 1);
    exe[k > 0 ? k : 0] = 0;
    if (syscall(SYS_getcwd, cwd, sizeof cwd) < 0)
        cwd[0] = 0;
    char line[9000];
    size_t n =
        (size_t)snprintf(line, sizeof line, "P\t%d\t%d\t", (int)pid, (int)syscall(SYS_getppid));
    n = put(line, n, sizeof line, cwd);
    line[n++] = '\t';
    n = put(line, n, sizeof line, exe);
    line[n++] = '\n';
    raw_write(fd, line, n);
    return fd;
}

static char log_path[4096];
static dev_t log_dev;
static ino_t log_ino;

/* This process's record: the app may close our descriptor and reuse its
 * number, so the file's identity is checked before each write, and a lost
 * descriptor is reopened on the same file. */
static int open_log(const char *dir) {
    pid_t pid = (pid_t)syscall(SYS_getpid);
    struct stat st;
    if (log_fd >= 0 && pid == log_pid) {
        if (syscall(SYS_fstat, log_fd, &st) == 0 && st.st_dev == log_dev && st.st_ino == log_ino)
            return log_fd;
        int fd = (int)syscall(SYS_openat, AT_FDCWD, log_path, O_WRONLY | O_APPEND | O_CLOEXEC);
        int hi = fd >= 0 ? (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 900) : -1;
        if (hi >= 0) {
            syscall(SYS_close, fd);
            fd = hi;
        }
        log_fd = fd;
    } else {
        /* a fork child: the parent's descriptor is the parent's */
        log_fd = new_log(dir, log_path, sizeof log_path);
        log_pid = pid;
    }
    if (log_fd >= 0 && syscall(SYS_fstat, log_fd, &st) == 0) {
        log_dev = st.st_dev;
        log_ino = st.st_ino;
    }
    return log_fd;
}

static void record(char kind, const char *a, const char *b) {
    const char *dir = getenv("PYFARM_TRACE_DIR");
    if (!dir || !*dir || !a)
        return;
    int saved = errno;
    lock();
    int fd = open_log(dir);
    if (fd >= 0) {
        char line[9000];
        size_t n = 0;
        line[n++] = kind;
        line[n++] = '\t';
        n = put(line, n, sizeof line, a);
        if (b) {
            line[n++] = '\t';
            n = put(line, n, sizeof line, b);
        }
        line[n++] = '\n';
        raw_write(fd, line, n);
    }
    unlock();
    errno = saved;
}

/* Absolute form of a path opened relative to dirfd. */
static void absolute(int dirfd, const char *p, char *out, size_t cap) {
    if (p[0] == '/') {
        snprintf(out, cap, "%s", p);
        return;
    }
    char base[4096] = "";
    if (dirfd == AT_FDCWD) {
        if (syscall(SYS_getcwd, base, sizeof base) < 0)
            base[0] = 0;
    } else {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        long k = syscall(SYS_readlink, link, base, sizeof base - 1);
        base[k > 0 ? k : 0] = 0;
    }
    snprintf(out, cap, "%s/%s", base, p);
}

static int skip_path(const char *p) {
    const char *dir = getenv("PYFARM_TRACE_DIR");
    if (dir && strncmp(p, dir, strlen(dir)) == 0)
        return 1;
    return !strncmp(p, "/proc/", 6) || !strncmp(p, "/sys/", 5) || !strncmp(p, "/dev/", 5);
}

static void opened(int dirfd, const char *path, int flags) {
    if (!path || (flags & O_ACCMODE) != O_RDONLY || (flags & O_DIRECTORY) ||
        !getenv("PYFARM_TRACE_DIR"))
        return;
    int saved = errno;
    char abs[4096];
    absolute(dirfd, path, abs, sizeof abs);
    if (!skip_path(abs))
        record('F', abs, NULL);
    errno = saved;
}

static int fopen_mode_reads(const char *mode) {
    return mode && mode[0] == 'r' && !strchr(mode, '+');
}

/* One X line in a record file of its own. exec is often called in a vfork
 * child (posix_spawn, subprocess), which shares the parent's memory: it must
 * not touch the statics of the parent's record. */
static void exec_line(const char *abs, const char *argv0) {
    const char *dir = getenv("PYFARM_TRACE_DIR");
    char path[4096], line[9000];
    int fd = new_log(dir, path, sizeof path);
    if (fd < 0)
        return;
    size_t n = 0;
    line[n++] = 'X';
    line[n++] = '\t';
    n = put(line, n, sizeof line, abs);
    line[n++] = '\t';
    n = put(line, n, sizeof line, argv0);
    line[n++] = '\n';
    raw_write(fd, line, n);
    syscall(SYS_close, fd);
}

/* PATH search as execvp does it, for the record only. */
static void exec_record(const char *file, char *const argv[], int search) {
    if (!file || !getenv("PYFARM_TRACE_DIR"))
        return;
    int saved = errno;
    char abs[4096];
    const char *argv0 = argv && argv[0] ? argv[0] : "";
    if (!search || strchr(file, '/')) {
        absolute(AT_FDCWD, file, abs, sizeof abs);
        exec_line(abs, argv0);
    } else {
        const char *path = getenv("PATH");
        if (!path)
            path = "/bin:/usr/bin";
        while (*path) {
            const char *e = strchr(path, ':');
            size_t n = e ? (size_t)(e - path) : strlen(path);
            snprintf(abs, sizeof abs, "%.*s/%s", (int)n, n ? path : ".", file);
            if (access(abs, X_OK) == 0) {
                char full[4096];
                absolute(AT_FDCWD, abs, full, sizeof full);
                exec_line(full, argv0);
                break;
            }
            path += n + (e ? 1 : 0);
        }
    }
    errno = saved;
}

/* The next definition of name (libc's), looked up once. */
#define REAL(name)                                                                                 \
    static __typeof__(name) *real_##name;                                                          \
    if (!real_##name)                                                                              \
        real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);

static mode_t mode_arg(int flags, va_list ap) {
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

PUBLIC int open(const char *path, int flags, ...) {
    REAL(open);
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    int fd = real_open(path, flags, m);
    if (fd >= 0)
        opened(AT_FDCWD, path, flags);
    return fd;
}

PUBLIC int open64(const char *path, int flags, ...) {
    REAL(open64);
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    int fd = real_open64(path, flags, m);
    if (fd >= 0)
        opened(AT_FDCWD, path, flags);
    return fd;
}

PUBLIC int openat(int dirfd, const char *path, int flags, ...) {
    REAL(openat);
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    int fd = real_openat(dirfd, path, flags, m);
    if (fd >= 0)
        opened(dirfd, path, flags);
    return fd;
}

PUBLIC int openat64(int dirfd, const char *path, int flags, ...) {
    REAL(openat64);
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    int fd = real_openat64(dirfd, path, flags, m);
    if (fd >= 0)
        opened(dirfd, path, flags);
    return fd;
}

/* _FORTIFY_SOURCE builds call these instead of open/openat */
PUBLIC int __open_2(const char *path, int flags) {
    REAL(__open_2);
    int fd = real___open_2(path, flags);
    if (fd >= 0)
        opened(AT_FDCWD, path, flags);
    return fd;
}

PUBLIC int __open64_2(const char *path, int flags) {
    REAL(__open64_2);
    int fd = real___open64_2(path, flags);
    if (fd >= 0)
        opened(AT_FDCWD, path, flags);
    return fd;
}

PUBLIC int __openat_2(int dirfd, const char *path, int flags) {
    REAL(__openat_2);
    int fd = real___openat_2(dirfd, path, flags);
    if (fd >= 0)
        opened(dirfd, path, flags);
    return fd;
}

PUBLIC FILE *fopen(const char *path, const char *mode) {
    REAL(fopen);
    FILE *f = real_fopen(path, mode);
    if (f && fopen_mode_reads(mode))
        opened(AT_FDCWD, path, O_RDONLY);
    return f;
}

PUBLIC FILE *fopen64(const char *path, const char *mode) {
    REAL(fopen64);
    FILE *f = real_fopen64(path, mode);
    if (f && fopen_mode_reads(mode))
        opened(AT_FDCWD, path, O_RDONLY);
    return f;
}

PUBLIC int execve(const char *path, char *const argv[], char *const envp[]) {
    REAL(execve);
    if (access(path, X_OK) == 0)
        exec_record(path, argv, 0);
    return real_execve(path, argv, envp);
}

PUBLIC int execv(const char *path, char *const argv[]) {
    REAL(execv);
    if (access(path, X_OK) == 0)
        exec_record(path, argv, 0);
    return real_execv(path, argv);
}

PUBLIC int execvp(const char *file, char *const argv[]) {
    REAL(execvp);
    exec_record(file, argv, 1);
    return real_execvp(file, argv);
}

PUBLIC int execvpe(const char *file, char *const argv[], char *const envp[]) {
    REAL(execvpe);
    exec_record(file, argv, 1);
    return real_execvpe(file, argv, envp);
}

PUBLIC int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    REAL(posix_spawn);
    exec_record(path, argv, 0);
    return real_posix_spawn(pid, path, fa, attr, argv, envp);
}

PUBLIC int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    REAL(posix_spawnp);
    exec_record(file, argv, 1);
    return real_posix_spawnp(pid, file, fa, attr, argv, envp);
}
