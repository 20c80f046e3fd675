/* catalog_check.c: the one validation of a catalog, run by pf_catalog_open
 * for every tool. A catalog is untrusted input (a colleague's build, a CI
 * artifact, a download): its schema must be exactly ours, and its tree
 * self-consistent, before any tool acts on it. What is checked is listed
 * in catalog.h and docs/catalog.md. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyfarm/catalog.h"
#include "pyfarm/extents.h"
#include "pyfarm/strmap.h"
#include "pyfarm/util.h"

/* Longest path and name accepted (PATH_MAX and NAME_MAX of Linux). */
#define MAX_PATH 4095
#define MAX_NAME 255

static int fail_rc(pf_catalog *c, int rc, char *err, size_t errlen) {
    if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
        pf_seterr(err, errlen, "%s: the catalog file is damaged (%s)", c->path,
                  sqlite3_errmsg(c->db));
    else if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        pf_seterr(err, errlen,
                  "%s: the catalog is locked by another process (still busy after 10 s)", c->path);
    else
        pf_seterr(err, errlen, "%s: cannot read the catalog: %s", c->path, sqlite3_errmsg(c->db));
    return -1;
}

/* No view or trigger anywhere, and every object of our schema present with
 * exactly our definition (columns, types, constraints, indexes). The
 * reference is this build's schema text, run in a private memory db. */
