/* catalog.h: the SQLite catalog, the one contract between pfanalyze (which
 * writes it) and pfmount/pfexport (which read it). The schema lives in
 * lib/catalog.c and is documented in docs/catalog.md. */
#ifndef PYFARM_CATALOG_H
#define PYFARM_CATALOG_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "pyfarm/util.h"

/* Version 2 adds the roots table (the folders sources may come from);
 * version 1 catalogs are read, and migrated when opened for update. */
#define PF_SCHEMA_VERSION 2
#define PF_APPLICATION_ID 0x50794661 /* "PyFa" in PRAGMA application_id */

typedef struct pf_catalog {
    sqlite3 *db;
    char *path;
    int writable;
    int schema; /* meta.schema_version of the file as opened */
} pf_catalog;

/* Open an existing catalog. A catalog is untrusted input: it must be a
 * regular file (never a folder or a FIFO), a pyfarm catalog whose schema
 * version this build reads, and pass pf_catalog_validate; otherwise one
 * line naming the file and the real cause (locked, damaged, not SQLite,
 * ...). Views and triggers are disabled on every connection. */
int pf_catalog_open(const char *path, int writable, pf_catalog **out, char *err, size_t errlen);
/* The same, read-only, on an open file descriptor: the catalog is read from
 * that inode for the connection's lifetime whatever later happens to the
 * path (mv new.db cat.db). name is used in messages. */
int pf_catalog_open_fd(int fd, const char *name, pf_catalog **out, char *err, size_t errlen);
/* A bare extra connection to the inode behind fd (read-only, views and
 * triggers off), for callers that keep one per thread. immutable: without
 * locks (pyfarm replaces catalogs by rename, never in place; a file
 * changed in place under such a connection gives errors, see
 * docs/pfmount.md). */
int pf_catalog_connect_fd(int fd, int immutable, sqlite3 **db);
/* Opens path for pf_catalog_open_fd: O_NONBLOCK (a FIFO never blocks),
 * checked to be a regular file. Returns the fd or -1 with err. */
int pf_catalog_open_file(const char *path, char *err, size_t errlen);

/* The one validation of an opened catalog (pf_catalog_open calls it):
 * - meta, tree, roots, ... are real tables whose definition is exactly
 *   this build's schema (columns, types, NOT NULL, keys, indexes); no view
 *   or trigger anywhere in the file;
 * - every tree row has the column types of the schema; the root is id 1;
 *   every other entry's parent is a folder and its path is the parent's
 *   path + "/" + name, with name non-empty, without "/" or NUL, not "." or
 *   ".." (so paths are normalized and relative, and nothing lies under a
 *   symlink or a file);
 * - types are d, f or l; modes within 07777; a file has a source (an
 *   absolute normalized path) or a patch, and its size is the patch's
 *   output size, or its source's; copies stay inside src_size; a symlink
 *   has a target and size = its length; sha256 is 64 hex digits;
 * - (version >= 2) roots are absolute, normalized, not "/" or a system
 *   folder (see docs/catalog.md), and every source lies under one.
 * 0, or -1 with one line naming the first bad entry. */
int pf_catalog_validate(pf_catalog *c, char *err, size_t errlen);
/* The CREATE statements of schema version v's additions (1: the base). */
const char *pf_catalog_schema_sql(int version);
/* Create (or open for update) a catalog at path. */
int pf_catalog_create(const char *path, pf_catalog **out, char *err, size_t errlen);
void pf_catalog_close(pf_catalog *c);
int pf_catalog_exec(pf_catalog *c, const char *sql, char *err, size_t errlen);
/* meta table: key/value strings. get returns malloc'd or NULL. */
char *pf_catalog_meta_get(pf_catalog *c, const char *key);
int pf_catalog_meta_set(pf_catalog *c, const char *key, const char *value);

/* One entry of the dist tree. Types: 'd' directory, 'f' file, 'l' symlink.
 * A file's bytes are: the source file as is (patch == NULL), or the patch's
 * extents over the source (source may be NULL when every extent is literal,
 * as for generated files like run.sh). */
