/* ops.c: pfmount's FUSE low-level operations. Inode numbers are tree ids
 * (the root is id 1 == FUSE_ROOT_ID), so there is no inode table and forget
 * has nothing to do; every request is one indexed catalog lookup on the
 * calling thread's connection. File bytes come only from pf_content, the
 * reader pfexport uses too. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "pfmount.h"
#include "pyfarm/catalog.h"
#include "pyfarm/content.h"
#include "pyfarm/hash.h"
#include "pyfarm/strmap.h"
#include "pyfarm/util.h"

/* Columns of the attribute statements (see pfm_sql in tdb.c). */
enum { A_ID, A_TYPE, A_MODE, A_SIZE, A_MTIME, A_PARENT, A_NAME };

/* Open files and folders are linked here so that handles the kernel never
 * released (the session ended under a busy reader) are freed at exit. */
typedef struct live_link {
    struct live_link *prev, *next;
    int is_dir;
} live_link;
static live_link live = {&live, &live, 0};
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

static void live_add(live_link *l) {
    pthread_mutex_lock(&live_lock);
    l->next = live.next;
    l->prev = &live;
    live.next->prev = l;
    live.next = l;
    pthread_mutex_unlock(&live_lock);
}

static void live_del(live_link *l) {
    pthread_mutex_lock(&live_lock);
    l->prev->next = l->next;
    l->next->prev = l->prev;
    pthread_mutex_unlock(&live_lock);
}

/* An open file: the content reader plus what read needs to notice a source
 * that changes while the file is open. */
typedef struct pfm_file {
    live_link link; /* first member: the list's pointers are the handle's */
    pf_content c;
    int64_t id;
    uint64_t src_size;
    int64_t src_mtime_ns;
    int64_t src_ctime_ns; /* -o verify=hash: the ctime its bytes were hashed at */
    char *path;
    char *source;
} pfm_file;

/* A folder snapshot taken at opendir: readdir offsets are indexes into it,
 * so they stay valid across calls (the catalog does not change anyway). */
typedef struct pfm_dent {
    int64_t id, mtime;
    uint64_t size;
    uint32_t mode;
    char type;
    char *name;
} pfm_dent;

typedef struct pfm_dir {
    live_link link; /* first member */
    int64_t self, parent;
    size_t n;
    pfm_dent *v;
} pfm_dir;

static pthread_once_t tune_once = PTHREAD_ONCE_INIT;

/* The calling thread's catalog connection; the first request after INIT
 * also tunes the mount (see pfm_set_readahead). */
static pfm_db *db(void) {
    pthread_once(&tune_once, pfm_set_readahead);
    return pfm_db_get();
}

static uint32_t subdirs(pfm_db *d, int64_t id) {
    if (pfm.nsub)
        return id >= 0 && id < pfm.nsub_len ? pfm.nsub[id] : 0;
    uint32_t n = 0;
    sqlite3_bind_int64(d->nsub, 1, id);
    if (sqlite3_step(d->nsub) == SQLITE_ROW)
        n = (uint32_t)sqlite3_column_int64(d->nsub, 0);
    sqlite3_reset(d->nsub);
    return n;
}

static int fill_attr(pfm_db *d, int64_t id, char type, uint32_t mode, uint64_t size, int64_t mtime,
                     struct stat *a) {
    memset(a, 0, sizeof *a);
    switch (type) {
    case 'd':
        a->st_mode = S_IFDIR;
        /* like a real folder: ".", its entry in the parent, and each
         * subfolder's ".." */
        a->st_nlink = 2 + subdirs(d, id);
        break;
    case 'f':
        a->st_mode = S_IFREG;
        a->st_nlink = 1;
        break;
    case 'l':
        a->st_mode = S_IFLNK;
        a->st_nlink = 1;
        break;
    default:
        return EIO;
    }
    a->st_mode |= mode & 07777;
    a->st_ino = (ino_t)id;
    a->st_uid = 0;
    a->st_gid = 0;
    a->st_size = (off_t)size;
    a->st_blocks = (blkcnt_t)((size + 511) / 512);
    a->st_atim.tv_sec = a->st_mtim.tv_sec = a->st_ctim.tv_sec = mtime;
    return 0;
}

