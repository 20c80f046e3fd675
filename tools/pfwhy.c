/* pfwhy.c: answer "why is this path in the dist?" from the catalog: the
 * chain of reasons, e.g. lib/libavcodec.so.59 <- needed by
 * site-packages/p1/cv2/cv2.abi3.so <- imported module cv2 (process 4242). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "pyfarm/catalog.h"
#include "pyfarm/cli.h"
#include "pyfarm/util.h"

static const char USAGE[] =
    "usage: pfwhy CATALOG DIST-PATH\n"
    "Prints why DIST-PATH is in the dist of CATALOG: the chain of reasons.\n"
    "Exit status: 0 found, 1 not in the dist, 2 usage or unusable catalog.\n"
    "  -h, --help     this help\n"
    "  -V, --version  pyfarm's version\n";

/* Options; -1 to go on, or the status to exit with. */
static int parse_args(int argc, char **argv) {
    static const struct option lo[] = {
        {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "hV", lo, NULL)) != -1) {
        if (ch == 'h') {
            fputs(USAGE, stdout);
            return PF_EXIT_OK;
        }
        if (ch == 'V')
            return pf_cli_version("pfwhy");
        fputs(USAGE, stderr);
        return PF_EXIT_USAGE;
    }
    if (argc - optind != 2) {
        fputs(USAGE, stderr);
        return PF_EXIT_USAGE;
    }
    return -1;
}

static char *reason_of(pf_catalog *c, const char *path, char **origin) {
    sqlite3_stmt *st;
    char *r = NULL;
    *origin = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT reason, origin FROM tree WHERE path=?", -1, &st, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "pfwhy: %s: cannot read the tree: %s\n", c->path, sqlite3_errmsg(c->db));
        exit(PF_EXIT_FAIL);
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
    int rc = parse_args(argc, argv);
    if (rc >= 0)
        return rc;
    const char *cat = argv[optind];
    char err[PF_ERRLEN];
    pf_catalog *c;
    /* pf_catalog_open refuses a missing file, a folder or a FIFO first */
    if (pf_catalog_open(cat, 0, &c, err, sizeof err) != 0) {
        fprintf(stderr, "pfwhy: %s\n", err);
        return PF_EXIT_USAGE;
    }
    /* "./a/b", "/a/b" and "a/b" name the same dist path */
    const char *arg = argv[optind + 1];
    while (arg[0] == '/' || (arg[0] == '.' && arg[1] == '/'))
        arg += arg[0] == '/' ? 1 : 2;
    char *path = pf_xstrdup(arg);
    int depth = 0, found = 0;
    while (path && depth < 64) {
        char *origin;
        char *r = reason_of(c, path, &origin);
        if (!r) {
            if (!found) {
                fprintf(stderr, "pfwhy: %s: not in the dist of %s\n", path, cat);
                free(path);
                pf_catalog_close(c);
                return PF_EXIT_FAIL;
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
    return PF_EXIT_OK;
}
