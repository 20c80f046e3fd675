/* pfexport.c: materialize a catalog's tree as a folder or as a
 * deterministic .tar.zst. Bytes come from pf_content (the same reader as
 * pfmount), each file's sha256 checked as it streams. Output goes to a
 * temporary sibling renamed at the end, so an error never leaves a
 * half-written dist behind.
 *
 * The catalog is untrusted input (pfexport often runs as root): every
 * entry is checked before anything is written (names, types, parents, no
 * entry under a symlink entry), the folder is written only beneath DIR
 * (every path resolved from DIR's fd with RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS, or component by component with O_NOFOLLOW on old
 * kernels), and modes are masked to 0777 unless --keep-setuid. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "pyfarm/catalog.h"
#include "pyfarm/cli.h"
#include "pyfarm/content.h"
#include "pyfarm/parallel.h"
#include "pyfarm/runlock.h"
#include "pyfarm/strmap.h"

typedef struct nodes {
    pf_node *v;
    size_t n, cap;
    uint32_t mode_mask; /* 0777, or 07777 with --keep-setuid */
    pf_roots roots;     /* the catalog's source roots (pf_roots_load) */
} nodes;

static char *dup_or_null(const char *s) {
    return s ? pf_xstrdup(s) : NULL;
}

static int collect(void *ctx, const pf_node *n) {
    nodes *ns = ctx;
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 4096;
        ns->v = pf_xrealloc(ns->v, ns->cap * sizeof *ns->v);
    }
    pf_node *d = &ns->v[ns->n++];
    *d = *n;
    /* the callback's node is freed after return: take copies (any field
     * may be NULL in a hostile catalog; check_tree refuses those) */
    d->path = dup_or_null(n->path);
    d->name = dup_or_null(n->name);
    d->source = dup_or_null(n->source);
    d->target = dup_or_null(n->target);
    d->sha256 = dup_or_null(n->sha256);
    d->patch = NULL;
    if (n->patch) {
        d->patch = pf_xmalloc(n->patch_len);
        memcpy(d->patch, n->patch, n->patch_len);
    }
    return 0;
}

static int by_path(const void *a, const void *b) {
    return strcmp(((const pf_node *)a)->path, ((const pf_node *)b)->path);
}

/* One entry on its own: NULL if fine, else the reason. */
static const char *bad_entry(const pf_node *n) {
    if (!n->name)
        return "no name";
    if (n->type != 'd' && n->type != 'f' && n->type != 'l')
        return "unknown entry type";
    if (!*n->path)
        return n->type == 'd' ? NULL : "the root is not a folder";
    const char *bad = pf_archive_bad_name(n->path);
    if (bad)
        return bad;
    if (strlen(n->path) >= 4096)
        return "path longer than 4095 bytes";
    if (strcmp(n->name, pf_path_basename(n->path)) != 0)
        return "name differs from the path's last component";
    if (n->type == 'l' && (!n->target || !*n->target))
        return "symlink without a target";
    if (n->type == 'l' && strlen(n->target) >= 4096)
        return "symlink target longer than 4095 bytes";
    if (n->type == 'f' && !pf_content_sha256_ok(n->sha256))
        return "no valid sha256 recorded (64 lowercase hex digits)";
    return NULL;
}

/* The entry's folder must be a folder entry seen before it (path order
 * puts parents first): never a symlink, a file or nothing. */
static const char *bad_parent(const pf_strmap *seen, const pf_node *n, char *buf, size_t len) {
    char *dir = pf_path_dirname(n->path);
    const char *key = strcmp(dir, ".") == 0 ? "" : dir;
    const pf_node *p = pf_strmap_get(seen, key);
    const char *why = NULL;
    if (!p || p->type != 'd') {
        snprintf(buf, len, "%s %s",
                 !p               ? "no folder entry for"
                 : p->type == 'l' ? "lies under symlink entry"
                                  : "lies under file entry",
                 key);
        why = buf;
    }
    free(dir);
    return why;
}

/* Everything about the tree that could make the export write outside DIR,
 * crash or mislead, refused before anything is written. */
