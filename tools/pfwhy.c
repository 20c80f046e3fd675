/* pfwhy.c: answer "why is this path in the dist?" from the catalog: the
 * chain of reasons, e.g. lib/libavcodec.so.59 <- needed by
 * site-packages/p1/cv2/cv2.abi3.so <- imported module cv2 (process 4242). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pyfarm/catalog.h"
#include "pyfarm/util.h"

static char *reason_of(pf_catalog *c, const char *path, char **origin) {
    sqlite3_stmt *st;
    char *r = NULL;
    *origin = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT reason, origin FROM tree WHERE path=?", -1, &st, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "pfwhy: %s: cannot read the tree: %s\n", c->path, sqlite3_errmsg(c->db));
        exit(1);
    }
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        const char *o = (const char *)sqlite3_column_text(st, 1);
        r = pf_xstrdup(s ? s : "");
        *origin = pf_xstrdup(o ? o : "");
    }
    sqlite3_finalize(st);
    return r;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: pfwhy CATALOG DIST-PATH\n");
        return 2;
    }
    char err[PF_ERRLEN];
    pf_catalog *c;
    struct stat st;
    if (stat(argv[1], &st) != 0) {
        fprintf(stderr, "pfwhy: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    if (!S_ISREG(st.st_mode)) { /* SQLite would block on a FIFO */
        fprintf(stderr, "pfwhy: %s: not a pyfarm catalog (not a regular file)\n", argv[1]);
        return 1;
    }
    if (pf_catalog_open(argv[1], 0, &c, err, sizeof err) != 0) {
        fprintf(stderr, "pfwhy: %s\n", err);
        return 1;
    }
    /* "./a/b", "/a/b" and "a/b" name the same dist path */
    const char *arg = argv[2];
    while (arg[0] == '/' || (arg[0] == '.' && arg[1] == '/'))
        arg += arg[0] == '/' ? 1 : 2;
    char *path = pf_xstrdup(arg);
    int depth = 0, found = 0;
    while (path && depth < 64) {
        char *origin;
        char *r = reason_of(c, path, &origin);
        if (!r) {
            if (!found) {
                fprintf(stderr, "pfwhy: %s: not in the dist of %s\n", path, argv[1]);
                free(path);
                pf_catalog_close(c);
                return 1;
            }
            break;
        }
        found = 1;
        printf("%*s%s [%s]: %s\n", depth * 2, "", path, origin, r);
        free(path);
        path = NULL;
        const char *nb = strstr(r, "needed by ");
        if (nb) { /* "needed by DEST as NAME" */
            const char *s = nb + 10, *e = strstr(s, " as ");
            path = e ? pf_xstrndup(s, (size_t)(e - s)) : pf_xstrdup(s);
        }
        free(r);
        free(origin);
        depth++;
    }
    free(path);
    pf_catalog_close(c);
    return 0;
}
