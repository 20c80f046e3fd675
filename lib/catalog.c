/* catalog.c: the catalog's schema and the access functions every tool
 * uses. One SQLite file holds what was traced, the dependency graph and the
 * dist tree; tree lookups go through indexes only (pfmount calls them on
 * every FUSE request). */
#include "pyfarm/catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyfarm/util.h"

/* Version 2. docs/catalog.md documents every table; keep them in step.
 * pf_catalog_validate compares a catalog's definitions with these, so any
 * change here is a schema version bump. */
static const char SCHEMA_V1[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    /* traced facts */
    "CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, argv TEXT NOT NULL, cwd TEXT NOT NULL,"
    " started TEXT NOT NULL, status INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS envs(id INTEGER PRIMARY KEY, prefix TEXT NOT NULL UNIQUE,"
    " executable TEXT, base_executable TEXT, version TEXT, abiflags TEXT, base_prefix TEXT,"
    " exec_prefix TEXT, base_exec_prefix TEXT, platlibdir TEXT, stdlib TEXT, platstdlib TEXT,"
    " cache_tag TEXT, soabi TEXT, multiarch TEXT, gil_disabled INTEGER);\n"
    "CREATE TABLE IF NOT EXISTS processes(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL"
    " REFERENCES runs(id), pid INTEGER, ppid INTEGER, env_id INTEGER REFERENCES envs(id),"
    " exe TEXT, cwd TEXT, entry_kind TEXT, entry TEXT, argv TEXT, python INTEGER NOT NULL,"
    " complete INTEGER NOT NULL DEFAULT 0, record TEXT);\n"
    "CREATE TABLE IF NOT EXISTS facts(process_id INTEGER NOT NULL REFERENCES processes(id),"
    " kind TEXT NOT NULL, a TEXT, b TEXT, c TEXT, d TEXT);\n"
    "CREATE INDEX IF NOT EXISTS facts_kind ON facts(kind, a);\n"
    /* the graph: one edge per (binary in the dist, DT_NEEDED name) */
    "CREATE TABLE IF NOT EXISTS deps(from_path TEXT NOT NULL, name TEXT NOT NULL,"
    " to_path TEXT, to_source TEXT, kind TEXT NOT NULL, PRIMARY KEY(from_path, name));\n"
    /* the tree */
    "CREATE TABLE IF NOT EXISTS tree(id INTEGER PRIMARY KEY, parent INTEGER NOT NULL,"
    " path TEXT NOT NULL UNIQUE, name TEXT NOT NULL, type TEXT NOT NULL, mode INTEGER NOT NULL,"
    " size INTEGER NOT NULL, mtime INTEGER NOT NULL, source TEXT, src_size INTEGER,"
    " src_mtime_ns INTEGER, target TEXT, sha256 TEXT, patch BLOB, reason TEXT, origin TEXT);\n"
    "CREATE UNIQUE INDEX IF NOT EXISTS tree_child ON tree(parent, name);\n"
    "CREATE TABLE IF NOT EXISTS warnings(id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
    " path TEXT, message TEXT NOT NULL);\n";
/* Version 2: the folders sources may come from. */
static const char SCHEMA_V2[] =
    "CREATE TABLE IF NOT EXISTS roots(path TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL);\n";

const char *pf_catalog_schema_sql(int version) {
    return version == 1 ? SCHEMA_V1 : version == 2 ? SCHEMA_V2 : NULL;
}

/* The real cause of a failed step, in words a user can act on. */
static const char *why(sqlite3 *db, int rc) {
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return "the catalog is locked by another process (still busy after 10 s)";
    case SQLITE_CORRUPT:
        return "the catalog file is damaged (database disk image is malformed)";
    case SQLITE_NOTADB:
        return "not a pyfarm catalog (not an SQLite database)";
    case SQLITE_IOERR:
        return "cannot read the catalog (I/O error)";
    default:
        return sqlite3_errmsg(db);
    }
}

