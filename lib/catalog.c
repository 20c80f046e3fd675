/* catalog.c: the catalog's schema and the access functions every tool
 * uses. One SQLite file holds what was traced, the dependency graph and the
 * dist tree; tree lookups go through indexes only (pfmount calls them on
 * every FUSE request). */
#include "pyfarm/catalog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pyfarm/util.h"

/* Version 1. docs/catalog.md documents every table; keep them in step. */
static const char SCHEMA[] =
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

static int check_identity(pf_catalog *c, char *err, size_t errlen) {
    sqlite3_stmt *st = NULL;
    int appid = 0;
    if (sqlite3_prepare_v2(c->db, "PRAGMA application_id", -1, &st, NULL) != SQLITE_OK) {
        pf_seterr(err, errlen, "%s: not a pyfarm catalog (%s)", c->path, sqlite3_errmsg(c->db));
        return -1;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        appid = sqlite3_column_int(st, 0);
    int rc = sqlite3_errcode(c->db);
    sqlite3_finalize(st);
    if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) {
        pf_seterr(err, errlen, "%s: not a pyfarm catalog (not an SQLite database)", c->path);
        return -1;
    }
    if (appid != PF_APPLICATION_ID) {
        pf_seterr(err, errlen, "%s: not a pyfarm catalog (application_id %d)", c->path, appid);
        return -1;
    }
    char *v = pf_catalog_meta_get(c, "schema_version");
    if (!v) {
        pf_seterr(err, errlen, "%s: not a pyfarm catalog (no schema_version)", c->path);
        return -1;
    }
    long ver = strtol(v, NULL, 10);
    free(v);
    if (ver > PF_SCHEMA_VERSION) {
        pf_seterr(err, errlen,
                  "%s: catalog schema version %ld is newer than this pyfarm supports (%d)", c->path,
                  ver, PF_SCHEMA_VERSION);
        return -1;
    }
    if (ver < 1) {
        pf_seterr(err, errlen, "%s: not a pyfarm catalog (schema_version %ld)", c->path, ver);
        return -1;
    }
    return 0;
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
    sqlite3_busy_timeout(c->db, 10000);
    return c;
}

int pf_catalog_open(const char *path, int writable, pf_catalog **out, char *err, size_t errlen) {
    *out = NULL;
    if (access(path, F_OK) != 0) {
        pf_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    pf_catalog *c = open_db(path, flags, err, errlen);
    if (!c)
        return -1;
    if (check_identity(c, err, errlen) != 0) {
        pf_catalog_close(c);
        return -1;
    }
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
    if (pf_catalog_exec(c, q, err, errlen) || pf_catalog_exec(c, SCHEMA, err, errlen)) {
        pf_catalog_close(c);
        return -1;
    }
    char v[16];
    snprintf(v, sizeof v, "%d", PF_SCHEMA_VERSION);
    pf_catalog_meta_set(c, "schema_version", v);
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

int pf_catalog_meta_set(pf_catalog *c, const char *key, const char *value) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
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

int64_t pf_tree_add(pf_catalog *c, const pf_node *n, const char *reason, const char *origin) {
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