static int check_schema(pf_catalog *c, char *err, size_t errlen) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db,
                                "SELECT type, name FROM sqlite_master WHERE type IN"
                                " ('view', 'trigger') OR sql LIKE 'CREATE VIRTUAL%' LIMIT 1",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail_rc(c, rc, err, errlen);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        pf_seterr(err, errlen, "%s: not a pyfarm catalog (it holds %s %s)", c->path,
                  (const char *)sqlite3_column_text(st, 0),
                  (const char *)sqlite3_column_text(st, 1));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail_rc(c, rc, err, errlen);

    sqlite3 *ref = NULL;
    if (sqlite3_open_v2(":memory:", &ref, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(ref);
        pf_seterr(err, errlen, "%s: cannot check the catalog: out of memory", c->path);
        return -1;
    }
    for (int v = 1; v <= c->schema; v++)
        sqlite3_exec(ref, pf_catalog_schema_sql(v), NULL, NULL, NULL);
    sqlite3_stmt *want = NULL, *got = NULL;
    int r = 0;
    if (sqlite3_prepare_v2(ref, "SELECT type, name, sql FROM sqlite_master ORDER BY name", -1,
                           &want, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "SELECT type, sql FROM sqlite_master WHERE name=?", -1, &got,
                           NULL) != SQLITE_OK) {
        r = fail_rc(c, sqlite3_errcode(c->db), err, errlen);
    }
    while (!r && sqlite3_step(want) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(want, 0);
        const char *name = (const char *)sqlite3_column_text(want, 1);
        const char *sql = (const char *)sqlite3_column_text(want, 2);
        sqlite3_bind_text(got, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(got);
        if (rc == SQLITE_ROW) {
            const char *t2 = (const char *)sqlite3_column_text(got, 0);
            const char *s2 = (const char *)sqlite3_column_text(got, 1);
            if (!t2 || strcmp(type, t2) != 0 || (sql == NULL) != (s2 == NULL) ||
                (sql && strcmp(sql, s2) != 0)) {
                pf_seterr(err, errlen,
                          "%s: not a pyfarm catalog (%s %s differs from schema version %d)",
                          c->path, type, name, c->schema);
                r = -1;
            }
        } else if (rc == SQLITE_DONE) {
            pf_seterr(err, errlen, "%s: not a pyfarm catalog (no %s %s)", c->path, type, name);
            r = -1;
        } else {
            r = fail_rc(c, rc, err, errlen);
        }
        sqlite3_reset(got);
    }
    sqlite3_finalize(want);
    sqlite3_finalize(got);
    sqlite3_close(ref);
    return r;
}

/* A text column without embedded NUL (C sees the whole value). */
static const char *text_col(sqlite3_stmt *st, int i) {
    if (sqlite3_column_type(st, i) != SQLITE_TEXT)
        return NULL;
    const char *s = (const char *)sqlite3_column_text(st, i);
    if (!s || (size_t)sqlite3_column_bytes(st, i) != strlen(s))
        return NULL;
    return s;
}

/* An absolute path without empty, "." or ".." components or trailing "/". */
static int abs_normalized(const char *p) {
    if (!p || p[0] != '/' || strlen(p) > MAX_PATH)
        return 0;
    if (p[1] == 0)
        return 1;
    for (const char *s = p; *s;) {
        s++; /* past "/" */
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return 0;
        s += n;
    }
    return 1;
}

static int valid_name(const char *name) {
    size_t n = strlen(name);
    return n > 0 && n <= MAX_NAME && !strchr(name, '/') && strcmp(name, ".") != 0 &&
           strcmp(name, "..") != 0;
}

static int hex64(const char *s) {
    if (strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

/* Columns of the tree scan (see check_tree). */
enum {
    T_ID,
    T_PARENT,
    T_PATH,
    T_NAME,
    T_TYPE,
    T_MODE,
    T_SIZE,
    T_MTIME,
    T_SOURCE,
    T_SRC_SIZE,
    T_SRC_MTIME,
    T_TARGET,
    T_SHA,
    T_PATCH,
    T_PTYPE,
    T_PPATH
};

/* Folders, the root and the place of every entry in its parent. */
static const char *check_place(sqlite3_stmt *st, int64_t id, const char *path, const char *name) {
    if (id == 1) {
        const char *t = text_col(st, T_TYPE);
        if (sqlite3_column_int64(st, T_PARENT) != 0 || *path || *name || !t || strcmp(t, "d"))
            return "the root (id 1) must be a folder with parent 0 and an empty path";
        return NULL;
    }
    if (id < 1)
        return "ids start at 1";
    if (!valid_name(name))
        return "invalid name (empty, \".\", \"..\", a \"/\" or longer than 255 bytes)";
    const char *ptype = text_col(st, T_PTYPE);
    const char *ppath = text_col(st, T_PPATH);
    if (!ptype || !ppath)
        return "its parent is not in the tree";
    if (strcmp(ptype, "d") != 0)
        return "its parent is not a folder (an entry under a symlink or a file)";
    size_t pl = strlen(ppath), nl = strlen(name);
    int ok = pl == 0 ? strcmp(path, name) == 0
                     : strlen(path) == pl + 1 + nl && strncmp(path, ppath, pl) == 0 &&
                           path[pl] == '/' && strcmp(path + pl + 1, name) == 0;
    if (!ok)
        return "path is not its parent's path and its name (not normalized)";
    if (strlen(path) > MAX_PATH)
        return "path longer than 4095 bytes";
    return NULL;
}

static int is_int(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_INTEGER;
}

static const char *check_file(sqlite3_stmt *st, const char *source, char *why, size_t whylen) {
    int64_t size = sqlite3_column_int64(st, T_SIZE);
    int has_patch = sqlite3_column_type(st, T_PATCH) == SQLITE_BLOB;
    if (sqlite3_column_type(st, T_PATCH) != SQLITE_NULL && !has_patch)
        return "patch is not a blob";
    if (source && (!is_int(st, T_SRC_SIZE) || !is_int(st, T_SRC_MTIME) ||
                   sqlite3_column_int64(st, T_SRC_SIZE) < 0))
        return "a source without its size and mtime";
    if (!has_patch) {
        if (!source)
            return "a file with neither source nor patch";
        if (sqlite3_column_int64(st, T_SRC_SIZE) != size)
            return "size differs from the source's size";
        return NULL;
    }
    pf_patch p;
    char perr[256];
    const void *blob = sqlite3_column_blob(st, T_PATCH);
    if (pf_patch_decode(blob, (size_t)sqlite3_column_bytes(st, T_PATCH), &p, perr, sizeof perr)) {
        snprintf(why, whylen, "patch: %s", perr);
        return why;
    }
    const char *bad = NULL;
    if (p.size != (uint64_t)size)
        bad = "size differs from the patch's output size";
    uint64_t src_size = source ? (uint64_t)sqlite3_column_int64(st, T_SRC_SIZE) : 0;
    for (size_t i = 0; i < p.n && !bad; i++) {
        const pf_extent *e = &p.v[i];
        if (e->kind != PF_EXT_COPY)
            continue;
        if (!source)
            bad = "the patch copies from a source the file does not have";
        else if (e->src_off > src_size || e->len > src_size - e->src_off)
            bad = "the patch copies past the end of the source";
    }
    pf_patch_free(&p);
    return bad;
}

/* One row: column types, then what its type requires. */
static const char *check_row(sqlite3_stmt *st, char *why, size_t whylen) {
    if (!is_int(st, T_ID) || !is_int(st, T_PARENT) || !is_int(st, T_MODE) || !is_int(st, T_SIZE) ||
        !is_int(st, T_MTIME))
        return "id, parent, mode, size and mtime must be integers";
    const char *path = text_col(st, T_PATH), *name = text_col(st, T_NAME);
    const char *type = text_col(st, T_TYPE);
    if (!path || !name || !type)
        return "path, name and type must be text without NUL";
    const char *bad = check_place(st, sqlite3_column_int64(st, T_ID), path, name);
    if (bad)
        return bad;
    int64_t mode = sqlite3_column_int64(st, T_MODE);
    if (mode < 0 || mode > 07777)
        return "mode outside 07777";
    if (sqlite3_column_int64(st, T_SIZE) < 0)
        return "negative size";
    int tnull = sqlite3_column_type(st, T_TARGET) == SQLITE_NULL;
    int snull = sqlite3_column_type(st, T_SOURCE) == SQLITE_NULL;
    const char *source = snull ? NULL : text_col(st, T_SOURCE);
    if (!snull && !abs_normalized(source))
        return "source is not an absolute normalized path";
    if (sqlite3_column_type(st, T_SHA) != SQLITE_NULL &&
        (!text_col(st, T_SHA) || !hex64(text_col(st, T_SHA))))
        return "sha256 is not 64 lowercase hex digits";
    if (strcmp(type, "d") == 0) {
        if (!snull || !tnull || sqlite3_column_type(st, T_PATCH) != SQLITE_NULL)
            return "a folder with a source, target or patch";
        return NULL;
    }
    if (strcmp(type, "l") == 0) {
        const char *t = tnull ? NULL : text_col(st, T_TARGET);
        if (!t || !*t || strlen(t) > MAX_PATH)
            return "a symlink without a valid target";
        if (!snull || sqlite3_column_type(st, T_PATCH) != SQLITE_NULL)
            return "a symlink with a source or patch";
        if ((uint64_t)sqlite3_column_int64(st, T_SIZE) != strlen(t))
            return "a symlink whose size is not its target's length";
        return NULL;
    }
    if (strcmp(type, "f") == 0) {
        if (!tnull)
            return "a file with a symlink target";
        return check_file(st, source, why, whylen);
    }
    return "unknown type (expected d, f or l)";
}

/* Roots: absolute, normalized, and none that would open the system up. */
const char *pf_root_refused(const char *r) {
    static const char *const exact[] = {"/", "/etc", "/root", "/home", "/var", "/tmp", NULL};
    static const char *const below[] = {"/proc", "/sys", "/dev", "/run", "/boot", NULL};
    if (!abs_normalized(r))
        return "not an absolute normalized path";
    for (int i = 0; exact[i]; i++)
        if (strcmp(r, exact[i]) == 0)
            return "a system folder cannot be a source root";
    for (int i = 0; below[i]; i++)
        if (pf_path_is_under(r, below[i]))
            return "a system folder cannot be a source root";
    /* /etc holds secrets (shadow, ssh host keys, sudoers, TLS private
     * keys); a dist only takes what the analysis knows from there: TLS
     * certificates and configuration, fonts, Debian's python3.X folder */
    static const char *const etc_ok[] = {
        "/etc/ssl", "/etc/pki", "/etc/fonts", "/etc/ca-certificates", "/etc/python3*", NULL};
    int etc_allowed = !pf_path_is_under(r, "/etc");
    for (int i = 0; etc_ok[i] && !etc_allowed; i++) {
        char top[64];
        const char *e = strchr(r + 5, '/');
        size_t n = e ? (size_t)(e - r) : strlen(r);
        snprintf(top, sizeof top, "%.*s", (int)(n < sizeof top ? n : sizeof top - 1), r);
        etc_allowed = fnmatch(etc_ok[i], top, 0) == 0;
    }
    if (!etc_allowed || pf_path_is_under(r, "/etc/ssl/private") ||
        pf_path_is_under(r, "/etc/pki/tls/private"))
        return "under /etc only ssl (not private), pki, fonts, ca-certificates and python3.X may "
               "hold sources";
    if (strstr(r, "/.ssh") || strstr(r, "/.gnupg"))
        return "a folder of keys cannot be a source root";
    return NULL;
}

static int load_roots(pf_catalog *c, pf_strmap *roots, char *err, size_t errlen) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db, "SELECT path, kind FROM roots", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail_rc(c, rc, err, errlen);
    int r = 0;
    while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *p = text_col(st, 0);
        const char *bad = !p || !text_col(st, 1) ? "not text" : pf_root_refused(p);
        if (bad) {
            pf_seterr(err, errlen, "%s: source root %s: %s", c->path, p ? p : "(blob)", bad);
            r = -1;
        } else {
            pf_strmap_put(roots, p, (void *)1);
        }
    }
    if (!r && rc != SQLITE_DONE)
        r = fail_rc(c, rc, err, errlen);
    sqlite3_finalize(st);
    return r;
}

static int under_root(const pf_strmap *roots, const char *source) {
    char *p = pf_xstrdup(source);
    int found = pf_strmap_get(roots, p) != NULL; /* a root that is the file itself */
    for (char *slash; !found && (slash = strrchr(p, '/')) != NULL && slash != p;) {
        *slash = 0;
        found = pf_strmap_get(roots, p) != NULL;
    }
    free(p);
    return found;
}

/* The root first: without it nothing else in the tree means anything. */
static int check_root(pf_catalog *c, char *err, size_t errlen) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db, "SELECT 1 FROM tree WHERE id = 1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail_rc(c, rc, err, errlen);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        pf_seterr(err, errlen, "%s: catalog has no dist tree (no root folder with id 1)", c->path);
        return -1;
    }
    return rc == SQLITE_ROW ? 0 : fail_rc(c, rc, err, errlen);
}

