/* mkcatalog.c: test helper that writes a catalog whose dist tree mirrors a
 * source folder (folders, files read through from their sources, symlinks),
 * for pfmount's tests until pfanalyze's catalogs are used there.
 *
 *   mkcatalog CATALOG SRCDIR [--patched DEST=SOURCE]... [--literal DEST=TEXT]...
 *
 * --patched adds file DEST (a path in the tree; its folders must exist)
 * whose bytes are, built with the extents builder:
 *   "PYFARM-HEAD\n" | SOURCE[0, n/2) | "PYFARM-MIDDLE\n" | SOURCE[n/2, n) | "PYFARM-TAIL\n"
 * --literal adds an all-literal file without a source (like run.sh). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyfarm/catalog.h"
#include "pyfarm/extents.h"
#include "pyfarm/hash.h"
#include "pyfarm/util.h"

static pf_catalog *cat;

static int64_t node_time(const struct stat *st) {
    return (int64_t)st->st_mtim.tv_sec;
}

static int add(pf_node *n) {
    int64_t id = pf_tree_add(cat, n, "test", "test");
    if (id < 0) {
        fprintf(stderr, "mkcatalog: %s: cannot add: %s\n", n->path, sqlite3_errmsg(cat->db));
        exit(1);
    }
    return (int)id;
}

/* Mirror folder SRC (tree path REL, id PARENT) depth first, names sorted. */
static void mirror(const char *src, const char *rel, int64_t parent) {
    pf_strv names = {0};
    if (pf_list_dir(src, &names) != 0) {
        fprintf(stderr, "mkcatalog: %s: %s\n", src, strerror(errno));
        exit(1);
    }
    for (size_t i = 0; i < names.n; i++) {
        char *sp = pf_path_join(src, names.v[i]);
        char *rp = *rel ? pf_xasprintf("%s/%s", rel, names.v[i]) : pf_xstrdup(names.v[i]);
        struct stat st;
        if (lstat(sp, &st) != 0) {
            fprintf(stderr, "mkcatalog: %s: %s\n", sp, strerror(errno));
            exit(1);
        }
        pf_node n = {.parent = parent,
                     .path = rp,
                     .name = names.v[i],
                     .mode = st.st_mode & 07777,
                     .mtime = node_time(&st)};
        char target[4096];
        char hex[65];
        char err[PF_ERRLEN];
        if (S_ISDIR(st.st_mode)) {
            n.type = 'd';
            int64_t id = add(&n);
            mirror(sp, rp, id);
        } else if (S_ISLNK(st.st_mode)) {
            ssize_t k = readlink(sp, target, sizeof target - 1);
            if (k < 0) {
                fprintf(stderr, "mkcatalog: %s: %s\n", sp, strerror(errno));
                exit(1);
            }
            target[k] = 0;
            n.type = 'l';
            n.target = target;
            n.size = (uint64_t)k;
            add(&n);
        } else if (S_ISREG(st.st_mode)) {
            if (pf_sha256_file(sp, hex, err, sizeof err) != 0) {
                fprintf(stderr, "mkcatalog: %s\n", err);
                exit(1);
            }
            n.type = 'f';
            n.source = sp;
            n.size = n.src_size = (uint64_t)st.st_size;
            n.src_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
            n.sha256 = hex;
            add(&n);
        } /* sockets, fifos, devices: not part of a dist */
        free(sp);
        free(rp);
    }
    pf_strv_free(&names);
}

static int64_t parent_of(const char *dest) {
    char *dir = pf_path_dirname(dest);
    int64_t id = 1;
    if (strcmp(dir, ".") && *dir) {
        pf_node p;
        if (pf_tree_get_path(cat, dir, &p) != 1 || p.type != 'd') {
            fprintf(stderr, "mkcatalog: %s: no folder %s in the tree\n", dest, dir);
            exit(1);
        }
        id = p.id;
        pf_node_free(&p);
    }
    free(dir);
    return id;
}

static const char HEAD[] = "PYFARM-HEAD\n", MID[] = "PYFARM-MIDDLE\n", TAIL[] = "PYFARM-TAIL\n";

