/* pfwhy.c: answer "why is this path in the dist?" from the catalog: the
 * chain of reasons, e.g. lib/libavcodec.so.59 <- needed by
 * site-packages/p1/cv2/cv2.abi3.so <- imported module cv2 (process 4242). */
#include <stdlib.h>
#include <string.h>

#include "pyfarm/catalog.h"
#include "pyfarm/util.h"

static char *reason_of(pf_catalog *c, const char *path, char **origin) {
    sqlite3_stmt *st;
    char *r = NULL;
    *origin = NULL;
    sqlite3_prepare_v2(c->db, "SELECT reason, origin FROM tree WHERE path=?", -1, &st, NULL);
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
    if (pf_catalog_open(argv[1], 0, &c, err, sizeof err) != 0) {
        fprintf(stderr, "pfwhy: %s\n", err);
        return 1;
    }
    char *path = pf_xstrdup(argv[2]);
    while (path[0] == '/' || (path[0] == '.' && path[1] == '/'))
        memmove(path, path + (path[0] == '/' ? 1 : 2), strlen(path));
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