static int check_identity(pf_catalog *c, char *err, size_t errlen) {
    sqlite3_stmt *st = NULL;
    int appid = 0;
    int rc = sqlite3_prepare_v2(c->db, "PRAGMA application_id", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            appid = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        pf_seterr(err, errlen, "%s: %s", c->path, why(c->db, rc));
        return -1;
    }
    if (appid != PF_APPLICATION_ID) {
        pf_seterr(err, errlen, "%s: not a pyfarm catalog (application_id %d)", c->path, appid);
        return -1;
    }
    /* meta must be a real table before anything is read from it */
    rc = sqlite3_prepare_v2(
        c->db, "SELECT sql FROM sqlite_master WHERE name='meta' AND type='table'", -1, &st, NULL);
    int found = rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!found) {
        pf_seterr(err, errlen, "%s: %s", c->path,
                  rc == SQLITE_DONE || rc == SQLITE_OK ? "not a pyfarm catalog (no meta table)"
                                                       : why(c->db, rc));
        return -1;
    }
    char *v = pf_catalog_meta_get(c, "schema_version");
    if (!v) {
        rc = sqlite3_errcode(c->db);
        pf_seterr(err, errlen, "%s: %s", c->path,
                  rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW
                      ? "not a pyfarm catalog (no schema_version)"
                      : why(c->db, rc));
        return -1;
    }
    char *end = NULL;
    long ver = strtol(v, &end, 10);
    int junk = end == v || *end;
    free(v);
    if (!junk && ver > PF_SCHEMA_VERSION) {
        pf_seterr(err, errlen,
                  "%s: catalog schema version %ld is newer than this pyfarm supports (%d)", c->path,
                  ver, PF_SCHEMA_VERSION);
        return -1;
    }
    if (junk || ver < 1) {
        pf_seterr(err, errlen, "%s: not a pyfarm catalog (schema_version %ld)", c->path, ver);
        return -1;
    }
    c->schema = (int)ver;
    return 0;
}

/* Every connection to a catalog: no views, no triggers, no schema code
 * (a recursive VIEW named tree must be an error, never a hang), defensive
 * mode, bounded lengths. */
static void harden(sqlite3 *db) {
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, (int *)NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, (int *)NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 100);
    sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 8);
}

/* A VFS that is unix but takes file names as given: SQLite otherwise
 * resolves symlinks in the name, and /proc/self/fd/N would become the
 * catalog's path again (which may name a newer file by now). */
static sqlite3_vfs fd_vfs;
static int fd_vfs_ok;
/* SQLite's unix VFS opens database files with O_NOFOLLOW, and a
 * /proc/self/fd/N name is a (magic) symlink: let exactly those through. */
typedef int (*open_fn)(const char *, int, int);
static open_fn real_open;
static int open_fd_names(const char *name, int flags, int mode) {
    if (strncmp(name, "/proc/self/fd/", 14) == 0)
        flags &= ~O_NOFOLLOW;
    return real_open(name, flags, mode);
}
static int fd_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out) {
    (void)v;
    size_t len = strlen(name);
    if (n < 0 || len + 1 > (size_t)n)
        return SQLITE_CANTOPEN;
    memcpy(out, name, len + 1);
    return SQLITE_OK;
}
static void fd_vfs_init(void) {
    sqlite3_vfs *unix_vfs = sqlite3_vfs_find("unix");
    if (!unix_vfs)
        return;
    real_open = (open_fn)unix_vfs->xGetSystemCall(unix_vfs, "open");
    if (!real_open ||
        unix_vfs->xSetSystemCall(unix_vfs, "open", (sqlite3_syscall_ptr)open_fd_names) != SQLITE_OK)
        return;
    fd_vfs = *unix_vfs;
    fd_vfs.pNext = NULL;
    fd_vfs.zName = "pyfarm-fd";
    fd_vfs.xFullPathname = fd_full_pathname;
    fd_vfs_ok = sqlite3_vfs_register(&fd_vfs, 0) == SQLITE_OK;
}
static pthread_once_t fd_vfs_once = PTHREAD_ONCE_INIT;

int pf_catalog_connect_fd(int fd, int immutable, sqlite3 **db) {
    *db = NULL;
    pthread_once(&fd_vfs_once, fd_vfs_init);
    if (!fd_vfs_ok)
        return SQLITE_ERROR;
    char uri[64];
    snprintf(uri, sizeof uri, "file:/proc/self/fd/%d?%s", fd,
             immutable ? "immutable=1" : "mode=ro");
    int rc = sqlite3_open_v2(uri, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                             "pyfarm-fd");
    if (rc == SQLITE_OK) {
        harden(*db);
        sqlite3_busy_timeout(*db, 10000);
    }
    return rc;
}

