/* runlock.c: the run lock beside a catalog, the temporaries of a run (held
 * by flock, removed on exit and on signals) and the removal of the
 * temporaries that dead runs left behind. What is removed from a signal
 * handler uses system calls only (no malloc, no stdio): the registry is a
 * static table of fixed buffers, filled before the temporaries exist. */
#include "pyfarm/runlock.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyfarm/util.h"

/* A run has few temporaries: a trace folder, a lock, a catalog copy with
 * its three SQLite side files, an export folder. */
#define MAX_HELD 16
#define MAX_DEPTH 48 /* rm_tree's recursion; 2 KiB of stack a level */

typedef struct held {
    char path[PATH_MAX];
    volatile sig_atomic_t used;
} held;

static held g_held[MAX_HELD];
static volatile sig_atomic_t g_nheld;
static volatile sig_atomic_t g_child;   /* the traced command while it runs */
static volatile sig_atomic_t g_pending; /* a signal forwarded to it */
static pid_t g_owner;                   /* the process whose temporaries these are */
static const int g_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/* rm -rf with system calls only, never following a symlink: usable from a
 * signal handler and safe against links planted in a shared folder. A
 * folder is listed again until empty, as removing while listing may skip
 * entries. */
static void rm_tree_at(int dfd, const char *name, int depth) {
    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
        return;
    if (errno != EISDIR)
        return;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    for (int pass = 0; depth < MAX_DEPTH && pass < 4; pass++) {
        _Alignas(struct dirent64) char buf[2048];
        int any = 0;
        ssize_t n;
        lseek(fd, 0, SEEK_SET);
        /* NOLINTNEXTLINE(bugprone-signal-handler): getdents64 is a bare system call */
        while ((n = getdents64(fd, buf, sizeof buf)) > 0) {
            for (ssize_t off = 0; off < n;) {
                const struct dirent64 *de = (const struct dirent64 *)(buf + off);
                off += de->d_reclen;
                const char *s = de->d_name;
                if (s[0] == '.' && (s[1] == 0 || (s[1] == '.' && s[2] == 0)))
                    continue;
                any = 1;
                rm_tree_at(fd, s, depth + 1);
            }
        }
        if (!any)
            break;
    }
    close(fd);
    unlinkat(dfd, name, AT_REMOVEDIR);
}

/* Newest first: the catalog copy before the lock that guards it. */
static void cleanup_all(void) {
    if (getpid() != g_owner)
        return;
    for (int i = g_nheld; i-- > 0;)
        if (g_held[i].used) {
            g_held[i].used = 0;
            rm_tree_at(AT_FDCWD, g_held[i].path, 0);
        }
}

static void die_of(int sig) {
    signal(sig, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    raise(sig);
    _exit(128 + sig);
}

static void on_signal(int sig) {
    int saved = errno;
    if (getpid() != g_owner) /* a child between fork and exec */
        die_of(sig);
    pid_t child = (pid_t)g_child;
    if (child > 0) {
        if (sig == SIGTERM || sig == SIGHUP) {
            kill(child, sig);
            g_pending = sig;
        }
        errno = saved;
        return;
    }
    cleanup_all();
    die_of(sig);
}

static void on_exit_cleanup(void) {
    cleanup_all();
}

void pf_run_signals_install(void) {
    if (g_owner == getpid())
        return;
    g_owner = getpid();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask); /* one handler at a time */
    for (size_t i = 0; i < sizeof g_signals / sizeof *g_signals; i++)
        sigaction(g_signals[i], &sa, NULL);
    atexit(on_exit_cleanup);
}

void pf_run_child_started(pid_t pid) {
    g_child = pid;
}

void pf_run_child_ended(void) {
    g_child = 0;
    int sig = g_pending;
    if (sig) {
        cleanup_all();
        die_of(sig);
    }
}

