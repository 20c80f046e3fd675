/* pfexport.c: materialize a catalog's tree as a folder or as a
 * deterministic .tar.zst. Bytes come from pf_content (the same reader as
 * pfmount). Output goes to a temporary sibling renamed at the end, so an
 * error never leaves a half-written dist behind. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "pyfarm/catalog.h"
#include "pyfarm/content.h"
#include "pyfarm/parallel.h"
#include "pyfarm/runlock.h"

typedef struct nodes {
    pf_node *v;
    size_t n, cap;
} nodes;

static int collect(void *ctx, const pf_node *n) {
    nodes *ns = ctx;
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 4096;
        ns->v = pf_xrealloc(ns->v, ns->cap * sizeof *ns->v);
    }
    pf_node *d = &ns->v[ns->n++];
    *d = *n;
    /* the callback's node is freed after return: take copies */
    d->path = pf_xstrdup(n->path);
    d->name = pf_xstrdup(n->name);
    d->source = n->source ? pf_xstrdup(n->source) : NULL;
    d->target = n->target ? pf_xstrdup(n->target) : NULL;
    d->sha256 = n->sha256 ? pf_xstrdup(n->sha256) : NULL;
    if (n->patch) {
        d->patch = pf_xmalloc(n->patch_len);
        memcpy(d->patch, n->patch, n->patch_len);
    }
    return 0;
}

static int write_all(void *ctx, const void *buf, size_t n) {
    return write(*(int *)ctx, buf, n) == (ssize_t)n ? 0 : -1;
}

static int archive_sink(void *ctx, const void *buf, size_t n) {
    return pf_archive_data(ctx, buf, n);
}

typedef struct job {
    nodes *ns;
    const char *root;
} job;

/* One file of the export: written, then its mode and time. */
static int write_item(void *ctx, size_t i, char *err, size_t errlen) {
    job *j = ctx;
    pf_node *n = &j->ns->v[i];
    if (n->type != 'f')
        return 0;
    char *p = pf_path_join(j->root, n->path);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        pf_seterr(err, errlen, "%s: %s", p, strerror(errno));
        free(p);
        return -1;
    }
    free(p);
    int r = pf_content_stream(n, write_all, &fd, err, errlen);
    fchmod(fd, n->mode & 07777);
    struct timespec ts[2] = {{n->mtime, 0}, {n->mtime, 0}};
    futimens(fd, ts);
    close(fd);
    return r;
}