static void add_patched(const char *dest, const char *source) {
    struct stat st;
    size_t len = 0;
    char err[PF_ERRLEN];
    char *src = pf_read_file(source, &len, err, sizeof err);
    if (!src || stat(source, &st) != 0) {
        fprintf(stderr, "mkcatalog: %s\n", err);
        exit(1);
    }
    uint64_t half = len / 2;
    pf_patch_builder b;
    pf_pb_init(&b);
    pf_pb_lit(&b, HEAD, sizeof HEAD - 1);
    pf_pb_copy(&b, 0, half);
    pf_pb_lit(&b, MID, sizeof MID - 1);
    pf_pb_copy(&b, half, len - half);
    pf_pb_lit(&b, TAIL, sizeof TAIL - 1);
    pf_node n = {.parent = parent_of(dest),
                 .path = (char *)dest,
                 .name = (char *)pf_path_basename(dest),
                 .type = 'f',
                 .mode = st.st_mode & 07777,
                 .mtime = node_time(&st),
                 .source = (char *)source,
                 .src_size = (uint64_t)len,
                 .src_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec};
    n.patch = pf_pb_finish(&b, &n.patch_len);
    pf_pb_free(&b);
    /* the output's hash, composed independently of the extents reader */
    pf_sha256 h;
    char hex[65];
    if (pf_sha256_init(&h, NULL, 0) || pf_sha256_update(&h, HEAD, sizeof HEAD - 1, NULL, 0) ||
        pf_sha256_update(&h, src, half, NULL, 0) ||
        pf_sha256_update(&h, MID, sizeof MID - 1, NULL, 0) ||
        pf_sha256_update(&h, src + half, len - half, NULL, 0) ||
        pf_sha256_update(&h, TAIL, sizeof TAIL - 1, NULL, 0) || pf_sha256_final(&h, hex, NULL, 0)) {
        fprintf(stderr, "mkcatalog: sha256 failed\n");
        exit(1);
    }
    n.sha256 = hex;
    n.size = len + sizeof HEAD - 1 + sizeof MID - 1 + sizeof TAIL - 1;
    add(&n);
    free(n.patch);
    free(src);
}

static void add_literal(const char *dest, const char *text) {
    size_t len = strlen(text);
    pf_patch_builder b;
    pf_pb_init(&b);
    pf_pb_lit(&b, text, len);
    char hex[65];
    if (pf_sha256_buf(text, len, hex, NULL, 0) != 0) {
        fprintf(stderr, "mkcatalog: sha256 failed\n");
        exit(1);
    }
    pf_node n = {.parent = parent_of(dest),
                 .path = (char *)dest,
                 .name = (char *)pf_path_basename(dest),
                 .type = 'f',
                 .mode = 0755,
                 .mtime = 1700000000,
                 .size = len,
                 .sha256 = hex};
    n.patch = pf_pb_finish(&b, &n.patch_len);
    pf_pb_free(&b);
    add(&n);
    free(n.patch);
}

int main(int argc, char **argv) {
    if (argc < 3 || (argc - 3) % 2) {
        fprintf(stderr, "usage: mkcatalog CATALOG SRCDIR [--patched DEST=SOURCE] "
                        "[--literal DEST=TEXT]...\n");
        return 2;
    }
    char err[PF_ERRLEN];
    unlink(argv[1]);
    if (pf_catalog_create(argv[1], &cat, err, sizeof err) != 0) {
        fprintf(stderr, "mkcatalog: %s\n", err);
        return 1;
    }
    char *src = realpath(argv[2], NULL);
    struct stat st;
    if (!src || stat(src, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "mkcatalog: %s: not a folder\n", argv[2]);
        return 1;
    }
    pf_catalog_exec(cat, "BEGIN", err, sizeof err);
    pf_node root = {.id = 1,
                    .parent = 0,
                    .path = "",
                    .name = "",
                    .type = 'd',
                    .mode = st.st_mode & 07777,
                    .mtime = node_time(&st)};
    add(&root);
    /* the mirrored folder is where every source lies (pfmount serves only
     * sources under a declared root) */
    if (pf_root_add(cat, src, "app") != 0) {
        fprintf(stderr, "mkcatalog: %s: cannot declare root: %s\n", src, sqlite3_errmsg(cat->db));
        return 1;
    }
    mirror(src, "", 1);
    for (int i = 3; i + 1 < argc; i += 2) {
        char *eq = strchr(argv[i + 1], '=');
        if (!eq) {
            fprintf(stderr, "mkcatalog: %s: expected DEST=VALUE\n", argv[i + 1]);
            return 2;
        }
        *eq = 0;
        if (strcmp(argv[i], "--patched") == 0)
            add_patched(argv[i + 1], eq + 1);
        else if (strcmp(argv[i], "--literal") == 0)
            add_literal(argv[i + 1], eq + 1);
        else {
            fprintf(stderr, "mkcatalog: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (pf_catalog_exec(cat, "COMMIT", err, sizeof err) != 0) {
        fprintf(stderr, "mkcatalog: %s\n", err);
        return 1;
    }
    pf_catalog_close(cat);
    free(src);
    return 0;
}