static int check_tree(nodes *ns, const char *cat, char *err, size_t errlen) {
    for (size_t i = 0; i < ns->n; i++)
        if (!ns->v[i].path) {
            pf_seterr(err, errlen, "%s: tree entry id %lld: no path", cat, (long long)ns->v[i].id);
            return -1;
        }
    qsort(ns->v, ns->n, sizeof *ns->v, by_path);
    if (ns->n == 0 || *ns->v[0].path) {
        pf_seterr(err, errlen, "%s: the tree has no root folder entry (path '')", cat);
        return -1;
    }
    pf_strmap seen = {0};
    int r = 0;
    char buf[4200];
    for (size_t i = 0; i < ns->n && !r; i++) {
        pf_node *n = &ns->v[i];
        const char *why = bad_entry(n);
        if (!why && i > 0 && strcmp(n->path, ns->v[i - 1].path) == 0)
            why = "the path appears twice";
        if (!why && *n->path)
            why = bad_parent(&seen, n, buf, sizeof buf);
        if (why) {
            pf_seterr(err, errlen, "%s: tree entry '%s': %s", cat, n->path, why);
            r = -1;
        }
        pf_strmap_put(&seen, n->path, n);
    }
    pf_strmap_free(&seen);
    return r;
}

/* ---- writing beneath DIR ---- */

/* Walk rel from dirfd one component at a time, never following a symlink
 * (for kernels without openat2; names were checked by check_tree). */