static int export_dir(nodes *ns, const char *root, char *err, size_t errlen) {
    /* folders and links first (path order puts parents first), then files
     * in parallel, then folder modes and times, deepest first */
    for (size_t i = 0; i < ns->n; i++) {
        pf_node *n = &ns->v[i];
        if (!*n->path)
            continue;
        char *p = pf_path_join(root, n->path);
        int r = 0;
        if (n->type == 'd')
            r = mkdir(p, 0700);
        else if (n->type == 'l')
            r = symlink(n->target, p);
        if (r != 0) {
            pf_seterr(err, errlen, "%s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        free(p);
    }
    job j = {.ns = ns, .root = root};
    if (pf_parallel_for(ns->n, write_item, &j, err, errlen) != 0)
        return -1;
    for (size_t i = ns->n; i-- > 0;) {
        pf_node *n = &ns->v[i];
        char *p = pf_path_join(root, n->path);
        struct timespec ts[2] = {{n->mtime, 0}, {n->mtime, 0}};
        if (n->type == 'd') {
            chmod(p, n->mode & 07777);
            utimensat(AT_FDCWD, p, ts, 0);
        } else if (n->type == 'l') {
            utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
        }
        free(p);
    }
    return 0;
}

static int export_archive(nodes *ns, FILE *out, int level, char *err, size_t errlen) {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    pf_archive *a = pf_archive_open(out, level, ncpu > 1 ? (int)ncpu : 1, err, errlen);
    if (!a)
        return -1;
    int r = 0;
    for (size_t i = 0; i < ns->n && !r; i++) {
        pf_node *n = &ns->v[i];
        if (!*n->path)
            continue;
        if (pf_archive_header(a, n->path, n->type, n->mode, n->size, n->mtime, n->target)) {
            pf_seterr(err, errlen, "archive write failed at %s", n->path);
            r = -1;
            break;
        }
        if (n->type != 'f')
            continue;
        if (pf_content_stream(n, archive_sink, a, err, errlen) != 0)
            r = -1;
    }
    if (pf_archive_close(a) && !r) {
        pf_seterr(err, errlen, "archive: write failed: %s", strerror(errno));
        r = -1;
    }
    return r;
}

static int is_empty_dir(const char *p) {
    DIR *d = opendir(p);
    if (!d)
        return -1;
    struct dirent *de;
    int empty = 1;
    while (empty && (de = readdir(d)))
        empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
    closedir(d);
    return empty;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int main(int argc, char **argv) {
    int force = 0, level = 3;
    static const struct option lo[] = {{"force", no_argument, 0, 'f'},
                                       {"level", required_argument, 0, 'l'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "fl:h", lo, NULL)) != -1) {
        if (ch == 'f')
            force = 1;
        else if (ch == 'l')
            level = atoi(optarg);
        else {
            fprintf(ch == 'h' ? stdout : stderr,
                    "usage: pfexport [--force] [--level N] CATALOG DIR|OUT.tar.zst\n");
            return ch == 'h' ? 0 : 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: pfexport [--force] [--level N] CATALOG DIR|OUT.tar.zst\n");
        return 2;
    }
    const char *cat = argv[optind], *out = argv[optind + 1];
    char err[PF_ERRLEN];
    int archive = ends_with(out, ".tar.zst") || ends_with(out, ".tzst");
    struct stat st;
    if (!force && stat(out, &st) == 0) {
        if (archive || !S_ISDIR(st.st_mode) || is_empty_dir(out) != 1) {
            fprintf(stderr, "pfexport: %s: exists%s (use --force to replace it)\n", out,
                    archive || !S_ISDIR(st.st_mode) ? "" : " and is not empty");
            return 1;
        }
    }
    pf_catalog *c;
    if (pf_catalog_open(cat, 0, &c, err, sizeof err) != 0) {
        fprintf(stderr, "pfexport: %s\n", err);
        return 1;
    }
    nodes ns = {0};
    if (pf_tree_each(c, -1, collect, &ns) != 0 || ns.n == 0) {
        fprintf(stderr, "pfexport: %s: the catalog has no tree (run pfanalyze first)\n", cat);
        pf_catalog_close(c);
        return 1;
    }
    pf_catalog_close(c);
    pf_run_signals_install(); /* the temporary goes on exit, Ctrl-C and SIGTERM */
    pf_run_clean_stale(out, "pfexport");
    char *tmp = pf_xasprintf("%s.tmp-%d", out, (int)getpid());
    int r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (archive) {
        FILE *fp = fopen(tmp, "wbx");
        if (!fp || pf_run_hold(tmp, err, sizeof err) != 0) {
            fprintf(stderr, "pfexport: %s: %s\n", out, strerror(errno));
            return 1;
        }
        r = export_archive(&ns, fp, level, err, sizeof err);
        if (fclose(fp) != 0 && !r) {
            pf_seterr(err, sizeof err, "%s: %s", tmp, strerror(errno));
            r = -1;
        }
    } else {
        if (mkdir(tmp, 0700) != 0 || pf_run_hold(tmp, err, sizeof err) != 0) {
            fprintf(stderr, "pfexport: %s: %s\n", out, strerror(errno));
            return 1;
        }
        r = export_dir(&ns, tmp, err, sizeof err);
    }
    if (r == 0) {
        if (stat(out, &st) == 0) { /* --force, or an empty folder */
            char *old = pf_xasprintf("%s.old-%d", out, (int)getpid());
            if (rename(out, old) != 0 || rename(tmp, out) != 0) {
                pf_seterr(err, sizeof err, "%s: %s", out, strerror(errno));
                r = -1;
            } else {
                pf_rm_rf(old);
            }
            free(old);
        } else if (rename(tmp, out) != 0) {
            pf_seterr(err, sizeof err, "%s: %s", out, strerror(errno));
            r = -1;
        }
    }
    if (r != 0) {
        pf_run_unalias(err, sizeof err, tmp, out);
        fprintf(stderr, "pfexport: %s\n", err);
        pf_rm_rf(tmp);
    } else {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        uint64_t bytes = 0;
        size_t files = 0;
        for (size_t i = 0; i < ns.n; i++)
            if (ns.v[i].type == 'f') {
                files++;
                bytes += ns.v[i].size;
            }
        fprintf(stderr, "pfexport: %s: %zu entries, %zu files, %.1f MB in %.2fs\n", out, ns.n,
                files, (double)bytes / 1e6,
                (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    }
    for (size_t i = 0; i < ns.n; i++)
        pf_node_free(&ns.v[i]);
    free(ns.v);
    free(tmp);
    return r ? 1 : 0;
}