static int row_attr(pfm_db *d, sqlite3_stmt *st, struct stat *a) {
    const unsigned char *t = sqlite3_column_text(st, A_TYPE);
    return fill_attr(d, sqlite3_column_int64(st, A_ID), t ? (char)t[0] : '?',
                     (uint32_t)sqlite3_column_int(st, A_MODE),
                     (uint64_t)sqlite3_column_int64(st, A_SIZE), sqlite3_column_int64(st, A_MTIME),
                     a);
}

/* SQLITE_ROW -> 0, SQLITE_DONE -> ENOENT, anything else -> EIO, logged
 * (a catalog that fails under us is worth a line every time). */
static int step_err(pfm_db *d, sqlite3_stmt *st, int rc) {
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return ENOENT;
    pfm_log_once(-1, "%s: catalog query failed: %s (%s)", pfm.catalog, sqlite3_errmsg(d->db),
                 sqlite3_sql(st));
    return EIO;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
    pfm_db *d = db();
    if (!d) {
        fuse_reply_err(req, EIO);
        return;
    }
    struct fuse_entry_param e;
    memset(&e, 0, sizeof e);
    e.attr_timeout = pfm.timeout;
    e.entry_timeout = pfm.timeout;
    sqlite3_stmt *st = d->attr_child;
    sqlite3_bind_int64(st, 1, (int64_t)parent);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int err = step_err(d, st, sqlite3_step(st));
    if (!err) {
        err = row_attr(d, st, &e.attr);
        e.ino = e.attr.st_ino;
    }
    sqlite3_reset(st);
    if (err == ENOENT) {
        /* ino 0 with a timeout: the kernel caches the miss, which matters
         * for Python, whose imports probe many names that do not exist. */
        e.ino = 0;
        fuse_reply_entry(req, &e);
    } else if (err) {
        fuse_reply_err(req, err);
    } else {
        fuse_reply_entry(req, &e);
    }
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    (void)fi;
    pfm_db *d = db();
    if (!d) {
        fuse_reply_err(req, EIO);
        return;
    }
    struct stat a;
    sqlite3_stmt *st = d->attr_id;
    sqlite3_bind_int64(st, 1, (int64_t)ino);
    int err = step_err(d, st, sqlite3_step(st));
    if (!err)
        err = row_attr(d, st, &a);
    sqlite3_reset(st);
    if (err)
        fuse_reply_err(req, err);
    else
        fuse_reply_attr(req, &a, pfm.timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino) {
    pfm_db *d = db();
    if (!d) {
        fuse_reply_err(req, EIO);
        return;
    }
    sqlite3_stmt *st = d->target_id;
    sqlite3_bind_int64(st, 1, (int64_t)ino);
    int err = step_err(d, st, sqlite3_step(st));
    if (!err) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        const unsigned char *target = sqlite3_column_text(st, 1);
        if (!t || t[0] != 'l')
            err = EINVAL;
        else if (!target)
            err = EIO;
        else
            fuse_reply_readlink(req, (const char *)target); /* copies target */
    }
    sqlite3_reset(st);
    if (err)
        fuse_reply_err(req, err);
}