static int open_walk(int dirfd, const char *rel, int flags, mode_t mode) {
    char *copy = pf_xstrdup(rel);
    int cur = dirfd;
    char *s = copy, *slash;
    while ((slash = strchr(s, '/'))) {
        *slash = 0;
        int next = openat(cur, s, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cur != dirfd)
            close(cur);
        if (next < 0) {
            free(copy);
            return -1;
        }
        cur = next;
        s = slash + 1;
    }
    int fd = openat(cur, s, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    int e = errno;
    if (cur != dirfd)
        close(cur);
    free(copy);
    errno = e;
    return fd;
}

/* open rel beneath dirfd: no "..", no absolute path, no symlink anywhere
 * on the way (ELOOP/EXDEV when the catalog tries). */
static int open_beneath(int dirfd, const char *rel, int flags, mode_t mode) {
    struct open_how how = {.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
                           .mode = (flags & O_CREAT) ? mode : 0,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                                      RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
    int fd = (int)syscall(SYS_openat2, dirfd, *rel ? rel : ".", &how, sizeof how);
    if (fd < 0 && (errno == ENOSYS || errno == EPERM))
        fd = *rel ? open_walk(dirfd, rel, flags, mode) : openat(dirfd, ".", flags | O_CLOEXEC);
    return fd;
}

/* The folder an entry goes in, as an fd beneath root. */
static int open_parent(int root, const char *path) {
    char *dir = pf_path_dirname(path);
    int fd = open_beneath(root, strcmp(dir, ".") == 0 ? "" : dir, O_PATH | O_DIRECTORY, 0);
    free(dir);
    return fd;
}

static int write_all(void *ctx, const void *buf, size_t n) {
    int fd = *(int *)ctx;
    const char *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = ENOSPC;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int archive_sink(void *ctx, const void *buf, size_t n) {
    return pf_archive_data(ctx, buf, n);
}

typedef struct job {
    nodes *ns;
    int root;
    const char *out; /* for messages: DIR as the user named it */
} job;

static int sys_fail(const job *j, const char *path, const char *what, char *err, size_t errlen) {
    int e = errno;
    pf_seterr(err, errlen, "%s/%s: %s%s%s", j->out, path, what, *what ? ": " : "",
              e == ELOOP || e == EXDEV ? "refused: the path goes through a symlink or out of DIR"
                                       : strerror(e));
    return -1;
}

/* A file's bytes, from a source that is allowed: opened through the
 * catalog's roots (pf_source_open), checked by pf_content (regular file,
 * as recorded), and no more readable in the output than it is itself. The
 * one place pfexport opens sources. */
static int open_content(const nodes *ns, const pf_node *n, pf_content *c, char *err,
                        size_t errlen) {
    struct stat st;
    int fd = n->source ? pf_source_open(&ns->roots, n, &st, err, errlen) : -1;
    if (n->source && fd < 0)
        return -1;
    if (pf_content_open_fd(n, fd, c, err, errlen) != 0)
        return -1;
    if (pf_content_check_exposure(c, n, n->mode & ns->mode_mask, err, errlen) != 0) {
        pf_content_close(c);
        return -1;
    }
    return 0;
}

/* One file of the export: its source opened and checked first, then
 * written, then its mode and time; the caller removes the temporary
 * folder on failure. */
static int write_item(void *ctx, size_t i, char *err, size_t errlen) {
    job *j = ctx;
    pf_node *n = &j->ns->v[i];
    if (n->type != 'f')
        return 0;
    pf_content c;
    if (open_content(j->ns, n, &c, err, errlen) != 0)
        return -1;
    int fd = open_beneath(j->root, n->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        pf_content_close(&c);
        return sys_fail(j, n->path, "", err, errlen);
    }
    int r = pf_content_stream_from(&c, n, write_all, &fd, err, errlen);
    pf_content_close(&c);
    struct timespec ts[2] = {{n->mtime, 0}, {n->mtime, 0}};
    if (!r && (fchmod(fd, n->mode & j->ns->mode_mask) != 0 || futimens(fd, ts) != 0))
        r = sys_fail(j, n->path, "chmod", err, errlen);
    if (close(fd) != 0 && !r)
        r = sys_fail(j, n->path, "write failed", err, errlen);
    return r;
}

static int make_entry(job *j, const pf_node *n, char *err, size_t errlen) {
    int pfd = open_parent(j->root, n->path);
    if (pfd < 0)
        return sys_fail(j, n->path, "", err, errlen);
    int r = n->type == 'd' ? mkdirat(pfd, n->name, 0700) : symlinkat(n->target, pfd, n->name);
    if (r != 0)
        sys_fail(j, n->path, "", err, errlen);
    close(pfd);
    return r;
}

/* A folder's or a link's mode and time, once everything is inside. */
static int finish_entry(job *j, const pf_node *n, char *err, size_t errlen) {
    struct timespec ts[2] = {{n->mtime, 0}, {n->mtime, 0}};
    if (n->type == 'd') {
        int fd = open_beneath(j->root, n->path, O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0)
            return sys_fail(j, n->path, "", err, errlen);
        int r = fchmod(fd, n->mode & j->ns->mode_mask) != 0 || futimens(fd, ts) != 0;
        if (r)
            sys_fail(j, n->path, "chmod", err, errlen);
        close(fd);
        return r ? -1 : 0;
    }
    int pfd = open_parent(j->root, n->path);
    if (pfd < 0)
        return sys_fail(j, n->path, "", err, errlen);
    int r = utimensat(pfd, n->name, ts, AT_SYMLINK_NOFOLLOW);
    if (r != 0)
        sys_fail(j, n->path, "utimensat", err, errlen);
    close(pfd);
    return r;
}

static int export_dir(nodes *ns, int root, const char *out, char *err, size_t errlen) {
    /* folders and links first (path order puts parents first), then files
     * in parallel, then folder modes and times, deepest first */
    job j = {.ns = ns, .root = root, .out = out};
    for (size_t i = 0; i < ns->n; i++) {
        const pf_node *n = &ns->v[i];
        if (*n->path && n->type != 'f' && make_entry(&j, n, err, errlen) != 0)
            return -1;
    }
    if (pf_parallel_for(ns->n, write_item, &j, err, errlen) != 0)
        return -1;
    for (size_t i = ns->n; i-- > 0;)
        if (ns->v[i].type != 'f' && finish_entry(&j, &ns->v[i], err, errlen) != 0)
            return -1;
    return 0;
}

static int archive_item(pf_archive *a, const nodes *ns, const pf_node *n, char *err,
                        size_t errlen) {
    pf_content c = {.fd = -1};
    if (n->type == 'f' && open_content(ns, n, &c, err, errlen) != 0)
        return -1;
    int r = 0;
    if (pf_archive_header(a, n->path, n->type, n->mode & ns->mode_mask, n->size, n->mtime,
                          n->target)) {
        pf_seterr(err, errlen, "archive: %s", pf_archive_error(a));
        r = -1;
    } else if (n->type == 'f' && pf_content_stream_from(&c, n, archive_sink, a, err, errlen)) {
        if (*pf_archive_error(a)) /* the archive's own reason beats errno */
            pf_seterr(err, errlen, "%s: archive: %s", n->path, pf_archive_error(a));
        r = -1;
    }
    if (n->type == 'f')
        pf_content_close(&c);
    return r;
}

static int export_archive(nodes *ns, FILE *out, int level, char *err, size_t errlen) {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    pf_archive *a = pf_archive_open(out, level, ncpu > 1 ? (int)ncpu : 1, err, errlen);
    if (!a)
        return -1;
    int r = 0;
    for (size_t i = 0; i < ns->n && !r; i++)
        if (*ns->v[i].path)
            r = archive_item(a, ns, &ns->v[i], err, errlen);
    char cerr[PF_ERRLEN];
    if (pf_archive_close(a, cerr, sizeof cerr) && !r) {
        pf_seterr(err, errlen, "archive: %s", cerr);
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

/* -2 when the catalog cannot be used at all (PF_EXIT_USAGE), -1 when its
 * tree cannot be exported. */
static int load_tree(const char *cat, nodes *ns, char *err, size_t errlen) {
    pf_catalog *c; /* refuses a folder, a FIFO or a device before SQLite sees it */
    if (pf_catalog_open(cat, 0, &c, err, errlen) != 0)
        return -2;
    int r = pf_tree_each(c, -1, collect, ns);
    if (r != 0 || ns->n == 0) {
        if (r != 0)
            pf_seterr(err, errlen, "%s: cannot read the tree: %s", cat, sqlite3_errmsg(c->db));
        else
            pf_seterr(err, errlen, "%s: the catalog has no tree (run pfanalyze first)", cat);
        pf_catalog_close(c);
        return -1;
    }
    r = pf_roots_load(c, &ns->roots, err, errlen);
    pf_catalog_close(c);
    return r ? -1 : check_tree(ns, cat, err, errlen);
}

static int write_folder(nodes *ns, const char *tmp, const char *out, char *err, size_t errlen) {
    if (mkdir(tmp, 0700) != 0) {
        pf_seterr(err, errlen, "%s: %s", tmp, strerror(errno));
        return -2; /* nothing to remove */
    }
    if (pf_run_hold(tmp, err, errlen) != 0) /* a live export's temporary is not stale */
        return -1;
    int root = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0) {
        pf_seterr(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    int r = export_dir(ns, root, out, err, errlen);
    close(root);
    return r;
}

static int write_tar(nodes *ns, const char *tmp, int level, char *err, size_t errlen) {
    FILE *fp = fopen(tmp, "wbx");
    if (!fp) {
        pf_seterr(err, errlen, "%s: %s", tmp, strerror(errno));
        return -2;
    }
    if (pf_run_hold(tmp, err, errlen) != 0) { /* a live export's temporary is not stale */
        fclose(fp);
        return -1;
    }
    int r = export_archive(ns, fp, level, err, errlen);
    if (fclose(fp) != 0 && !r) {
        pf_seterr(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
        r = -1;
    }
    return r;
}

/* tmp becomes out; an existing out (--force, or an empty folder) is moved
 * aside first and removed after. */
static int put_in_place(const char *tmp, const char *out, char *err, size_t errlen) {
    struct stat st;
    if (lstat(out, &st) == 0) {
        char *old = pf_xasprintf("%s.old-%d", out, (int)getpid());
        int r = rename(out, old) != 0 || rename(tmp, out) != 0 ? -1 : 0;
        if (r)
            pf_seterr(err, errlen, "%s: %s", out, strerror(errno));
        else
            pf_rm_rf(old);
        free(old);
        return r;
    }
    if (rename(tmp, out) != 0) {
        pf_seterr(err, errlen, "%s: %s", out, strerror(errno));
        return -1;
    }
    return 0;
}

static void report(const nodes *ns, const char *out, const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t bytes = 0;
    size_t files = 0;
    for (size_t i = 0; i < ns->n; i++)
        if (ns->v[i].type == 'f') {
            files++;
            bytes += ns->v[i].size;
        }
    fprintf(stderr, "pfexport: %s: %zu entries, %zu files, %.1f MB in %.2fs (sha256 verified)\n",
            out, ns->n, files, (double)bytes / 1e6,
            (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9);
}

static const char USAGE[] =
    "usage: pfexport [--force] [--keep-setuid] [--level N] CATALOG DIR|OUT.tar.zst\n"
    "Writes the dist of CATALOG as a folder or as a deterministic archive.\n"
    "The output's form is chosen by its name: OUT.tar.zst or OUT.tzst is an archive;\n"
    "DIR is a folder when it exists as one, ends in '/', or has no '.suffix'; any\n"
    "other suffix (out.tar.gz, out.zip, ...) is refused.\n"
    "Exit status: 0 ok, 1 export failed (nothing written), 2 usage or unusable catalog.\n"
    "  -f, --force        replace an existing output\n"
    "      --keep-setuid  keep setuid/setgid/sticky bits (masked to 0777 otherwise)\n"
    "  -l, --level N      zstd level of an archive, 1 to 19 (default 3)\n"
    "  -h, --help         this help\n"
    "  -V, --version      pyfarm's version\n";

/* --level N: an integer from 1 to 19 (zstd's levels without --ultra). */
static int parse_level(const char *s, int *level) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 19) {
        fprintf(stderr, "pfexport: --level %s: expected a zstd level from 1 to 19\n", s);
        return -1;
    }
    *level = (int)v;
    return 0;
}

typedef struct cli {
    int force, level, keep_setuid, level_given;
} cli;

/* Options into o; -1 to go on, or the status to exit with. */
static int parse_args(int argc, char **argv, cli *o) {
    static const struct option lo[] = {
        {"force", no_argument, 0, 'f'},       {"keep-setuid", no_argument, 0, 'S'},
        {"level", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},     {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "fl:hV", lo, NULL)) != -1) {
        if (ch == 'f')
            o->force = 1;
        else if (ch == 'S')
            o->keep_setuid = 1;
        else if (ch == 'l') {
            if (parse_level(optarg, &o->level) != 0)
                return PF_EXIT_USAGE;
            o->level_given = 1;
        } else if (ch == 'V')
            return pf_cli_version("pfexport");
        else {
            fputs(USAGE, ch == 'h' ? stdout : stderr);
            return ch == 'h' ? PF_EXIT_OK : PF_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        fputs(USAGE, stderr);
        return PF_EXIT_USAGE;
    }
    return -1;
}

/* The output's form from its name (docs/user-guide.md "Output forms"):
 * 1 archive, 0 folder, -1 refused (said why). */
static int output_form(const char *given, const char *out) {
    int slash = ends_with(given, "/");
    if (ends_with(out, ".tar.zst") || ends_with(out, ".tzst")) {
        if (!slash)
            return 1;
        fprintf(stderr, "pfexport: %s: an archive's name with a trailing '/' (a folder?)\n", given);
        return -1;
    }
    struct stat st;
    if (slash || (stat(out, &st) == 0 && S_ISDIR(st.st_mode)))
        return 0;
    const char *base = pf_path_basename(out), *dot = strrchr(base, '.');
    if (!dot || dot == base) /* "dist", ".hidden": no suffix */
        return 0;
    fprintf(stderr,
            "pfexport: %s: unknown output form '%s' (write OUT.tar.zst or OUT.tzst for an "
            "archive; a folder is an existing folder, a name ending in '/', or a name without a "
            "suffix)\n",
            given, dot);
    return -1;
}

int main(int argc, char **argv) {
    cli o = {.level = 3};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    const char *cat = argv[optind];
    char *out = pf_xstrdup(argv[optind + 1]);
    for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--)
        out[n - 1] = '\0'; /* "dist/" names the folder dist: its temporary sits beside it */
    char err[PF_ERRLEN];
    int archive = output_form(argv[optind + 1], out);
    if (archive < 0 || (!archive && o.level_given)) {
        if (archive == 0)
            fprintf(stderr, "pfexport: --level: %s is a folder; only archives are compressed\n",
                    argv[optind + 1]);
        free(out);
        return PF_EXIT_USAGE;
    }
    struct stat st;
    if (!o.force && stat(out, &st) == 0) {
        if (archive || !S_ISDIR(st.st_mode) || is_empty_dir(out) != 1) {
            fprintf(stderr, "pfexport: %s: exists%s (use --force to replace it)\n", out,
                    archive || !S_ISDIR(st.st_mode) ? "" : " and is not empty");
            free(out);
            return PF_EXIT_FAIL;
        }
    }
    nodes ns = {.mode_mask = o.keep_setuid ? 07777 : 0777};
    int lt = load_tree(cat, &ns, err, sizeof err);
    int r = lt == 0 ? 0 : -2; /* -2: nothing to remove */
    pf_run_signals_install(); /* the temporary goes on exit, Ctrl-C and SIGTERM */
    pf_run_clean_stale(out, "pfexport");
    char *tmp = pf_xasprintf("%s.tmp-%d", out, (int)getpid());
    /* registered before it exists: a signal as soon as it is made removes it */
    if (r == 0 && pf_run_cleanup_add(tmp, 0) != 0) {
        pf_seterr(err, sizeof err, "%s: %s", out, strerror(errno));
        r = -2;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (r == 0)
        r = archive ? write_tar(&ns, tmp, o.level, err, sizeof err)
                    : write_folder(&ns, tmp, out, err, sizeof err);
    if (r == 0)
        r = put_in_place(tmp, out, err, sizeof err);
    if (r != 0) {
        pf_run_unalias(err, sizeof err, tmp, out);
        fprintf(stderr, "pfexport: %s\n", err);
        if (r != -2)
            pf_rm_rf(tmp);
    } else {
        report(&ns, out, &t0);
    }
    for (size_t i = 0; i < ns.n; i++)
        pf_node_free(&ns.v[i]);
    free(ns.v);
    pf_roots_free(&ns.roots);
    free(tmp);
    free(out);
    return lt == -2 ? PF_EXIT_USAGE : r ? PF_EXIT_FAIL : PF_EXIT_OK;
}
