/* pfmount.c: `pfmount CATALOG MOUNTPOINT [-f] [-o OPTIONS]`: command line,
 * the catalog checks done before anything is mounted, the mount options,
 * and the session's life (daemonize, multithreaded loop, clean unmount on
 * SIGTERM/SIGINT/SIGHUP and on fusermount3 -u). The operations are in
 * ops.c, the per-thread catalog connections in tdb.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "pfmount.h"
#include "pyfarm/catalog.h"
#include "pyfarm/cli.h"
#include "pyfarm/util.h"

pfm_config pfm = {.log_fd = 2, .catalog_fd = -1};

/* pfmount's own -o options; the rest go to libfuse and the kernel. */
typedef struct opts {
    char *catalog;
    double timeout;
    unsigned readahead_kb;
    char *verify;
    int private_mount;
} opts;

#define OPT(t, m)                                                                                  \
    { t, offsetof(opts, m), 1 }
static const struct fuse_opt opt_spec[] = {
    OPT("timeout=%lf", timeout), OPT("readahead=%u", readahead_kb), OPT("verify=%s", verify),
    OPT("private", private_mount), FUSE_OPT_END};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs) {
    (void)outargs;
    opts *o = data;
    if (key == FUSE_OPT_KEY_NONOPT && !o->catalog) {
        o->catalog = strdup(arg);
        return 0; /* consumed; the next one is the mount point */
    }
    return 1;
}

static void usage(const char *prog) {
    printf("usage: %s CATALOG MOUNTPOINT [-f] [-o OPTIONS]\n"
           "Serve a pyfarm catalog's dist tree read-only over FUSE.\n\n"
           "pfmount options:\n"
           "    -o timeout=SECONDS     kernel entry/attribute cache time (default 86400)\n"
           "    -o readahead=KB        readahead window of the mount (default 1024; 0: kernel's)\n"
           "    -o verify=hash         hash each file at open against the catalog; serve it\n"
           "                           only while its source's ctime stays as hashed\n"
           "    -o allow_other         let other users in (each file still only to users\n"
           "                           who may read its source; see docs/pfmount.md)\n"
           "    -o private             the default (kept for old command lines)\n"
           "Unmount with fusermount3 -u MOUNTPOINT, SIGTERM or SIGINT.\n"
           "Exit status: 0 ok, 1 mount failed, 2 usage or unusable catalog.\n\n",
           prog);
}

/* A mount point as /proc/self/mountinfo spells it (blanks and backslashes
 * as \ooo octal). */
static void mountinfo_escape(const char *mnt, char *esc, size_t len) {
    size_t k = 0;
    for (const char *s = mnt; *s && k + 5 < len; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\\')
            k += (size_t)snprintf(esc + k, len - k, "\\%03o", (unsigned char)*s);
        else
            esc[k++] = *s;
    }
    esc[k] = 0;
}

/* The type and source of the topmost mount at mnt (an absolute, resolved
 * path), or 0 when nothing is mounted there. */
static int mounted_at(const char *mnt, char *type, char *source, size_t len) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        return 0;
    char line[8192], esc[4096];
    mountinfo_escape(mnt, esc, sizeof esc);
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        char mp[4096], t[256], src[4096];
        const char *dash = strstr(line, " - ");
        if (sscanf(line, "%*u %*u %*s %*s %4095s", mp) != 1 || !dash ||
            sscanf(dash + 3, "%255s %4095s", t, src) != 2 || strcmp(mp, esc) != 0)
            continue;
        snprintf(type, len, "%s", t); /* the last one is on top */
        snprintf(source, len, "%s", src);
        found = 1;
    }
    fclose(f);
    return found;
}