static int check_tree(pf_catalog *c, const pf_strmap *roots, char *err, size_t errlen) {
    if (check_root(c, err, errlen) != 0)
        return -1;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        c->db,
        "SELECT t.id, t.parent, t.path, t.name, t.type, t.mode, t.size, t.mtime, t.source,"
        " t.src_size, t.src_mtime_ns, t.target, t.sha256, t.patch, p.type, p.path"
        " FROM tree t LEFT JOIN tree p ON p.id = t.parent AND t.id != 1",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail_rc(c, rc, err, errlen);
    int r = 0;
    char why[512];
    while (!r && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *bad = check_row(st, why, sizeof why);
        const char *source = text_col(st, T_SOURCE);
        if (!bad && roots && source && !under_root(roots, source))
            bad = "source is not under any of the catalog's roots";
        if (bad) {
            const char *path = text_col(st, T_PATH);
            pf_seterr(err, errlen, "%s: tree entry %lld (%s): %s", c->path,
                      (long long)sqlite3_column_int64(st, T_ID), path ? path : "?", bad);
            r = -1;
        }
    }
    if (!r && rc != SQLITE_DONE)
        r = fail_rc(c, rc, err, errlen);
    sqlite3_finalize(st);
    return r;
}

int pf_catalog_validate(pf_catalog *c, char *err, size_t errlen) {
    if (check_schema(c, err, errlen) != 0)
        return -1;
    pf_strmap roots = {0};
    int r = 0;
    if (c->schema >= 2)
        r = load_roots(c, &roots, err, errlen);
    if (!r)
        r = check_tree(c, c->schema >= 2 ? &roots : NULL, err, errlen);
    pf_strmap_free(&roots);
    return r;
}