typedef struct pf_node {
    int64_t id;
    int64_t parent; /* 0 for the root, whose id is always 1 (FUSE_ROOT_ID) */
    char *path;     /* "" for the root, else "a/b/c" relative */
    char *name;
    char type;
    uint32_t mode;     /* permission bits only */
    uint64_t size;     /* bytes of the output */
    int64_t mtime;     /* seconds; the source's, or the catalog's time */
    char *source;      /* absolute source path or NULL */
    uint64_t src_size; /* expected source size (checked before serving) */
    int64_t src_mtime_ns;
    char *target;   /* symlink target */
    char *sha256;   /* of the output bytes */
    uint8_t *patch; /* extents blob or NULL */
    size_t patch_len;
} pf_node;

void pf_node_free(pf_node *n); /* frees members, not n itself */

/* Lookups by index: by path, by id, children of a directory (sorted by
 * name). Return 1 found, 0 not found, -1 error. */
int pf_tree_get_path(pf_catalog *c, const char *path, pf_node *out);
int pf_tree_get_id(pf_catalog *c, int64_t id, pf_node *out);
int pf_tree_lookup(pf_catalog *c, int64_t parent, const char *name, pf_node *out);
/* Iterate children (parent == -1: every node, sorted by path). The callback
 * returns non-zero to stop; that value is returned. Nodes passed to the
 * callback are freed after it returns. */
typedef int (*pf_tree_cb)(void *ctx, const pf_node *n);
int pf_tree_each(pf_catalog *c, int64_t parent, pf_tree_cb cb, void *ctx);

/* For callers that keep their own prepared statements (pfmount keeps one
 * set per thread): select PF_NODE_COLS and decode a row with
 * pf_node_from_row, so that the column mapping lives in one place. */
#define PF_NODE_COLS                                                                               \
    "id, parent, path, name, type, mode, size, mtime, source, src_size, src_mtime_ns, target, "    \
    "sha256, patch"
void pf_node_from_row(sqlite3_stmt *st, pf_node *out);

/* Writer side (pfanalyze): add a node; parents must exist. Returns id.
 * A file's source folder is declared as a root ("folder") unless a root
 * already covers it: declare wider roots first with pf_root_add. Adding
 * the root node (a new tree) drops the "folder"/"file" roots of the old. */
int64_t pf_tree_add(pf_catalog *c, const pf_node *n, const char *reason, const char *origin);

/* ---- source roots ----------------------------------------------------------
 * The folders a catalog's sources may come from (table roots, kind:
 * "env", "prefix", "system", "app", "folder", ...). Tools that read sources
 * (pfmount, pfexport) load them once and open every source through
 * pf_source_open, which is the only sanctioned way to open one. */
int pf_root_add(pf_catalog *c, const char *path, const char *kind);
/* Why path cannot be a root (not absolute and normalized, "/", a system
 * folder such as /etc or anything under /proc), or NULL. A source directly
 * in such a folder (/root/app.py) gets itself as a root ("file"). */
const char *pf_root_refused(const char *path);

typedef struct pf_roots {
    pf_strv declared; /* as written in the catalog, sorted */
    pf_strv real;     /* realpath of each that exists here (folder or file) */
} pf_roots;
/* Loads and resolves the roots, skipping those that no longer exist;
 * fails (one line) for a catalog without roots (schema 1: re-run
 * pfanalyze -c to upgrade it) or a root that is neither a folder nor a
 * regular file. */
int pf_roots_load(pf_catalog *c, pf_roots *out, char *err, size_t errlen);
void pf_roots_free(pf_roots *r);
/* Opens a tree file's source: O_RDONLY|O_NONBLOCK|O_CLOEXEC (a FIFO
 * never blocks), then checks with fstat that it is a regular file (never a
 * FIFO, device, socket or folder), that the file actually opened (its
 * /proc/self/fd link: no symlink, in a folder or at the end, can lead
 * elsewhere) lies under one of the roots, and that its size and mtime are those recorded. Returns
 * the fd (O_NONBLOCK cleared) and fills *st, or -1 with err naming the entry, the source and the
 * reason (errno set: EACCES outside the roots, EIO changed, ENOENT vanished, EINVAL not a regular
 * file). */
int pf_source_open(const pf_roots *r, const pf_node *n, struct stat *st, char *err, size_t errlen);
/* Whether st's permission bits let uid (with gid and groups) read it, as
 * the kernel would for a plain open without capabilities. */
int pf_source_readable_by(const struct stat *st, uid_t uid, gid_t gid, const gid_t *groups,
                          int ngroups);

#endif
