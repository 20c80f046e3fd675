/* sources.c: the one way a tool opens a tree file's source. Sources are
 * named by an untrusted catalog, and pfmount and pfexport often run as
 * root: a source must be a regular file (a FIFO would block forever, a
 * device has no size), it must be the file the analysis saw (size and
 * mtime), and the file actually opened must lie under one of the folders
 * the catalog declares as its roots. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyfarm/catalog.h"
#include "pyfarm/util.h"

int pf_roots_load(pf_catalog *c, pf_roots *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (c->schema < 2) {
        pf_seterr(err, errlen,
                  "%s: catalog schema version %d declares no source roots; run pfanalyze -c on it "
                  "again to upgrade it",
                  c->path, c->schema);
        return -1;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT path FROM roots ORDER BY path", -1, &st, NULL) !=
        SQLITE_OK) {
        pf_seterr(err, errlen, "%s: cannot read roots: %s", c->path, sqlite3_errmsg(c->db));
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        pf_strv_push(&out->declared, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        pf_seterr(err, errlen, "%s: cannot read roots: %s", c->path, sqlite3_errmsg(c->db));
        pf_roots_free(out);
        return -1;
    }
    /* Each root as it exists here: sources are compared with the file
     * actually opened, whose /proc/self/fd link is a resolved path. */
    for (size_t i = 0; i < out->declared.n; i++) {
        const char *d = out->declared.v[i];
        char *real = realpath(d, NULL);
        if (!real && (errno == ENOENT || errno == ENOTDIR))
            continue; /* gone: no source can be opened under it anyway */
        struct stat st2;
        if (!real || stat(real, &st2) != 0 || !(S_ISDIR(st2.st_mode) || S_ISREG(st2.st_mode))) {
            pf_seterr(err, errlen, "%s: source root %s: %s", c->path, d,
                      real ? "not a folder or file" : strerror(errno));
            free(real);
            pf_roots_free(out);
            return -1;
        }
        pf_strv_push_own(&out->real, real);
    }
    return 0;
}

void pf_roots_free(pf_roots *r) {
    pf_strv_free(&r->declared);
    pf_strv_free(&r->real);
}

static int under_any(const pf_roots *r, const char *p) {
    for (size_t i = 0; i < r->real.n; i++)
        if (pf_path_is_under(p, r->real.v[i]))
            return 1;
    return 0;
}

static const char *kind_of(mode_t m) {
    return S_ISDIR(m)    ? "a folder"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
           : S_ISLNK(m)  ? "a symlink"
                         : "not a regular file";
}

/* The path of the file behind fd, as the kernel resolved it. */
static int fd_path(int fd, char *buf, size_t len) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, buf, len - 1);
    if (k < 0 || (size_t)k >= len - 1)
        return -1;
    buf[k] = 0;
    return 0;
}

static int refuse(int fd, int e, char *err, size_t errlen, const pf_node *n, const char *why) {
    pf_seterr(err, errlen, "%s: source %s: %s", n->path, n->source ? n->source : "(none)", why);
    if (fd >= 0)
        close(fd);
    errno = e;
    return -1;
}

int pf_source_open(const pf_roots *r, const pf_node *n, struct stat *st, char *err, size_t errlen) {
    if (!n->source)
        return refuse(-1, EINVAL, err, errlen, n, "none");
    /* Symlinks are followed: the check below is on the file reached. */
    int fd = open(n->source, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        return refuse(-1,
                      e == ENOENT   ? ENOENT
                      : e == EACCES ? EACCES
                                    : EIO,
                      err, errlen, n, strerror(e));
    }
    if (fstat(fd, st) != 0)
        return refuse(fd, EIO, err, errlen, n, strerror(errno));
    if (!S_ISREG(st->st_mode))
        return refuse(fd, EINVAL, err, errlen, n, kind_of(st->st_mode));
    char real[PATH_MAX] = "";
    if (fd_path(fd, real, sizeof real) != 0 || !under_any(r, real)) {
        char why[PATH_MAX + 64];
        snprintf(why, sizeof why, "%s is outside the catalog's source roots",
                 real[0] == '/' ? real : "the file opened");
        return refuse(fd, EACCES, err, errlen, n, why);
    }
    if ((uint64_t)st->st_size != n->src_size ||
        (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec != n->src_mtime_ns)
        return refuse(fd, EIO, err, errlen, n, "changed since analysis");
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
        return refuse(fd, EIO, err, errlen, n, strerror(errno));
    return fd;
}

int pf_source_readable_by(const struct stat *st, uid_t uid, gid_t gid, const gid_t *groups,
                          int ngroups) {
    if (uid == 0)
        return 1;
    if (st->st_uid == uid)
        return (st->st_mode & S_IRUSR) != 0;
    int member = st->st_gid == gid;
    for (int i = 0; !member && i < ngroups; i++)
        member = groups[i] == st->st_gid;
    if (member)
        return (st->st_mode & S_IRGRP) != 0;
    return (st->st_mode & S_IROTH) != 0;
}
