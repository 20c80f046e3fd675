/* fuzz_catalog.c: catalog open and validation (lib/catalog.c,
 * lib/catalog_check.c). Two kinds of input:
 *   "S" + SQL: statements run (without pyfarm's restrictions) on a copy of
 *              a small good catalog, as a hostile editor would;
 *   anything else: the catalog file's bytes.
 * Whatever pf_catalog_open accepts must keep validation's promises, which
 * are checked here independently: every path normalized and relative under
 * a folder parent, known types, symlinks with targets, sizes equal to the
 * patch's or the source's, all-literal files readable to their size. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "pyfarm/catalog.h"
#include "pyfarm/content.h"
#include "pyfarm/extents.h"

static char work[64], seed_path[64];
static uint8_t *seed;
static size_t seed_len;

static void add(pf_catalog *c, pf_node n) {
    if (pf_tree_add(c, &n, "fuzz", "fuzz") < 0)
        abort();
}

/* The seed: root, a folder, an all-literal file, a file read through
 * from a source, a patched file, a symlink. */
static void make_seed(void) {
    snprintf(seed_path, sizeof seed_path, "/tmp/pf-fuzz-seed-%d.db", (int)getpid());
    snprintf(work, sizeof work, "/tmp/pf-fuzz-cat-%d.db", (int)getpid());
    unlink(seed_path);
    pf_catalog *c;
    char err[1024];
    if (pf_catalog_create(seed_path, &c, err, sizeof err) != 0)
        abort();
    struct stat st;
    if (stat("/etc/hostname", &st) != 0)
        abort();
    pf_patch_builder b;
    pf_pb_init(&b);
    pf_pb_lit(&b, "#!/bin/sh\n", 10);
    size_t plen;
    uint8_t *lit = pf_pb_finish(&b, &plen);
    pf_pb_copy(&b, 0, (uint64_t)st.st_size);
    pf_pb_lit(&b, "x", 1);
    size_t qlen;
    uint8_t *pat = pf_pb_finish(&b, &qlen);
    pf_pb_free(&b);
    int64_t ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    add(c, (pf_node){.id = 1, .path = "", .name = "", .type = 'd', .mode = 0755});
    add(c,
        (pf_node){.id = 2, .parent = 1, .path = "app", .name = "app", .type = 'd', .mode = 0755});
    add(c, (pf_node){.id = 3,
                     .parent = 1,
                     .path = "run.sh",
                     .name = "run.sh",
                     .type = 'f',
                     .mode = 0755,
                     .size = 10,
                     .patch = lit,
                     .patch_len = plen});
    add(c, (pf_node){.id = 4,
                     .parent = 2,
                     .path = "app/h",
                     .name = "h",
                     .type = 'f',
                     .mode = 0644,
                     .size = (uint64_t)st.st_size,
                     .source = "/etc/hostname",
                     .src_size = (uint64_t)st.st_size,
                     .src_mtime_ns = ns});
    add(c, (pf_node){.id = 5,
                     .parent = 2,
                     .path = "app/p",
                     .name = "p",
                     .type = 'f',
                     .mode = 0644,
                     .size = (uint64_t)st.st_size + 1,
                     .source = "/etc/hostname",
                     .src_size = (uint64_t)st.st_size,
                     .src_mtime_ns = ns,
                     .patch = pat,
                     .patch_len = qlen});
    add(c, (pf_node){.id = 6,
                     .parent = 2,
                     .path = "app/l",
                     .name = "l",
                     .type = 'l',
                     .mode = 0777,
                     .size = 1,
                     .target = "h"});
    pf_catalog_close(c);
    free(lit);
    free(pat);
    seed = (uint8_t *)pf_read_file(seed_path, &seed_len, err, sizeof err);
    if (!seed)
        abort();
    unlink(seed_path);
}

static void write_work(const uint8_t *d, size_t n) {
    int fd = open(work, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (n && write(fd, d, n) != (ssize_t)n) || close(fd) != 0)
        abort();
}

static int check_node(void *ctx, const pf_node *n) {
    (void)ctx;
    FUZZ_CHECK(n->path && n->name, "NULL path or name");
    FUZZ_CHECK(n->type == 'd' || n->type == 'f' || n->type == 'l', "type %c", n->type);
    FUZZ_CHECK(n->path[0] != '/' && !strstr(n->path, "//"), "path %s", n->path);
    for (const char *s = n->path; *s;) {
        const char *e = strchr(s, '/');
        size_t k = e ? (size_t)(e - s) : strlen(s);
        FUZZ_CHECK(k && !(k == 1 && s[0] == '.') && !(k == 2 && s[0] == '.' && s[1] == '.'),
                   "component of %s", n->path);
        s += k + (e ? 1 : 0);
    }
    FUZZ_CHECK(n->mode <= 07777, "mode %o", n->mode);
    if (n->type == 'l')
        FUZZ_CHECK(n->target && strlen(n->target) == n->size, "symlink %s", n->path);
    if (n->type == 'f') {
        FUZZ_CHECK(n->source || n->patch, "file %s without bytes", n->path);
        if (n->patch) {
            pf_patch p;
            char err[256];
            FUZZ_CHECK(pf_patch_decode(n->patch, n->patch_len, &p, err, sizeof err) == 0, "%s: %s",
                       n->path, err);
            FUZZ_CHECK(p.size == n->size, "%s: size", n->path);
            pf_patch_free(&p);
        } else {
            FUZZ_CHECK(n->src_size == n->size, "%s: size", n->path);
        }
        if (!n->source && n->size < (1u << 20)) { /* all literal: readable to its size */
            pf_content c;
            char err[1024];
            FUZZ_CHECK(pf_content_open(n, &c, err, sizeof err) == 0, "%s", err);
            uint8_t *buf = malloc(n->size + 1);
            FUZZ_CHECK(pf_content_pread(&c, buf, n->size + 1, 0) == (ssize_t)n->size, "%s: read",
                       n->path);
            free(buf);
            pf_content_close(&c);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!seed)
        make_seed();
    if (size && data[0] == 'S') {
        write_work(seed, seed_len);
        sqlite3 *db;
        if (sqlite3_open(work, &db) == SQLITE_OK) {
            char *sql = pf_xstrndup((const char *)data + 1, size - 1);
            sqlite3_exec(db, sql, NULL, NULL, NULL);
            free(sql);
        }
        sqlite3_close(db);
    } else {
        write_work(data, size);
    }
    pf_catalog *c = NULL;
    char err[1024];
    if (pf_catalog_open(work, 0, &c, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0], "refused without a message");
        return 0;
    }
    pf_node root;
    FUZZ_CHECK(pf_tree_get_id(c, 1, &root) == 1 && root.type == 'd', "root");
    pf_node_free(&root);
    pf_tree_each(c, -1, check_node, NULL);
    pf_roots r;
    if (pf_roots_load(c, &r, err, sizeof err) == 0)
        pf_roots_free(&r);
    pf_catalog_close(c);
    return 0;
}