/* -o values that parse but make no sense; the status to exit with, or -1. */
static int check_values(const opts *o) {
    if (o->verify && strcmp(o->verify, "hash") != 0 && strcmp(o->verify, "stat") != 0) {
        fprintf(stderr, "pfmount: -o verify=%s: expected hash or stat\n", o->verify);
        return PF_EXIT_USAGE;
    }
    if (!isfinite(o->timeout) || o->timeout < 0) {
        fprintf(stderr, "pfmount: -o timeout=%g: expected seconds, 0 or more\n", o->timeout);
        return PF_EXIT_USAGE;
    }
    if (o->readahead_kb > 1048576) {
        fprintf(stderr, "pfmount: -o readahead=%u: expected KB, at most 1048576\n",
                o->readahead_kb);
        return PF_EXIT_USAGE;
    }
    return -1;
}

/* A second pfmount on a mount point would stack over the first one. */
static int already_mounted(const char *mountpoint) {
    char *real = realpath(mountpoint, NULL);
    if (!real)
        return 0; /* fuse_session_mount says why */
    char type[4096], source[4096];
    int r = mounted_at(real, type, source, sizeof type) && strcmp(type, "fuse.pyfarm") == 0;
    if (r)
        fprintf(stderr,
                "pfmount: %s: %s is already mounted here (unmount it first: fusermount3 -u %s)\n",
                mountpoint, source, mountpoint);
    free(real);
    return r;
}

/* Facts the operations need that would otherwise cost a query per call:
 * totals for statfs and, when ids are dense, every folder's subfolder
 * count (nlink). One pass over the tree at start; never again. */
static int precompute(pf_catalog *c, char *err, size_t errlen) {
    sqlite3_stmt *st = NULL;
    int64_t max_id = 0;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT count(*), coalesce(sum(size), 0), coalesce(max(id), 0)"
                           " FROM tree",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        pf_seterr(err, errlen, "%s: cannot read the tree: %s", c->path, sqlite3_errmsg(c->db));
        sqlite3_finalize(st);
        return -1;
    }
    pfm.nodes = (uint64_t)sqlite3_column_int64(st, 0);
    pfm.total_bytes = (uint64_t)sqlite3_column_int64(st, 1);
    max_id = sqlite3_column_int64(st, 2);
    sqlite3_finalize(st);
    if (max_id < 0 || max_id > 4 * (int64_t)pfm.nodes + 1024)
        return 0; /* sparse ids: count per call instead */
    pfm.nsub_len = max_id + 1;
    pfm.nsub = pf_xcalloc((size_t)pfm.nsub_len, sizeof *pfm.nsub);
    if (sqlite3_prepare_v2(c->db, "SELECT parent FROM tree WHERE type='d'", -1, &st, NULL) !=
        SQLITE_OK) {
        pf_seterr(err, errlen, "%s: cannot read the tree: %s", c->path, sqlite3_errmsg(c->db));
        return -1;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t p = sqlite3_column_int64(st, 0);
        if (p > 0 && p < pfm.nsub_len)
            pfm.nsub[p]++;
    }
    sqlite3_finalize(st);
    return 0;
}

/* Every per-request statement must go through an index: a catalog
 * written without tree_child would turn each lookup into a scan, so say
 * so. (The root folder, id 1, is checked by pf_catalog_validate.) */
static int check_tree(pf_catalog *c, char *err, size_t errlen) {
    for (int i = 0; pfm_sql[i]; i++) {
        char *q = pf_xasprintf("EXPLAIN QUERY PLAN %s", pfm_sql[i]);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(c->db, q, -1, &st, NULL) != SQLITE_OK) {
            pf_seterr(err, errlen, "%s: catalog lacks what pfmount reads: %s", c->path,
                      sqlite3_errmsg(c->db));
            free(q);
            return -1;
        }
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(st, 3);
            if (detail && strncmp(detail, "SCAN", 4) == 0)
                fprintf(stderr, "pfmount: warning: %s: no index for \"%s\" (%s)\n", c->path,
                        pfm_sql[i], detail);
        }
        sqlite3_finalize(st);
        free(q);
    }
    return 0;
}

/* The kernel caps readahead at the mount's bdi window (128 KiB by default),
 * whatever max_readahead says; widen it through sysfs. The bdi is named by
 * the mount's device number, read from mountinfo (a stat of the mount
 * point from here would be a FUSE request to ourselves). The INIT reply
 * lowers the window to what the kernel offered, so ops.c calls this once
 * the first request after INIT arrives. */
