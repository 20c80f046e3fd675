/* preload.c: libpfpreload.so, loaded with LD_PRELOAD into every process that
 * pfanalyze runs, Python or not. It records what native code does that the
 * Python tracer cannot see: files opened for reading (OpenSSL's
 * configuration, certificates, fontconfig, zoneinfo...) and programs
 * executed. One record file per process (docs/trace-format.md).
 *
 * Rules kept everywhere below:
 * - logging uses raw system calls and no stdio/malloc/locale, so it never
 *   recurses into the functions it wraps and can run in a signal handler;
 * - errno seen by the caller is the real function's, never ours;
 * - nothing at all happens when PYFARM_TRACE_DIR was unset at start;
 * - one write(2) per line on an O_APPEND descriptor, under a lock that a
 *   signal handler re-entering on the same thread never waits for (the line
 *   is dropped instead), and that a fork child takes over when its owner
 *   thread did not survive the fork;
 * - a forked child notices the pid change and opens a file of its own;
 * - exec records (often made in a vfork child, which shares its parent's
 *   memory) go to a record file of their own and touch no shared state.
 *
 * dlopen is deliberately not wrapped: glibc searches DT_RUNPATH of the
 * *caller* of dlopen, so a wrapper would change which library is found.
 * Mapped objects are read from /proc/self/maps by the Python tracer. */
/* Both the plain and the 64 names are defined below: the project-wide
 * _FILE_OFFSET_BITS=64 would make the plain ones aliases of the 64 ones. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
#define PATHCAP 4096
#define LINECAP (2 * PATHCAP + 64)

/* ---- state, set once at load ---- */

static char trace_dir[PATHCAP]; /* empty: tracing is off */
static size_t trace_dir_len;

__attribute__((constructor)) static void pf_init(void) {
    const char *d = getenv("PYFARM_TRACE_DIR");
    if (!d || !*d)
        return;
    size_t n = 0;
    if (d[0] != '/') { /* pfanalyze passes an absolute path; be safe anyway */
        if (syscall(SYS_getcwd, trace_dir, sizeof trace_dir) < 0)
            return;
        n = strlen(trace_dir);
        if (n + 1 < sizeof trace_dir)
            trace_dir[n++] = '/';
    }
    size_t k = strlen(d);
    if (n + k + 1 > sizeof trace_dir) {
        trace_dir[0] = 0;
        return;
    }
    memcpy(trace_dir + n, d, k + 1);
    n += k;
    while (n > 1 && trace_dir[n - 1] == '/')
        trace_dir[--n] = 0;
    trace_dir_len = n;
}

static int tracing(void) {
    return trace_dir[0] != 0;
}

/* ---- the lock ---- */

static int log_lock; /* owner's thread id, 0 when free */

/* 1 when taken; 0 when this thread already holds it (a signal handler
 * interrupted our own logging): the caller then drops its line. */