static void dir_free(pfm_dir *dir) {
    live_del(&dir->link);
    for (size_t i = 0; i < dir->n; i++)
        free(dir->v[i].name);
    free(dir->v);
    free(dir);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    pfm_db *d = db();
    if (!d) {
        fuse_reply_err(req, EIO);
        return;
    }
    sqlite3_stmt *st = d->attr_id;
    sqlite3_bind_int64(st, 1, (int64_t)ino);
    int err = step_err(d, st, sqlite3_step(st));
    pfm_dir *dir = NULL;
    if (!err) {
        const unsigned char *t = sqlite3_column_text(st, A_TYPE);
        if (!t || t[0] != 'd') {
            err = ENOTDIR;
        } else {
            dir = pf_xcalloc(1, sizeof *dir);
            dir->link.is_dir = 1;
            live_add(&dir->link);
            dir->self = (int64_t)ino;
            dir->parent = sqlite3_column_int64(st, A_PARENT);
            if (dir->parent == 0) /* the root's ".." is itself */
                dir->parent = dir->self;
        }
    }
    sqlite3_reset(st);
    if (err) {
        fuse_reply_err(req, err);
        return;
    }
    st = d->children;
    sqlite3_bind_int64(st, 1, (int64_t)ino);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (dir->n == cap)
            dir->v = pf_xrealloc(dir->v, (cap = cap ? cap * 2 : 16) * sizeof *dir->v);
        pfm_dent *e = &dir->v[dir->n++];
        const unsigned char *t = sqlite3_column_text(st, A_TYPE);
        const unsigned char *name = sqlite3_column_text(st, A_NAME);
        e->id = sqlite3_column_int64(st, A_ID);
        e->type = t ? (char)t[0] : '?';
        e->mode = (uint32_t)sqlite3_column_int(st, A_MODE);
        e->size = (uint64_t)sqlite3_column_int64(st, A_SIZE);
        e->mtime = sqlite3_column_int64(st, A_MTIME);
        e->name = pf_xstrdup(name ? (const char *)name : "");
    }
    err = rc == SQLITE_DONE ? 0 : step_err(d, st, rc);
    sqlite3_reset(st);
    if (err) {
        dir_free(dir);
        fuse_reply_err(req, err);
        return;
    }
    fi->fh = (uintptr_t)dir;
    /* The kernel may keep the listing: it cannot change under us. */
    fi->cache_readdir = 1;
    fi->keep_cache = 1;
    if (fuse_reply_open(req, fi) != 0)
        dir_free(dir); /* interrupted: releasedir will not come */
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi,
                       int plus) {
    pfm_dir *dir = (pfm_dir *)(uintptr_t)fi->fh;
    pfm_db *d = db();
    if (!d) {
        fuse_reply_err(req, EIO);
        return;
    }
    char *buf = malloc(size);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    size_t pos = 0;
    /* Index 0 is ".", 1 is "..", 2 + i is child i; an entry's offset is the
     * index of the next one. */
    for (size_t i = off < 0 ? 0 : (size_t)off; i < dir->n + 2; i++) {
        struct fuse_entry_param e;
        memset(&e, 0, sizeof e);
        const char *name;
        if (i < 2) {
            name = i == 0 ? "." : "..";
            e.attr.st_ino = (ino_t)(i == 0 ? dir->self : dir->parent);
            e.attr.st_mode = S_IFDIR;
        } else {
            pfm_dent *c = &dir->v[i - 2];
            name = c->name;
            if (fill_attr(d, c->id, c->type, c->mode, c->size, c->mtime, &e.attr) != 0)
                continue;
            if (plus) {
                e.ino = e.attr.st_ino; /* "." and "..": 0, no lookup implied */
                e.attr_timeout = pfm.timeout;
                e.entry_timeout = pfm.timeout;
            }
        }
        size_t need =
            plus ? fuse_add_direntry_plus(req, buf + pos, size - pos, name, &e, (off_t)(i + 1))
                 : fuse_add_direntry(req, buf + pos, size - pos, name, &e.attr, (off_t)(i + 1));
        if (need > size - pos)
            break;
        pos += need;
    }
    fuse_reply_buf(req, buf, pos);
    free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi) {
    (void)ino;
    do_readdir(req, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi) {
    (void)ino;
    do_readdir(req, size, off, fi, 1);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    (void)ino;
    dir_free((pfm_dir *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}

static int grow_buf(pfm_db *d, size_t n) {
    if (d->buflen >= n)
        return 0;
    char *p = realloc(d->buf, n);
    if (!p)
        return -1;
    d->buf = p;
    d->buflen = n;
    return 0;
}

/* -o verify=hash: the source ctime at which each file's bytes last hashed
 * to the catalog's sha256 (id -> ctime in ns + 1). Any write, truncate,
 * chmod or utime of the source moves its ctime, which nobody can set back,
 * so "ctime unchanged" means "the bytes hashed are the bytes read". */
static pthread_mutex_t verified_lock = PTHREAD_MUTEX_INITIALIZER;
static pf_strmap verified;

static int64_t ctime_ns(const struct stat *st) {
    return (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

/* Hash the whole output unless it already matched at this source ctime.
 * 0 if it matches the catalog's sha256; *at is the ctime it holds for. */
static int verify_hash(pfm_db *d, const pf_node *n, pf_content *c, int64_t *at) {
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)n->id);
    struct stat st;
    *at = 0;
    if (c->fd >= 0) {
        if (fstat(c->fd, &st) != 0)
            return -1;
        *at = ctime_ns(&st);
    }
    pthread_mutex_lock(&verified_lock);
    int64_t *seen = pf_strmap_get(&verified, key);
    int done = seen && *seen == *at;
    pthread_mutex_unlock(&verified_lock);
    if (done || !n->sha256)
        return 0;
    const size_t chunk = 1 << 20;
    if (grow_buf(d, chunk) != 0)
        return -1;
    pf_sha256 h;
    if (pf_sha256_init(&h, NULL, 0) != 0) {
        pfm_log_once(n->id, "%s: cannot start sha256 (libcrypto)", n->path);
        return -1;
    }
    uint64_t off = 0;
    while (off < n->size) {
        ssize_t r = pf_content_pread(c, d->buf, chunk, off);
        if (r <= 0) {
            pfm_log_once(n->id, "%s: source %s: cannot read for hashing", n->path,
                         n->source ? n->source : "(none)");
            pf_sha256_free(&h);
            return -1;
        }
        if (pf_sha256_update(&h, d->buf, (size_t)r, NULL, 0) != 0) {
            pfm_log_once(n->id, "%s: sha256 failed (libcrypto)", n->path);
            pf_sha256_free(&h);
            return -1;
        }
        off += (uint64_t)r;
    }
    char hex[65];
    if (pf_sha256_final(&h, hex, NULL, 0) != 0) {
        pfm_log_once(n->id, "%s: sha256 failed (libcrypto)", n->path);
        return -1;
    }
    if (strcmp(hex, n->sha256) != 0) {
        pfm_log_once(n->id, "%s: source %s: content differs from the catalog (sha256)", n->path,
                     n->source ? n->source : "(none)");
        return -1;
    }
    /* a write during the hash moved the ctime: then it proves nothing */
    if (c->fd >= 0 && (fstat(c->fd, &st) != 0 || ctime_ns(&st) != *at))
        return -1;
    int64_t *v = pf_xmalloc(sizeof *v);
    *v = *at;
    pthread_mutex_lock(&verified_lock);
    free(pf_strmap_put(&verified, key, v));
    pthread_mutex_unlock(&verified_lock);
    return 0;
}

static void file_free(pfm_file *f) {
    live_del(&f->link);
    pf_content_close(&f->c);
    free(f->path);
    free(f->source);
    free(f);
}

/* A file's source through pf_source_open (regular file, under the roots,
 * as recorded), and for another user than root or the mounter (a mount
 * with allow_other) only if that user may read the source itself: a
 * catalog cannot turn a root mount into a way to read /etc/shadow. 0 and
 * *sfd (or -1 for files without a source), or an errno to reply. */
static int open_source(fuse_req_t req, const pf_node *n, int *sfd) {
    *sfd = -1;
    if (!n->source)
        return 0;
    char msg[PF_ERRLEN];
    struct stat st;
    int fd = pf_source_open(&pfm.roots, n, &st, msg, sizeof msg);
    if (fd < 0) {
        int e = errno == EACCES ? EACCES : EIO;
        pfm_log_once(n->id, "%s", msg);
        return e;
    }
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    if (ctx->uid != 0 && ctx->uid != geteuid()) {
        gid_t groups[256];
        int ng = fuse_req_getgroups(req, 256, groups);
        if (ng < 0)
            ng = 0; /* unknown: only the primary group counts */
        if (ng > 256)
            ng = 256;
        if (!pf_source_readable_by(&st, ctx->uid, ctx->gid, groups, ng)) {
            close(fd);
            return EACCES; /* the user's own lack of access: not a fault to log */
        }
    }
    *sfd = fd;
    return 0;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
        fuse_reply_err(req, EROFS);
        return;
    }
    pfm_check_catalog();
    pfm_db *d = db();
    if (!d) {
        fuse_reply_err(req, EIO);
        return;
    }
    pf_node n;
    memset(&n, 0, sizeof n);
    sqlite3_stmt *st = d->node_id;
    sqlite3_bind_int64(st, 1, (int64_t)ino);
    int err = step_err(d, st, sqlite3_step(st));
    if (!err)
        pf_node_from_row(st, &n);
    sqlite3_reset(st);
    if (!err && n.type != 'f')
        err = n.type == 'd' ? EISDIR : ELOOP;
    if (err) {
        pf_node_free(&n);
        fuse_reply_err(req, err);
        return;
    }
    int sfd = -1;
    err = open_source(req, &n, &sfd);
    if (err) {
        pf_node_free(&n);
        fuse_reply_err(req, err);
        return;
    }
    pfm_file *f = pf_xcalloc(1, sizeof *f);
    char msg[PF_ERRLEN];
    /* the very file pf_source_open checked, never a path again */
    int cr = sfd >= 0 ? pf_content_open_fd(&n, sfd, &f->c, msg, sizeof msg)
                      : pf_content_open(&n, &f->c, msg, sizeof msg);
    if (cr != 0) {
        /* Changed, vanished or unreadable source, or a corrupt patch: EIO,
         * never other bytes; one line per file for the whole mount. */
        pfm_log_once(n.id, "%s", msg);
        pf_node_free(&n);
        free(f); /* not linked yet */
        fuse_reply_err(req, EIO);
        return;
    }
    live_add(&f->link);
    if (pfm.verify_hash && verify_hash(d, &n, &f->c, &f->src_ctime_ns) != 0) {
        pf_node_free(&n);
        file_free(f);
        fuse_reply_err(req, EIO);
        return;
    }
    f->id = n.id;
    f->src_size = n.src_size;
    f->src_mtime_ns = n.src_mtime_ns;
    f->path = n.path;
    f->source = n.source;
    n.path = n.source = NULL;
    pf_node_free(&n);
    fi->fh = (uintptr_t)f;
    /* The catalog pins every file's bytes, so cached pages stay valid across
     * opens; and no direct_io, which would break mmap and exec. */
    fi->keep_cache = 1;
    fi->noflush = 1;
    if (fuse_reply_open(req, fi) != 0)
        file_free(f); /* interrupted: release will not come */
}

/* A source modified in place while open (cp over it, an editor, a package
 * upgrade writing in place) updates its mtime before its bytes, so checking
 * after the pread catches any write that could have touched what we read.
 * A source replaced by rename keeps the old inode for our fd: no harm. */
static const char *source_changed(const pfm_file *f) {
    struct stat st;
    if (f->c.fd < 0)
        return NULL;
    if (fstat(f->c.fd, &st) != 0)
        return "cannot be checked";
    if (pfm.verify_hash && ctime_ns(&st) != f->src_ctime_ns)
        return "changed since it was hashed (ctime)"; /* not the bytes hashed */
    if ((uint64_t)st.st_size != f->src_size ||
        (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec != f->src_mtime_ns)
        return "changed since analysis";
    return NULL;
}

void pfm_ops_cleanup(void) {
    /* each free unlinks its node, so live.next moves on */
    while (live.next != &live) {
        live_link *l = live.next;
        if (l->is_dir) // NOLINT(clang-analyzer-unix.Malloc)
            dir_free((pfm_dir *)l);
        else
            file_free((pfm_file *)l);
    }
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi) {
    (void)ino;
    pfm_file *f = (pfm_file *)(uintptr_t)fi->fh;
    pfm_db *d = db();
    if (!d || grow_buf(d, size) != 0) {
        fuse_reply_err(req, d ? ENOMEM : EIO);
        return;
    }
    ssize_t r = pf_content_pread(&f->c, d->buf, size, (uint64_t)off);
    if (r < 0) {
        int e = errno;
        pfm_log_once(f->id, "%s: source %s: read at %lld: %s", f->path,
                     f->source ? f->source : "(none)", (long long)off, strerror(e));
        fuse_reply_err(req, EIO);
        return;
    }
    const char *changed = source_changed(f);
    if (changed) {
        pfm_log_once(f->id, "%s: source %s %s", f->path, f->source, changed);
        fuse_reply_err(req, EIO);
        return;
    }
    fuse_reply_buf(req, d->buf, (size_t)r);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    (void)ino;
    file_free((pfm_file *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino) {
    (void)ino;
    struct statvfs s;
    memset(&s, 0, sizeof s);
    s.f_bsize = 4096;
    s.f_frsize = 4096;
    s.f_blocks = (fsblkcnt_t)((pfm.total_bytes + 4095) / 4096);
    s.f_files = (fsfilcnt_t)pfm.nodes;
    s.f_namemax = 255;
    s.f_flag = ST_RDONLY;
    fuse_reply_statfs(req, &s);
}

/* Everything that would change the tree: EROFS. The mount is also "ro",
 * so the kernel answers most of these itself; these cover the rest. */
#define ROFS(req) fuse_reply_err(req, EROFS)
static void rofs_setattr(fuse_req_t req, fuse_ino_t i, struct stat *a, int s,
                         struct fuse_file_info *fi) {
    (void)i, (void)a, (void)s, (void)fi;
    ROFS(req);
}
static void rofs_mknod(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m, dev_t r) {
    (void)p, (void)n, (void)m, (void)r;
    ROFS(req);
}
static void rofs_mkdir(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m) {
    (void)p, (void)n, (void)m;
    ROFS(req);
}
static void rofs_unlink(fuse_req_t req, fuse_ino_t p, const char *n) {
    (void)p, (void)n;
    ROFS(req);
}
static void rofs_symlink(fuse_req_t req, const char *l, fuse_ino_t p, const char *n) {
    (void)l, (void)p, (void)n;
    ROFS(req);
}
static void rofs_rename(fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np, const char *nn,
                        unsigned f) {
    (void)p, (void)n, (void)np, (void)nn, (void)f;
    ROFS(req);
}
static void rofs_link(fuse_req_t req, fuse_ino_t i, fuse_ino_t np, const char *nn) {
    (void)i, (void)np, (void)nn;
    ROFS(req);
}
static void rofs_write(fuse_req_t req, fuse_ino_t i, const char *b, size_t s, off_t o,
                       struct fuse_file_info *fi) {
    (void)i, (void)b, (void)s, (void)o, (void)fi;
    ROFS(req);
}
static void rofs_create(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m,
                        struct fuse_file_info *fi) {
    (void)p, (void)n, (void)m, (void)fi;
    ROFS(req);
}
static void rofs_setxattr(fuse_req_t req, fuse_ino_t i, const char *n, const char *v, size_t s,
                          int f) {
    (void)i, (void)n, (void)v, (void)s, (void)f;
    ROFS(req);
}
static void rofs_removexattr(fuse_req_t req, fuse_ino_t i, const char *n) {
    (void)i, (void)n;
    ROFS(req);
}
static void rofs_fallocate(fuse_req_t req, fuse_ino_t i, int m, off_t o, off_t l,
                           struct fuse_file_info *fi) {
    (void)i, (void)m, (void)o, (void)l, (void)fi;
    ROFS(req);
}
static void rofs_copy_file_range(fuse_req_t req, fuse_ino_t a, off_t b, struct fuse_file_info *c,
                                 fuse_ino_t d, off_t e, struct fuse_file_info *f, size_t g, int h) {
    (void)a, (void)b, (void)c, (void)d, (void)e, (void)f, (void)g, (void)h;
    ROFS(req);
}

static void op_init(void *userdata, struct fuse_conn_info *conn) {
    (void)userdata;
    /* Concurrent lookups in one folder (many importers at once), symlink
     * targets and folder listings in the kernel's cache, reads in parallel. */
    unsigned want = FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_ASYNC_READ |
                    FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
    conn->want |= want & conn->capable;
    /* Attributes never change, so the kernel must not drop cached pages on
     * attribute refreshes; nothing is ever written back. Locks stay local
     * to the kernel (no getlk/setlk here). */
    conn->want &= ~(unsigned)(FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_WRITEBACK_CACHE);
    /* Splice would not save a copy: reads are composed in our buffer
     * (patched files), and the kernel copies out of a spliced pipe too. */
    conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE | FUSE_CAP_SPLICE_READ);
    /* conn->max_readahead stays at the kernel's maximum; main raises the
     * bdi readahead window, which caps it. */
    conn->time_gran = 1000000000; /* catalog times are whole seconds */
}

const struct fuse_lowlevel_ops pfm_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .getattr = op_getattr,
    .readlink = op_readlink,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .releasedir = op_releasedir,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .statfs = op_statfs,
    .setattr = rofs_setattr,
    .mknod = rofs_mknod,
    .mkdir = rofs_mkdir,
    .unlink = rofs_unlink,
    .rmdir = rofs_unlink,
    .symlink = rofs_symlink,
    .rename = rofs_rename,
    .link = rofs_link,
    .write = rofs_write,
    .create = rofs_create,
    .setxattr = rofs_setxattr,
    .removexattr = rofs_removexattr,
    .fallocate = rofs_fallocate,
    .copy_file_range = rofs_copy_file_range,
};