static int add_path(const char *path) {
    for (int i = 0; i < g_nheld; i++) /* registered already (before it was made) */
        if (g_held[i].used && strcmp(g_held[i].path, path) == 0)
            return 0;
    if (g_nheld >= MAX_HELD || strlen(path) >= PATH_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    held *h = &g_held[g_nheld];
    memcpy(h->path, path, strlen(path) + 1);
    h->used = 1;
    g_nheld = g_nheld + 1; /* published last: the handler sees whole entries */
    return 0;
}

static void forget_path(const char *path) {
    for (int i = 0; i < g_nheld; i++)
        if (g_held[i].used && strcmp(g_held[i].path, path) == 0)
            g_held[i].used = 0;
}

int pf_run_cleanup_add(const char *path, int sqlite) {
    static const char *const side[] = {"-journal", "-wal", "-shm"};
    int r = 0;
    for (size_t i = 0; sqlite && i < 3; i++) {
        char *p = pf_xasprintf("%s%s", path, side[i]);
        r |= add_path(p);
        free(p);
    }
    return r | add_path(path);
}

int pf_run_hold(const char *path, char *err, size_t errlen) {
    int fd = -1;
    if (pf_run_cleanup_add(path, 0) != 0 ||
        (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0 ||
        flock(fd, LOCK_EX | LOCK_NB) != 0) {
        pf_seterr(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return 0; /* fd stays open: the flock lasts as long as this process */
}

static int pid_alive(pid_t pid) {
    return kill(pid, 0) == 0 || errno == EPERM;
}

/* name in dfd, left by pid: removed when that process is gone and nothing
 * holds its flock (another pid namespace can reuse or hide pids). Only
 * this user's files and folders, never a link or a device. */
static int remove_if_stale(int dfd, const char *name, pid_t pid) {
    struct stat st;
    if (pid <= 0 || pid == getpid() || pid_alive(pid))
        return 0;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_uid != geteuid() ||
        !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
        return 0;
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return 0;
    int free_now = flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (free_now)
        rm_tree_at(dfd, name, 0);
    close(fd);
    return free_now;
}

static void list_names(int dfd, pf_strv *names) {
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    const struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            pf_strv_push(names, de->d_name);
    closedir(d);
}

/* "123" then one of the allowed endings; 0 when s is not that. */
static pid_t parse_pid(const char *s, const char *const *endings, size_t nend) {
    if (!isdigit((unsigned char)*s))
        return 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (v <= 0 || v > INT_MAX)
        return 0;
    for (size_t i = 0; i < nend; i++)
        if (strcmp(end, endings[i]) == 0)
            return (pid_t)v;
    return 0;
}

static void note_removed(const char *tool, const pf_strv *names, const char *what) {
    if (!tool || !names->n)
        return;
    pf_buf b = {0};
    for (size_t i = 0; i < names->n && i < 8; i++)
        pf_buf_printf(&b, "%s%s", i ? ", " : "", names->v[i]);
    fprintf(stderr, "%s: removed %s left by a killed run: %s%s\n", tool, what, (char *)b.p,
            names->n > 8 ? ", ..." : "");
    pf_buf_free(&b);
}

int pf_run_clean_stale(const char *target, const char *tool) {
    static const char *const tmp_end[] = {"", "-journal", "-wal", "-shm"};
    static const char *const old_end[] = {""};
    char *dir = pf_path_dirname(target);
    const char *base = pf_path_basename(target);
    size_t blen = strlen(base);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (!blen || dfd < 0) {
        if (dfd >= 0)
            close(dfd);
        return 0;
    }
    pf_strv names = {0}, removed = {0};
    list_names(dfd, &names);
    for (size_t i = 0; i < names.n; i++) {
        const char *s = names.v[i];
        if (strncmp(s, base, blen) != 0)
            continue;
        pid_t pid = 0;
        if (strncmp(s + blen, ".tmp-", 5) == 0)
            pid = parse_pid(s + blen + 5, tmp_end, 4);
        else if (strncmp(s + blen, ".old-", 5) == 0)
            pid = parse_pid(s + blen + 5, old_end, 1);
        if (pid && remove_if_stale(dfd, s, pid))
            pf_strv_push(&removed, s);
    }
    close(dfd);
    note_removed(tool, &removed, removed.n == 1 ? "a temporary" : "temporaries");
    int n = (int)removed.n;
    pf_strv_free(&names);
    pf_strv_free(&removed);
    return n;
}

int pf_runlock_take(const char *target, const char *tool, pf_runlock *lk, char *err,
                    size_t errlen) {
    char *path = pf_xasprintf("%s.lock", target);
    int fd, noted = 0;
    for (;;) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
        if (fd < 0 && errno == EACCES) /* another user's: flock needs no write access */
            fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        struct stat a, b;
        if (fd < 0 || fstat(fd, &a) != 0 || !S_ISREG(a.st_mode)) {
            pf_seterr(err, errlen, "%s: cannot take the lock %s: %s", target, path,
                      fd < 0 ? strerror(errno) : "not a regular file");
            goto fail;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK) {
                pf_seterr(err, errlen, "%s: cannot lock %s: %s", target, path, strerror(errno));
                goto fail;
            }
            if (tool && !noted++) {
                char pid[32] = "";
                ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
                pid[n > 0 ? n : 0] = 0;
                pid[strcspn(pid, "\n")] = 0;
                fprintf(stderr, "%s: %s: waiting for another run (pid %s) to finish with it\n",
                        tool, target, *pid ? pid : "?");
            }
            while (flock(fd, LOCK_EX) != 0)
                if (errno != EINTR) {
                    pf_seterr(err, errlen, "%s: cannot lock %s: %s", target, path, strerror(errno));
                    goto fail;
                }
        }
        /* the holder removes the file before it lets go: a lock on a file
         * no longer at path is worth nothing, take the new one */
        if (stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
            break;
        close(fd);
    }
    if (pf_run_cleanup_add(path, 0) != 0) {
        pf_seterr(err, errlen, "%s: %s: %s", target, path, strerror(errno));
        unlink(path);
        goto fail;
    }
    /* the holder's pid, for the message of those who wait (best effort) */
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) != n)
        (void)ftruncate(fd, 0);
    lk->fd = fd;
    lk->path = path;
    pf_run_clean_stale(target, tool);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    free(path);
    lk->fd = -1;
    lk->path = NULL;
    return -1;
}

void pf_runlock_drop(pf_runlock *lk) {
    if (!lk->path)
        return;
    forget_path(lk->path); /* first: once unlinked, the name may be another run's lock */
    unlink(lk->path);
    close(lk->fd);
    free(lk->path);
    lk->path = NULL;
    lk->fd = -1;
}

static int clean_stale_traces(const char *base, const char *tool) {
    int dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return 0;
    pf_strv names = {0}, removed = {0};
    list_names(dfd, &names);
    for (size_t i = 0; i < names.n; i++) {
        const char *s = names.v[i];
        if (strncmp(s, "pyfarm-trace-", 13) != 0)
            continue;
        /* pyfarm-trace-PID-XXXXXX (mkdtemp's six characters have no dash);
         * other names, as the kept ones, are not ours to remove */
        char *end;
        long pid = isdigit((unsigned char)s[13]) ? strtol(s + 13, &end, 10) : 0;
        if (pid <= 0 || pid > INT_MAX || *end != '-' || strlen(end) != 7 || strchr(end + 1, '-'))
            continue;
        if (remove_if_stale(dfd, s, (pid_t)pid))
            pf_strv_push(&removed, s);
    }
    close(dfd);
    if (removed.n && tool)
        fprintf(stderr, "%s: removed %zu trace folder%s in %s left by killed runs\n", tool,
                removed.n, removed.n == 1 ? "" : "s", base);
    int n = (int)removed.n;
    pf_strv_free(&names);
    pf_strv_free(&removed);
    return n;
}

const char *pf_run_trace_dir(const char *tool, char *err, size_t errlen) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    int keep = getenv("PYFARM_KEEP_TRACE") != NULL;
    clean_stale_traces(base, tool);
    char *name = keep ? pf_xstrdup("pyfarm-trace-keep-XXXXXX")
                      : pf_xasprintf("pyfarm-trace-%d-XXXXXX", (int)getpid());
    /* absolute: the traced processes may change folders */
    char *cwd = base[0] == '/' ? NULL : getcwd(NULL, 0);
    char *abs = cwd ? pf_path_join(cwd, base) : pf_xstrdup(base);
    char *tmpl = pf_path_join(abs, name);
    free(cwd);
    free(abs);
    free(name);
    static char path[PATH_MAX];
    int made = strlen(tmpl) < sizeof path ? mkdtemp(tmpl) != NULL : (errno = ENAMETOOLONG, 0);
    if (!made) {
        pf_seterr(err, errlen, "%s: cannot make the trace folder: %s", base, strerror(errno));
        free(tmpl);
        return NULL;
    }
    if (!keep && pf_run_hold(tmpl, err, errlen) != 0) {
        rm_tree_at(AT_FDCWD, tmpl, 0);
        free(tmpl);
        return NULL;
    }
    snprintf(path, sizeof path, "%s", tmpl);
    free(tmpl);
    return path;
}

void pf_run_unalias(char *err, size_t errlen, const char *tmp, const char *user) {
    size_t tl = strlen(tmp);
    if (!tl || !strstr(err, tmp))
        return;
    pf_buf b = {0};
    for (const char *s = err; *s;) {
        const char *hit = strstr(s, tmp);
        /* whole names only: x.db.tmp-12 is not inside x.db.tmp-123 */
        while (hit && isalnum((unsigned char)hit[tl]))
            hit = strstr(hit + 1, tmp);
        if (!hit) {
            pf_buf_puts(&b, s);
            break;
        }
        pf_buf_put(&b, s, (size_t)(hit - s));
        pf_buf_puts(&b, user);
        s = hit + tl;
    }
    pf_buf_putc(&b, 0);
    snprintf(err, errlen, "%s", (char *)b.p);
    pf_buf_free(&b);
}