int pf_catalog_open_file(const char *path, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        pf_seterr(err, errlen, "%s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        pf_seterr(err, errlen, "%s: %s", path, strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        pf_seterr(err, errlen, "%s: not a pyfarm catalog (%s)", path,
                  S_ISDIR(st.st_mode)    ? "a folder"
                  : S_ISFIFO(st.st_mode) ? "a FIFO"
                                         : "not a regular file");
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

static pf_catalog *open_db(const char *path, int flags, char *err, size_t errlen) {
    pf_catalog *c = pf_xcalloc(1, sizeof *c);
    c->path = pf_xstrdup(path);
    c->writable = (flags & SQLITE_OPEN_READWRITE) != 0;
    /* FULLMUTEX: pfmount shares one connection between FUSE threads only
     * through its own pool; serialized mode keeps misuse safe anyway. */
    if (sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        pf_seterr(err, errlen, "%s: cannot open catalog: %s", path,
                  c->db ? sqlite3_errmsg(c->db) : strerror(errno));
        pf_catalog_close(c);
        return NULL;
    }
    harden(c->db);
    sqlite3_busy_timeout(c->db, 10000);
    return c;
}

static int migrate(pf_catalog *c, char *err, size_t errlen);

/* identity, then the one validation; closes c on failure */
static int admit(pf_catalog *c, char *err, size_t errlen) {
    if (check_identity(c, err, errlen) != 0 || pf_catalog_validate(c, err, errlen) != 0) {
        pf_catalog_close(c);
        return -1;
    }
    return 0;
}

int pf_catalog_open(const char *path, int writable, pf_catalog **out, char *err, size_t errlen) {
    *out = NULL;
    /* a folder, FIFO or device is refused before SQLite sees it (a FIFO
     * would block the open, a folder reads as "disk I/O error") */
    int fd = pf_catalog_open_file(path, err, errlen);
    if (fd < 0)
        return -1;
    close(fd);
    int flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    pf_catalog *c = open_db(path, flags, err, errlen);
    if (!c || admit(c, err, errlen) != 0)
        return -1;
    if (writable && c->schema < PF_SCHEMA_VERSION && migrate(c, err, errlen) != 0) {
        pf_catalog_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

int pf_catalog_open_fd(int fd, const char *name, pf_catalog **out, char *err, size_t errlen) {
    *out = NULL;
    pf_catalog *c = pf_xcalloc(1, sizeof *c);
    c->path = pf_xstrdup(name);
    /* with locks: a catalog held by a writer is reported as such */
    int rc = pf_catalog_connect_fd(fd, 0, &c->db);
    if (rc != SQLITE_OK) {
        pf_seterr(err, errlen, "%s: cannot open catalog: %s", name,
                  c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        pf_catalog_close(c);
        return -1;
    }
    if (admit(c, err, errlen) != 0)
        return -1;
    *out = c;
    return 0;
}

int pf_catalog_create(const char *path, pf_catalog **out, char *err, size_t errlen) {
    *out = NULL;
    int exists = access(path, F_OK) == 0;
    if (exists)
        return pf_catalog_open(path, 1, out, err, errlen);
    pf_catalog *c = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, errlen);
    if (!c)
        return -1;
    char q[64];
    snprintf(q, sizeof q, "PRAGMA application_id=%d", PF_APPLICATION_ID);
    if (pf_catalog_exec(c, q, err, errlen) || pf_catalog_exec(c, SCHEMA_V1, err, errlen) ||
        pf_catalog_exec(c, SCHEMA_V2, err, errlen)) {
        pf_catalog_close(c);
        return -1;
    }
    char v[16];
    snprintf(v, sizeof v, "%d", PF_SCHEMA_VERSION);
    pf_catalog_meta_set(c, "schema_version", v);
    c->schema = PF_SCHEMA_VERSION;
    *out = c;
    return 0;
}

void pf_catalog_close(pf_catalog *c) {
    if (!c)
        return;
    if (c->db)
        sqlite3_close(c->db);
    free(c->path);
    free(c);
}

int pf_catalog_exec(pf_catalog *c, const char *sql, char *err, size_t errlen) {
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        pf_seterr(err, errlen, "%s: %s", c->path, msg ? msg : "sqlite error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

char *pf_catalog_meta_get(pf_catalog *c, const char *key) {
    sqlite3_stmt *st = NULL;
    char *v = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT value FROM meta WHERE key=?", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = pf_xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

/* One statement with two text parameters, run once: 0 when it completed. */
static int exec_text2(pf_catalog *c, const char *sql, const char *a, const char *b) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int pf_catalog_meta_set(pf_catalog *c, const char *key, const char *value) {
    return exec_text2(c, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", key, value);
}

void pf_node_free(pf_node *n) {
    free(n->path);
    free(n->name);
    free(n->source);
    free(n->target);
    free(n->sha256);
    free(n->patch);
    memset(n, 0, sizeof *n);
}

#define NODE_COLS PF_NODE_COLS

static char *col_str(sqlite3_stmt *st, int i) {
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? pf_xstrdup((const char *)s) : NULL;
}

void pf_node_from_row(sqlite3_stmt *st, pf_node *n) {
    memset(n, 0, sizeof *n);
    n->id = sqlite3_column_int64(st, 0);
    n->parent = sqlite3_column_int64(st, 1);
    n->path = col_str(st, 2);
    n->name = col_str(st, 3);
    const unsigned char *t = sqlite3_column_text(st, 4);
    n->type = t ? (char)t[0] : '?';
    n->mode = (uint32_t)sqlite3_column_int(st, 5);
    n->size = (uint64_t)sqlite3_column_int64(st, 6);
    n->mtime = sqlite3_column_int64(st, 7);
    n->source = col_str(st, 8);
    n->src_size = (uint64_t)sqlite3_column_int64(st, 9);
    n->src_mtime_ns = sqlite3_column_int64(st, 10);
    n->target = col_str(st, 11);
    n->sha256 = col_str(st, 12);
    int plen = sqlite3_column_bytes(st, 13);
    const void *p = sqlite3_column_blob(st, 13);
    if (p && plen > 0) {
        n->patch = pf_xmalloc((size_t)plen);
        memcpy(n->patch, p, (size_t)plen);
        n->patch_len = (size_t)plen;
    }
}

/* Each lookup prepares its statement with sqlite3_prepare_v3 PERSISTENT and
 * caches nothing across connections; callers that need speed keep one
 * connection per thread (pfmount does). */
static int get_one(pf_catalog *c, const char *sql, int64_t id, const char *text, pf_node *out) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int k = 1;
    if (id >= 0 || !text)
        sqlite3_bind_int64(st, k++, id);
    if (text)
        sqlite3_bind_text(st, k, text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) {
        pf_node_from_row(st, out);
        r = 1;
    } else {
        r = rc == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_finalize(st);
    return r;
}

int pf_tree_get_path(pf_catalog *c, const char *path, pf_node *out) {
    return get_one(c, "SELECT " NODE_COLS " FROM tree WHERE path=?", -1, path, out);
}

int pf_tree_get_id(pf_catalog *c, int64_t id, pf_node *out) {
    return get_one(c, "SELECT " NODE_COLS " FROM tree WHERE id=?", id, NULL, out);
}

int pf_tree_lookup(pf_catalog *c, int64_t parent, const char *name, pf_node *out) {
    return get_one(c, "SELECT " NODE_COLS " FROM tree WHERE parent=? AND name=?", parent, name,
                   out);
}

int pf_tree_each(pf_catalog *c, int64_t parent, pf_tree_cb cb, void *ctx) {
    sqlite3_stmt *st = NULL;
    const char *sql = parent < 0 ? "SELECT " NODE_COLS " FROM tree ORDER BY path"
                                 : "SELECT " NODE_COLS " FROM tree WHERE parent=? ORDER BY name";
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (parent >= 0)
        sqlite3_bind_int64(st, 1, parent);
    int r = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        pf_node n;
        pf_node_from_row(st, &n);
        r = cb(ctx, &n);
        pf_node_free(&n);
        if (r)
            break;
    }
    if (!r && rc != SQLITE_DONE)
        r = -1;
    sqlite3_finalize(st);
    return r;
}

/* 1 if a declared root covers path (path itself or an ancestor folder). */
static int root_covers(pf_catalog *c, const char *path) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM roots WHERE path=?", -1, &st, NULL) != SQLITE_OK)
        return 0;
    char *p = pf_xstrdup(path);
    int found = 0;
    for (;;) {
        sqlite3_bind_text(st, 1, p, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
        char *slash = strrchr(p, '/');
        if (found || !slash || slash == p)
            break;
        *slash = 0;
    }
    free(p);
    sqlite3_finalize(st);
    return found;
}

int pf_root_add(pf_catalog *c, const char *path, const char *kind) {
    return exec_text2(c, "INSERT OR IGNORE INTO roots(path, kind) VALUES(?, ?)", path, kind);
}

/* The folder of a source, declared unless a root covers it already. */
static int declare_source_root(pf_catalog *c, const char *source) {
    if (!source || source[0] != '/' || root_covers(c, source))
        return 0;
    char *dir = pf_path_dirname(source);
    int r = pf_root_refused(dir) ? pf_root_add(c, source, "file") : pf_root_add(c, dir, "folder");
    free(dir);
    return r;
}

/* Version 1 -> 2: the roots table, with the folder of every source the
 * tree already has (pfanalyze rebuilds the tree right after anyway). */
static int migrate(pf_catalog *c, char *err, size_t errlen) {
    if (pf_catalog_exec(c, SCHEMA_V2, err, errlen) != 0)
        return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT source FROM tree WHERE source IS NOT NULL", -1, &st,
                           NULL) != SQLITE_OK) {
        pf_seterr(err, errlen, "%s: cannot migrate: %s", c->path, sqlite3_errmsg(c->db));
        return -1;
    }
    pf_strv sources = {0};
    while (sqlite3_step(st) == SQLITE_ROW)
        pf_strv_push(&sources, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    int r = 0;
    for (size_t i = 0; i < sources.n && !r; i++)
        r = declare_source_root(c, sources.v[i]);
    pf_strv_free(&sources);
    char v[16];
    snprintf(v, sizeof v, "%d", PF_SCHEMA_VERSION);
    if (r || pf_catalog_meta_set(c, "schema_version", v) != 0) {
        pf_seterr(err, errlen, "%s: cannot migrate to schema %d: %s", c->path, PF_SCHEMA_VERSION,
                  sqlite3_errmsg(c->db));
        return -1;
    }
    c->schema = PF_SCHEMA_VERSION;
    return 0;
}

int64_t pf_tree_add(pf_catalog *c, const pf_node *n, const char *reason, const char *origin) {
    /* a new tree (its root): the folders declared for the previous one go */
    if (n->parent == 0 && c->schema >= 2 &&
        pf_catalog_exec(c, "DELETE FROM roots WHERE kind IN ('folder', 'file')", NULL, 0) != 0)
        return -1;
    if (n->type == 'f' && declare_source_root(c, n->source) != 0)
        return -1;
    sqlite3_stmt *st = NULL;
    const char *sql = "INSERT INTO tree(id, parent, path, name, type, mode, size, mtime, source,"
                      " src_size, src_mtime_ns, target, sha256, patch, reason, origin)"
                      " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (n->id > 0)
        sqlite3_bind_int64(st, 1, n->id);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int64(st, 2, n->parent);
    sqlite3_bind_text(st, 3, n->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, n->name, -1, SQLITE_STATIC);
    char t[2] = {n->type, 0};
    sqlite3_bind_text(st, 5, t, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 6, (int)n->mode);
    sqlite3_bind_int64(st, 7, (int64_t)n->size);
    sqlite3_bind_int64(st, 8, n->mtime);
    sqlite3_bind_text(st, 9, n->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, (int64_t)n->src_size);
    sqlite3_bind_int64(st, 11, n->src_mtime_ns);
    sqlite3_bind_text(st, 12, n->target, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, n->sha256, -1, SQLITE_STATIC);
    if (n->patch)
        sqlite3_bind_blob(st, 14, n->patch, (int)n->patch_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 14);
    sqlite3_bind_text(st, 15, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 16, origin, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return -1;
    return sqlite3_last_insert_rowid(c->db);
}
