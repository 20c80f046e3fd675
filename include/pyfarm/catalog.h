/* catalog.h: the SQLite catalog, the one contract between pfanalyze (which
 * writes it) and pfmount/pfexport (which read it). The schema lives in
 * lib/catalog.c and is documented in docs/catalog.md. */
#ifndef PYFARM_CATALOG_H
#define PYFARM_CATALOG_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define PF_SCHEMA_VERSION 1
#define PF_APPLICATION_ID 0x50794661 /* "PyFa" in PRAGMA application_id */

typedef struct pf_catalog {
    sqlite3 *db;
    char *path;
    int writable;
} pf_catalog;

/* Open an existing catalog. Refuses a file that is not a pyfarm catalog or
 * whose schema is newer than PF_SCHEMA_VERSION, with a one-line error. */
int pf_catalog_open(const char *path, int writable, pf_catalog **out, char *err, size_t errlen);
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

/* Writer side (pfanalyze): add a node; parents must exist. Returns id. */
int64_t pf_tree_add(pf_catalog *c, const pf_node *n, const char *reason, const char *origin);

#endif