void pfm_set_readahead(void) {
    const char *mnt = pfm.mountpoint;
    unsigned kb = pfm.readahead_kb;
    if (!kb || !mnt)
        return;
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        return;
    char line[8192], dev[64] = "";
    while (fgets(line, sizeof line, f)) {
        unsigned id, pid;
        char devno[64], root[4096], mp[4096];
        if (sscanf(line, "%u %u %63s %4095s %4095s", &id, &pid, devno, root, mp) != 5)
            continue;
        /* mountinfo escapes blanks as \040; compare the escaped form. */
        char esc[4096];
        mountinfo_escape(mnt, esc, sizeof esc);
        if (strcmp(mp, esc) == 0)
            snprintf(dev, sizeof dev, "%s", devno); /* the last one is ours */
    }
    fclose(f);
    if (!dev[0])
        return;
    char path[128];
    snprintf(path, sizeof path, "/sys/class/bdi/%s/read_ahead_kb", dev);
    FILE *w = fopen(path, "w");
    if (!w)
        return; /* not root: keep the kernel's window */
    fprintf(w, "%u\n", kb);
    fclose(w);
}

/* The command line into o and copts; -1 to go on, or the status to exit
 * with (--help and --version included). */
static int parse_cmdline(struct fuse_args *args, opts *o, struct fuse_cmdline_opts *copts,
                         const char *prog) {
    if (fuse_opt_parse(args, o, opt_spec, opt_proc) != 0)
        return PF_EXIT_USAGE; /* libfuse said which option */
    if (fuse_parse_cmdline(args, copts) != 0)
        return PF_EXIT_USAGE;
    if (copts->show_help) {
        usage(prog);
        fuse_cmdline_help();
        fuse_lowlevel_help();
        return PF_EXIT_OK;
    }
    if (copts->show_version) {
        printf("pfmount (pyfarm) %s, libfuse %s\n", PF_VERSION, fuse_pkgversion());
        return PF_EXIT_OK;
    }
    if (!o->catalog || !copts->mountpoint) {
        fprintf(stderr, "usage: %s CATALOG MOUNTPOINT [-f] [-o OPTIONS] (-h for help)\n", prog);
        return PF_EXIT_USAGE;
    }
    return check_values(o);
}