static int lock(void) {
    int self = (int)syscall(SYS_gettid);
    for (unsigned spins = 1;; spins++) {
        int owner = 0;
        if (__atomic_compare_exchange_n(&log_lock, &owner, self, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return 1;
        if (owner == self)
            return 0;
        if (spins % 64 == 0) {
            /* held by a thread this process does not have (the lock was
             * copied by fork while another thread held it): take it over */
            if (syscall(SYS_tgkill, (int)syscall(SYS_getpid), owner, 0) < 0 && errno == ESRCH &&
                __atomic_compare_exchange_n(&log_lock, &owner, self, 0, __ATOMIC_ACQUIRE,
                                            __ATOMIC_RELAXED))
                return 1;
            syscall(SYS_sched_yield);
        }
    }
}

static void unlock(void) {
    __atomic_store_n(&log_lock, 0, __ATOMIC_RELEASE);
}

/* ---- formatting, without stdio ---- */

struct buf {
    char *p;
    size_t n, cap;
};

static void add_raw(struct buf *b, const char *s, size_t k) {
    if (b->n + k > b->cap)
        k = b->cap - b->n;
    memcpy(b->p + b->n, s, k);
    b->n += k;
}

static void add_str(struct buf *b, const char *s) {
    add_raw(b, s, strlen(s));
}

/* A field with `\`, TAB, LF, CR escaped. */
static void add_field(struct buf *b, const char *s) {
    for (; s && *s && b->n + 2 < b->cap; s++) {
        char c = *s;
        char e = c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : 0;
        if (e) {
            b->p[b->n++] = '\\';
            b->p[b->n++] = e;
        } else {
            b->p[b->n++] = c;
        }
    }
}

static void add_num(struct buf *b, unsigned long long v, int width) {
    char d[24];
    int i = 0;
    do {
        d[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i < width)
        d[i++] = '0';
    while (i && b->n < b->cap)
        b->p[b->n++] = d[--i];
}

/* The line ends with LF even when a field was cut short. */
static void end_line(struct buf *b) {
    if (b->n >= b->cap)
        b->n = b->cap - 1;
    b->p[b->n++] = '\n';
}

static void raw_write(int fd, const char *p, size_t n) {
    while (n) {
        long w = syscall(SYS_write, fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* ---- record files ---- */

/* Move a descriptor above the app's usual numbers (close-on-exec). */
static int high_fd(int fd) {
    if (fd < 0)
        return fd;
    int hi = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 900);
    if (hi < 0)
        return fd;
    syscall(SYS_close, fd);
    return hi;
}

/* A new record file for this process, its P line written; the file's name
 * goes to path (PATHCAP bytes). Uses only the stack. */
static int new_log(char *path) {
    int pid = (int)syscall(SYS_getpid);
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
    struct buf b = {path, 0, PATHCAP - 1};
    add_raw(&b, trace_dir, trace_dir_len);
    add_str(&b, "/c-");
    add_num(&b, (unsigned)pid, 0);
    add_str(&b, "-");
    add_num(&b, (unsigned long long)ts.tv_sec, 0);
    add_num(&b, (unsigned long long)ts.tv_nsec, 9);
    add_str(&b, ".rec");
    path[b.n] = 0;
    int fd = high_fd(
        (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (fd < 0)
        return -1;
    char exe[PATHCAP] = "", cwd[PATHCAP] = "";
    long k = syscall(SYS_readlink, "/proc/self/exe", exe, sizeof exe - 1);
    exe[k > 0 ? k : 0] = 0;
    if (syscall(SYS_getcwd, cwd, sizeof cwd) < 0)
        cwd[0] = 0;
    char line[LINECAP];
    struct buf l = {line, 0, sizeof line};
    add_str(&l, "P\t");
    add_num(&l, (unsigned)pid, 0);
    add_str(&l, "\t");
    add_num(&l, (unsigned)syscall(SYS_getppid), 0);
    add_str(&l, "\t");
    add_field(&l, cwd);
    add_str(&l, "\t");
    add_field(&l, exe);
    end_line(&l);
    raw_write(fd, line, l.n);
    return fd;
}

/* Guarded by the lock. */
static int log_fd = -1;
static int log_pid;
static char log_path[PATHCAP];
static dev_t log_dev;
static ino_t log_ino;
static char abs_buf[PATHCAP];
static char cwd_buf[PATHCAP];
static char line_buf[LINECAP];

/* This process's record (lock held). The app may close our descriptor and
 * reuse its number, so the file's identity is checked before each write,
 * and a lost descriptor is reopened on the same file. */
static int open_log(void) {
    int pid = (int)syscall(SYS_getpid);
    struct stat st;
    if (log_fd >= 0 && pid == log_pid) {
        if (syscall(SYS_fstat, log_fd, &st) == 0 && st.st_dev == log_dev && st.st_ino == log_ino)
            return log_fd;
        log_fd =
            high_fd((int)syscall(SYS_openat, AT_FDCWD, log_path, O_WRONLY | O_APPEND | O_CLOEXEC));
    } else {
        /* first line, or a fork child: the parent's descriptor is the parent's */
        log_fd = new_log(log_path);
        log_pid = pid;
    }
    if (log_fd >= 0 && syscall(SYS_fstat, log_fd, &st) == 0) {
        log_dev = st.st_dev;
        log_ino = st.st_ino;
    }
    return log_fd;
}

/* The absolute form of p opened relative to dirfd, into out (PATHCAP). */
static void absolute(int dirfd, const char *p, char *out, char *tmp) {
    struct buf b = {out, 0, PATHCAP - 1};
    if (p[0] != '/') {
        long k;
        if (dirfd == AT_FDCWD) {
            k = syscall(SYS_getcwd, tmp, PATHCAP) < 0 ? 0 : (long)strlen(tmp);
        } else {
            char link[32] = "/proc/self/fd/";
            struct buf lb = {link, 14, sizeof link - 1};
            add_num(&lb, (unsigned)dirfd, 0);
            link[lb.n] = 0;
            k = syscall(SYS_readlink, link, tmp, PATHCAP - 1);
        }
        add_raw(&b, tmp, k > 0 ? (size_t)k : 0);
        if (!*p) { /* the descriptor itself (fexecve, AT_EMPTY_PATH) */
            out[b.n] = 0;
            return;
        }
        if (b.n == 0 || out[b.n - 1] != '/')
            add_str(&b, "/");
    }
    add_str(&b, p);
    out[b.n] = 0;
}

static int starts(const char *p, const char *pre, size_t n) {
    return strncmp(p, pre, n) == 0 && (p[n] == '/' || p[n] == 0);
}

static int skip_path(const char *p) {
    return starts(p, trace_dir, trace_dir_len) || starts(p, "/proc", 5) || starts(p, "/sys", 4) ||
           starts(p, "/dev", 4);
}

/* An F line for a successful read-only open. */
static void opened(int dirfd, const char *path, int flags) {
    if (!tracing() || !path || !*path || (flags & O_ACCMODE) != O_RDONLY ||
        (flags & (O_DIRECTORY | O_PATH | O_CREAT)))
        return;
    if (!lock())
        return;
    absolute(dirfd, path, abs_buf, cwd_buf);
    if (!skip_path(abs_buf)) {
        int fd = open_log();
        if (fd >= 0) {
            struct buf l = {line_buf, 0, sizeof line_buf};
            add_str(&l, "F\t");
            add_field(&l, abs_buf);
            end_line(&l);
            raw_write(fd, line_buf, l.n);
        }
    }
    unlock();
}

static int fopen_mode_reads(const char *mode) {
    return mode && mode[0] == 'r' && !strchr(mode, '+');
}

/* One X line in a record file of its own. exec is often called in a vfork
 * child (posix_spawn, subprocess), which shares the parent's memory: only
 * the stack is used here. */
static void exec_line(const char *abs, const char *argv0) {
    char path[PATHCAP], line[LINECAP];
    int fd = new_log(path);
    if (fd < 0)
        return;
    struct buf l = {line, 0, sizeof line};
    add_str(&l, "X\t");
    add_field(&l, abs);
    add_str(&l, "\t");
    add_field(&l, argv0);
    end_line(&l);
    raw_write(fd, line, l.n);
    syscall(SYS_close, fd);
}

/* What exec will run: the path made absolute, or for the p-variants the
 * first executable match along PATH (as execvp searches; PATH unset means
 * glibc's default "/bin:/usr/bin"). Nothing is recorded when no program
 * would be found. */
static void exec_record(int dirfd, const char *file, char *const argv[], int search) {
    if (!tracing() || !file || (!*file && dirfd == AT_FDCWD))
        return;
    char abs[PATHCAP], tmp[PATHCAP];
    const char *argv0 = argv && argv[0] ? argv[0] : "";
    if (!search || strchr(file, '/')) {
        absolute(dirfd, file, abs, tmp);
        if (syscall(SYS_faccessat, AT_FDCWD, abs, X_OK) == 0)
            exec_line(abs, argv0);
        return;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    size_t flen = strlen(file);
    for (;;) {
        const char *e = strchr(path, ':');
        size_t n = e ? (size_t)(e - path) : strlen(path);
        struct buf b = {tmp, 0, PATHCAP - 1};
        if (n)
            add_raw(&b, path, n);
        else
            add_str(&b, ".");
        add_str(&b, "/");
        add_raw(&b, file, flen);
        tmp[b.n] = 0;
        struct stat st;
        if (syscall(SYS_faccessat, AT_FDCWD, tmp, X_OK) == 0 && syscall(SYS_stat, tmp, &st) == 0 &&
            S_ISREG(st.st_mode)) {
            char tmp2[PATHCAP];
            absolute(AT_FDCWD, tmp, abs, tmp2);
            exec_line(abs, argv0);
            return;
        }
        if (!e)
            return;
        path = e + 1;
    }
}

/* ---- the wrappers ---- */

/* The next definition of name (libc's), looked up once. dlsym does not
 * open files, so it cannot recurse into us. */
#define REAL(name)                                                                                 \
    static __typeof__(name) *real_##name;                                                          \
    __typeof__(name) *fn_##name = __atomic_load_n(&real_##name, __ATOMIC_RELAXED);                 \
    if (!fn_##name) {                                                                              \
        void *sym_ = dlsym(RTLD_NEXT, #name);                                                      \
        memcpy(&fn_##name, &sym_, sizeof fn_##name);                                               \
        __atomic_store_n(&real_##name, fn_##name, __ATOMIC_RELAXED);                               \
    }

#define MISSING(fail)                                                                              \
    do {                                                                                           \
        errno = ENOSYS;                                                                            \
        return fail;                                                                               \
    } while (0)

static int mode_needed(int flags) {
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

/* Call the real open-like function, then record; errno is the real one's. */
#define OPEN_BODY(name, dirfd, call)                                                               \
    int saved = errno;                                                                             \
    REAL(name);                                                                                    \
    if (!fn_##name)                                                                                \
        MISSING(-1);                                                                               \
    errno = saved;                                                                                 \
    int fd = call;                                                                                 \
    if (fd >= 0 && tracing()) {                                                                    \
        saved = errno;                                                                             \
        opened(dirfd, path, flags);                                                                \
        errno = saved;                                                                             \
    }                                                                                              \
    return fd;

PUBLIC int open(const char *path, int flags, ...) {
    mode_t m = 0;
    if (mode_needed(flags)) {
        va_list ap;
        va_start(ap, flags);
        m = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    OPEN_BODY(open, AT_FDCWD, fn_open(path, flags, m))
}

PUBLIC int open64(const char *path, int flags, ...) {
    mode_t m = 0;
    if (mode_needed(flags)) {
        va_list ap;
        va_start(ap, flags);
        m = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    OPEN_BODY(open64, AT_FDCWD, fn_open64(path, flags, m))
}

PUBLIC int openat(int dirfd, const char *path, int flags, ...) {
    mode_t m = 0;
    if (mode_needed(flags)) {
        va_list ap;
        va_start(ap, flags);
        m = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    OPEN_BODY(openat, dirfd, fn_openat(dirfd, path, flags, m))
}

PUBLIC int openat64(int dirfd, const char *path, int flags, ...) {
    mode_t m = 0;
    if (mode_needed(flags)) {
        va_list ap;
        va_start(ap, flags);
        m = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    OPEN_BODY(openat64, dirfd, fn_openat64(dirfd, path, flags, m))
}

/* _FORTIFY_SOURCE builds call these instead of open/openat */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

PUBLIC int __open_2(const char *path,
                    int flags){OPEN_BODY(__open_2, AT_FDCWD, fn___open_2(path, flags))}

PUBLIC int __open64_2(const char *path,
                      int flags){OPEN_BODY(__open64_2, AT_FDCWD, fn___open64_2(path, flags))}

PUBLIC int __openat_2(int dirfd, const char *path,
                      int flags){OPEN_BODY(__openat_2, dirfd, fn___openat_2(dirfd, path, flags))}

PUBLIC int __openat64_2(int dirfd, const char *path, int flags){
    OPEN_BODY(__openat64_2, dirfd, fn___openat64_2(dirfd, path, flags))}

#define FOPEN_BODY(name, call)                                                                     \
    int saved = errno;                                                                             \
    REAL(name);                                                                                    \
    if (!fn_##name)                                                                                \
        MISSING(NULL);                                                                             \
    errno = saved;                                                                                 \
    FILE *f = call;                                                                                \
    if (f && tracing() && fopen_mode_reads(mode)) {                                                \
        saved = errno;                                                                             \
        opened(AT_FDCWD, path, O_RDONLY);                                                          \
        errno = saved;                                                                             \
    }                                                                                              \
    return f;

PUBLIC FILE *fopen(const char *path, const char *mode){FOPEN_BODY(fopen, fn_fopen(path, mode))}

PUBLIC FILE *fopen64(const char *path,
                     const char *mode){FOPEN_BODY(fopen64, fn_fopen64(path, mode))}

PUBLIC FILE *freopen(const char *path, const char *mode,
                     FILE *stream){FOPEN_BODY(freopen, fn_freopen(path, mode, stream))}

PUBLIC FILE *freopen64(const char *path, const char *mode,
                       FILE *stream){FOPEN_BODY(freopen64, fn_freopen64(path, mode, stream))}

/* exec: record the attempt, then call the real function (which sets errno
 * when it fails; on success nothing returns). */
#define EXEC_BODY(name, record, call)                                                              \
    int saved = errno;                                                                             \
    REAL(name);                                                                                    \
    if (!fn_##name)                                                                                \
        MISSING(-1);                                                                               \
    record;                                                                                        \
    errno = saved;                                                                                 \
    return call;

PUBLIC int execve(const char *path, char *const argv[], char *const envp[]){
    EXEC_BODY(execve, exec_record(AT_FDCWD, path, argv, 0), fn_execve(path, argv, envp))}

PUBLIC int execv(const char *path, char *const argv[]){
    EXEC_BODY(execv, exec_record(AT_FDCWD, path, argv, 0), fn_execv(path, argv))}

PUBLIC int execvp(const char *file, char *const argv[]){
    EXEC_BODY(execvp, exec_record(AT_FDCWD, file, argv, 1), fn_execvp(file, argv))}

PUBLIC int execvpe(const char *file, char *const argv[], char *const envp[]){
    EXEC_BODY(execvpe, exec_record(AT_FDCWD, file, argv, 1), fn_execvpe(file, argv, envp))}

PUBLIC int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
                    int flags){/* AT_EMPTY_PATH with "": the program is dirfd itself */
                               EXEC_BODY(execveat, exec_record(dirfd, path, argv, 0),
                                         fn_execveat(dirfd, path, argv, envp, flags))}

PUBLIC int fexecve(int fd, char *const argv[], char *const envp[]) {
    EXEC_BODY(fexecve, exec_record(fd, "", argv, 0), fn_fexecve(fd, argv, envp))
}

/* execl, execle and execlp: glibc's call its internal execve, not ours, so
 * they are rebuilt on the wrappers above. */
#define LIST_TO_ARGV(first, ap, argv, extra)                                                       \
    size_t argc = 1;                                                                               \
    {                                                                                              \
        va_list c;                                                                                 \
        va_copy(c, ap);                                                                            \
        while (va_arg(c, char *))                                                                  \
            argc++;                                                                                \
        va_end(c);                                                                                 \
    }                                                                                              \
    char *argv[argc + 1];                                                                          \
    argv[0] = (char *)(first);                                                                     \
    for (size_t i = 1; i <= argc; i++)                                                             \
        argv[i] = va_arg(ap, char *);                                                              \
    extra;

extern char **environ;

PUBLIC int execl(const char *path, const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    LIST_TO_ARGV(arg, ap, argv, (void)0)
    va_end(ap);
    return execve(path, argv, environ);
}

PUBLIC int execle(const char *path, const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    LIST_TO_ARGV(arg, ap, argv, char **envp = va_arg(ap, char **))
    va_end(ap);
    return execve(path, argv, envp);
}

PUBLIC int execlp(const char *file, const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    LIST_TO_ARGV(arg, ap, argv, (void)0)
    va_end(ap);
    return execvp(file, argv);
}

PUBLIC int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[], char *const envp[]){
    EXEC_BODY(posix_spawn, exec_record(AT_FDCWD, path, argv, 0),
              fn_posix_spawn(pid, path, fa, attr, argv, envp))}

PUBLIC int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    EXEC_BODY(posix_spawnp, exec_record(AT_FDCWD, file, argv, 1),
              fn_posix_spawnp(pid, file, fa, attr, argv, envp))
}