int main(int argc, char **argv) {
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    opts o = {.timeout = 86400, .readahead_kb = 1024};
    struct fuse_cmdline_opts copts;
    memset(&copts, 0, sizeof copts);
    struct fuse_session *se = NULL;
    char *mount_opts = NULL;

    int ret = parse_cmdline(&args, &o, &copts, argv[0]);
    if (ret >= 0)
        goto out;        /* what was parsed is freed there */
    ret = PF_EXIT_USAGE; /* until the catalog is known good */
    pfm.verify_hash = o.verify && strcmp(o.verify, "hash") == 0;
    pfm.timeout = o.timeout;
    pfm.readahead_kb = o.readahead_kb;

    /* Everything about the catalog is checked before the mount, so a bad
     * catalog leaves nothing mounted. */
    char err[PF_ERRLEN];
    pfm.catalog = realpath(o.catalog, NULL);
    if (!pfm.catalog) {
        fprintf(stderr, "pfmount: %s: %s\n", o.catalog, strerror(errno));
        goto out;
    }
    /* One catalog for the mount's lifetime: this fd's inode is what every
     * thread reads, whatever later happens to the path. */
    pfm.catalog_fd = pf_catalog_open_file(pfm.catalog, err, sizeof err);
    if (pfm.catalog_fd < 0 || fstat(pfm.catalog_fd, &pfm.catalog_st) != 0) {
        fprintf(stderr, "pfmount: %s\n", err);
        goto out;
    }
    pf_catalog *cat = NULL;
    if (pf_catalog_open_fd(pfm.catalog_fd, pfm.catalog, &cat, err, sizeof err) != 0) {
        fprintf(stderr, "pfmount: %s\n", err);
        goto out;
    }
    int bad = check_tree(cat, err, sizeof err) || precompute(cat, err, sizeof err) ||
              pf_roots_load(cat, &pfm.roots, err, sizeof err);
    /* Closed before fuse_daemonize forks: no SQLite handle crosses a fork. */
    pf_catalog_close(cat);
    if (bad) {
        fprintf(stderr, "pfmount: %s\n", err);
        goto out;
    }
    ret = PF_EXIT_FAIL;
    if (already_mounted(copts.mountpoint))
        goto out;

    /* Read-only; permissions checked by the kernel against the catalog's
     * modes. allow_other only when asked (-o allow_other): then ops.c
     * still serves each file only to users who may read its source. */
    if (fuse_opt_add_opt(&mount_opts, "ro") ||
        fuse_opt_add_opt(&mount_opts, "default_permissions") ||
        fuse_opt_add_opt(&mount_opts, "subtype=pyfarm")) {
        goto out;
    }
    char *fsname = pf_xasprintf("fsname=%s", pfm.catalog);
    fuse_opt_add_opt_escaped(&mount_opts, fsname);
    free(fsname);
    fuse_opt_add_arg(&args, "-o");
    fuse_opt_add_arg(&args, mount_opts);

    if (pfm_db_init() != 0) {
        fprintf(stderr, "pfmount: cannot create thread keys\n");
        goto out;
    }
    se = fuse_session_new(&args, &pfm_ops, sizeof pfm_ops, NULL);
    if (!se)
        goto out; /* libfuse printed why (an unknown -o option, say) */
    if (fuse_set_signal_handlers(se) != 0)
        goto out_session;
    pfm.mountpoint = realpath(copts.mountpoint, NULL); /* the daemon's cwd is / */
    if (fuse_session_mount(se, copts.mountpoint) != 0)
        goto out_signals;

    /* In the background, fault lines still go to the stderr we were started
     * with (a terminal or a log file); a pipe would keep whoever reads it
     * waiting until the unmount, so then they go to syslog. */
    if (!copts.foreground) {
        struct stat es;
        if (fstat(2, &es) != 0 || S_ISFIFO(es.st_mode) || S_ISSOCK(es.st_mode)) {
            pfm.log_fd = -1;
            pfm.log_syslog = 1;
        } else {
            pfm.log_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
        }
    }
    if (fuse_daemonize(copts.foreground) != 0)
        goto out_unmount;
    if (pfm.log_syslog)
        openlog("pfmount", LOG_PID, LOG_DAEMON);

    if (copts.singlethread) {
        ret = fuse_session_loop(se);
        pfm_db_release();
    } else {
        struct fuse_loop_config *cfg = fuse_loop_cfg_create();
        fuse_loop_cfg_set_clone_fd(cfg, copts.clone_fd);
        /* UINT_MAX is libfuse's "never reap idle workers", which keeps
         * each worker's catalog connection warm; only pass a real limit. */
        if (copts.max_idle_threads != UINT_MAX)
            fuse_loop_cfg_set_idle_threads(cfg, copts.max_idle_threads);
        fuse_loop_cfg_set_max_threads(cfg, copts.max_threads);
        ret = fuse_session_loop_mt(se, cfg);
        fuse_loop_cfg_destroy(cfg);
    }
    pfm_ops_cleanup();
    /* A signal ends the loop with its number: that is a requested, clean
     * stop, as is fusermount3 -u (0). */
    if (ret == SIGTERM || ret == SIGINT || ret == SIGHUP)
        ret = 0;
    ret = ret ? 1 : 0;

out_unmount:
    fuse_session_unmount(se);
out_signals:
    fuse_remove_signal_handlers(se);
out_session:
    fuse_session_destroy(se);
out:
    free(mount_opts);
    free(copts.mountpoint);
    fuse_opt_free_args(&args);
    free(o.catalog);
    free(o.verify);
    free(pfm.catalog);
    if (pfm.catalog_fd >= 0)
        close(pfm.catalog_fd);
    pf_roots_free(&pfm.roots);
    free(pfm.nsub);
    free(pfm.mountpoint);
    return ret;
}
