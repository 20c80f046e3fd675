/* pfanalyze.c: the command. Runs COMMAND with the tracer injected, adds
 * the run's records to the catalog, and recomputes the closure and the
 * dist tree from every run recorded. The catalog is replaced atomically:
 * on any error it is left as it was. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analyze.h"
#include "pyfarm/cli.h"
#include "pyfarm/runlock.h"

extern const unsigned char pf_tracer_py[];
extern const size_t pf_tracer_py_len;

static void usage(FILE *fp) {
    fputs("usage: pfanalyze -c CATALOG [OPTIONS] -- COMMAND [ARGS...]\n"
          "       pfanalyze -c CATALOG --reanalyze [OPTIONS]\n"
          "Runs COMMAND, traces every Python process it starts, and records the closure and\n"
          "the dist tree in CATALOG (runs accumulate). Every item of the trace must be\n"
          "accounted for. Exit status: 0 ok, 1 analysis failed (catalog unchanged), 2 usage\n"
          "or unusable catalog, 3 analyzed but COMMAND failed, 127 COMMAND not found.\n"
          "  --env PREFIX            analyze the processes of this environment (sys.prefix)\n"
          "  --include-module NAME   --exclude-module NAME\n"
          "  --include-dist NAME     --exclude-dist NAME\n"
          "  --include-lib PATH      --exclude-lib GLOB\n"
          "  --include-file SRC[=DEST]  --exclude-file GLOB (dist path)\n"
          "  --host-lib GLOB         take libraries matching GLOB from the host\n"
          "  --bundle-lib GLOB       bundle libraries matching GLOB even if on the host list\n"
          "  --glibc bundle|host     ship glibc and the loader (default: hermetic) or use the "
          "host's\n"
          "  --max-glibc X.Y         fail if a bundled file needs a newer glibc\n"
          "  --allow-missing         warn, instead of failing, on what the dist lacks\n"
          "  -q, --quiet\n"
          "  -h, --help              this help\n"
          "  -V, --version           pyfarm's version\n",
          fp);
}

static char *self_dir(void) {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return pf_xstrdup(".");
    buf[n] = 0;
    return pf_path_dirname(buf);
}

/* Helpers shipped with pfanalyze: beside it (build tree: ../tools too), or
 * in the installed libexec/lib folders. */
static char *find_tool(const char *name) {
    const char *env = getenv("PYFARM_TOOLS_DIR"); /* when started through a loader */
    if (env && *env) {
        char *p = pf_path_join(env, name);
        if (access(p, R_OK) == 0)
            return p;
        free(p);
    }
    char *d = self_dir();
    const char *dirs[] = {".", "../tools", "../libexec/pyfarm", "../lib/pyfarm", "../lib"};
    for (size_t i = 0; i < 5; i++) {
        char *rel = pf_path_join(dirs[i], name);
        char *p = pf_path_join(d, rel);
        free(rel);
        char *r = realpath(p, NULL);
        free(p);
        if (r && access(r, R_OK) == 0) {
            free(d);
            return r;
        }
        free(r);
    }
    free(d);
    return NULL;
}

static char *find_preload(void) {
    return find_tool("libpfpreload.so");
}

static int write_file(const char *path, const void *data, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, data, n);
    close(fd);
    return w == (ssize_t)n ? 0 : -1;
}

static int find_in_path(const char *cmd) {
    if (strchr(cmd, '/'))
        return access(cmd, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    char *p = pf_xstrdup(path);
    int ok = 0;
    for (char *s = strtok(p, ":"); s && !ok; s = strtok(NULL, ":")) {
        char *f = pf_path_join(*s ? s : ".", cmd);
        struct stat st;
        ok = stat(f, &st) == 0 && S_ISREG(st.st_mode) && access(f, X_OK) == 0;
        free(f);
    }
    free(p);
    return ok;
}

/* Run argv with the tracer injected; returns its wait status or -1. */
static int run_traced(char **argv, const char *tracedir, char *err, size_t errlen) {
    char *tdir = pf_path_join(tracedir, "tracer"), *rdir = pf_path_join(tracedir, "records");
    char *tfile = pf_path_join(tdir, "sitecustomize.py");
    if (pf_mkdirs(tdir, 0700) || pf_mkdirs(rdir, 0700) ||
        write_file(tfile, pf_tracer_py, pf_tracer_py_len)) {
        pf_seterr(err, errlen, "%s: %s", tracedir, strerror(errno));
        return -1;
    }
    const char *pp = getenv("PYTHONPATH");
    char *newpp = pp && *pp ? pf_xasprintf("%s:%s", tdir, pp) : pf_xstrdup(tdir);
    char *pre = find_preload();
    const char *lp = getenv("LD_PRELOAD");
    char *newlp = NULL;
    if (pre)
        newlp = lp && *lp ? pf_xasprintf("%s:%s", pre, lp) : pf_xstrdup(pre);
    pid_t pid = pf_run_fork_guarded(); /* the app dies with pfanalyze */
    if (pid < 0) {
        pf_seterr(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        setenv("PYTHONPATH", newpp, 1);
        setenv("PYFARM_TRACE_DIR", rdir, 1);
        if (newlp)
            setenv("LD_PRELOAD", newlp, 1);
        execvp(argv[0], argv);
        fprintf(stderr, "pfanalyze: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    /* the command owns the terminal's signals; we wait for its end */
    pf_run_child_started(pid);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    pf_run_child_ended();
    free(tdir);
    free(rdir);
    free(tfile);
    free(newpp);
    free(pre);
    free(newlp);
    return st;
}

static int copy_file(const char *from, const char *to) {
    size_t n;
    char *d = pf_read_file(from, &n, NULL, 0);
    if (!d)
        return -1;
    int r = write_file(to, d, n);
    free(d);
    return r;
}

/* A run's entry process: a Python process whose parent was not traced. */
static int is_entry(const pf_facts *f, const pf_proc *p) {
    for (size_t j = 0; j < f->n; j++)
        if (f->v[j]->python && f->v[j]->pid == p->ppid && f->v[j]->run_id == p->run_id)
            return 0;
    return 1;
}

/* Choose the processes to analyze: one environment (sys.prefix). */
static pf_proc **select_env(pf_facts *f, const pf_opts *o, size_t *n, char *err, size_t errlen) {
    pf_strv envs = {0};
    for (size_t i = 0; i < f->n; i++)
        if (f->v[i]->python && f->v[i]->prefix && !pf_strv_contains(&envs, f->v[i]->prefix))
            pf_strv_push(&envs, f->v[i]->prefix);
    const char *chosen = NULL;
    if (o->env) {
        char *want = realpath(o->env, NULL);
        for (size_t i = 0; i < envs.n && !chosen; i++) {
            char *have = realpath(envs.v[i], NULL);
            if ((want && have && strcmp(want, have) == 0) || strcmp(o->env, envs.v[i]) == 0)
                chosen = envs.v[i];
            free(have);
        }
        free(want);
        if (!chosen) {
            pf_seterr(err, errlen, "--env %s: no traced process ran in that environment", o->env);
            pf_strv_free(&envs);
            return NULL;
        }
    } else if (envs.n == 1) {
        chosen = envs.v[0];
    } else if (envs.n == 0) {
        pf_seterr(err, errlen, "%s: no Python process was traced", o->catalog);
        return NULL;
    } else {
        /* the entry's environment: where every run's first Python process ran */
        const char *entry = NULL;
        int unique = 1;
        for (size_t i = 0; i < f->n; i++)
            if (f->v[i]->python && f->v[i]->prefix && is_entry(f, f->v[i])) {
                if (!entry)
                    entry = f->v[i]->prefix;
                else if (strcmp(entry, f->v[i]->prefix) != 0)
                    unique = 0;
            }
        pf_buf b = {0};
        for (size_t i = 0; i < envs.n; i++) {
            size_t k = 0;
            for (size_t j = 0; j < f->n; j++)
                k += f->v[j]->prefix && strcmp(f->v[j]->prefix, envs.v[i]) == 0;
            pf_buf_printf(&b, "%s%s (%zu processes)", i ? ", " : "", envs.v[i], k);
        }
        if (entry && unique) {
            chosen = entry;
            if (!o->quiet)
                fprintf(stderr,
                        "pfanalyze: note: analyzing the entry's environment %s; traced "
                        "environments: %s (--env chooses another)\n",
                        entry, (char *)b.p);
            pf_buf_free(&b);
        } else {
            pf_seterr(err, errlen,
                      "traced processes ran in %zu Python environments; choose one with --env: %s",
                      envs.n, (char *)b.p);
            pf_buf_free(&b);
            pf_strv_free(&envs);
            return NULL;
        }
    }
    pf_proc **v = pf_xcalloc(f->n + 1, sizeof *v);
    *n = 0;
    /* the entry first: the earliest process whose parent was not traced */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < f->n; i++) {
            pf_proc *p = f->v[i];
            if (!p->python || !p->prefix || strcmp(p->prefix, chosen) != 0)
                continue;
            int root = is_entry(f, p);
            if ((pass == 0) == (root && !*n)) {
                if (pass == 0 && *n)
                    continue;
                v[(*n)++] = p;
            }
        }
    pf_strv_free(&envs);
    return v;
}

static void vpush(pf_strv *v, const char *s) {
    pf_strv_push(v, s);
}

/* Exit statuses (docs/user-guide.md): an analysis failure is never hidden
 * behind the app's status. */
enum {
    EXIT_OK = PF_EXIT_OK,               /* analysis done; the app exited 0 */
    EXIT_ANALYSIS = PF_EXIT_FAIL,       /* analysis failed: the catalog is as it was */
    EXIT_USAGE = PF_EXIT_USAGE,         /* bad options or an unusable catalog: nothing ran */
    EXIT_APP = PF_EXIT_APP,             /* analysis done; the app exited non-zero or was killed */
    EXIT_NOT_FOUND = PF_EXIT_NOT_FOUND, /* COMMAND not found */
};

/* --max-glibc X.Y: two or three dot-separated numbers, as GLIBC_X.Y. */
static int valid_glibc_version(const char *s) {
    int parts = 0;
    while (*s) {
        if (*s < '0' || *s > '9')
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
        parts++;
        if (*s == '.' && s[1])
            s++;
        else if (*s)
            return 0;
    }
    return parts >= 2 && parts <= 3;
}

static void free_opts(pf_opts *o) {
    free(o->catalog_real);
    free(o->launcher);
    pf_strv *lists[] = {&o->include_modules, &o->exclude_modules, &o->include_dists,
                        &o->exclude_dists,   &o->include_libs,    &o->exclude_libs,
                        &o->include_files,   &o->exclude_files,   &o->host_libs,
                        &o->bundle_libs};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        pf_strv_free(lists[i]);
}

/* Options into o; returns -1 to go on, or the status to exit with. */
static int parse_args(int argc, char **argv, pf_opts *o, const char **glibc) {
    enum {
        O_ENV = 256,
        O_IM,
        O_EM,
        O_ID,
        O_ED,
        O_IL,
        O_EL,
        O_IF,
        O_EF,
        O_HL,
        O_BL,
        O_MG,
        O_AM,
        O_RE,
        O_GL
    };
    static const struct option lo[] = {{"catalog", required_argument, 0, 'c'},
                                       {"env", required_argument, 0, O_ENV},
                                       {"include-module", required_argument, 0, O_IM},
                                       {"exclude-module", required_argument, 0, O_EM},
                                       {"include-dist", required_argument, 0, O_ID},
                                       {"exclude-dist", required_argument, 0, O_ED},
                                       {"include-lib", required_argument, 0, O_IL},
                                       {"exclude-lib", required_argument, 0, O_EL},
                                       {"include-file", required_argument, 0, O_IF},
                                       {"exclude-file", required_argument, 0, O_EF},
                                       {"host-lib", required_argument, 0, O_HL},
                                       {"bundle-lib", required_argument, 0, O_BL},
                                       {"max-glibc", required_argument, 0, O_MG},
                                       {"allow-missing", no_argument, 0, O_AM},
                                       {"reanalyze", no_argument, 0, O_RE},
                                       {"glibc", required_argument, 0, O_GL},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {"version", no_argument, 0, 'V'},
                                       {0, 0, 0, 0}};
    pf_strv *lists[] = {[O_IM - O_IM] = &o->include_modules, [O_EM - O_IM] = &o->exclude_modules,
                        [O_ID - O_IM] = &o->include_dists,   [O_ED - O_IM] = &o->exclude_dists,
                        [O_IL - O_IM] = &o->include_libs,    [O_EL - O_IM] = &o->exclude_libs,
                        [O_IF - O_IM] = &o->include_files,   [O_EF - O_IM] = &o->exclude_files,
                        [O_HL - O_IM] = &o->host_libs,       [O_BL - O_IM] = &o->bundle_libs};
    int ch;
    while ((ch = getopt_long(argc, argv, "+c:qhV", lo, NULL)) != -1) {
        if (ch >= O_IM && ch <= O_BL) {
            vpush(lists[ch - O_IM], optarg);
            continue;
        }
        switch (ch) {
        case 'c':
            o->catalog = optarg;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 'V':
            return pf_cli_version("pfanalyze");
        case O_ENV:
            o->env = optarg;
            break;
        case O_MG:
            if (!valid_glibc_version(optarg)) {
                fprintf(stderr, "pfanalyze: --max-glibc %s: expected a glibc version like 2.31\n",
                        optarg);
                return EXIT_USAGE;
            }
            o->max_glibc = optarg;
            break;
        case O_AM:
            o->allow_missing = 1;
            break;
        case O_RE:
            o->no_trace = 1;
            break;
        case O_GL:
            *glibc = optarg;
            break;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!o->catalog || (optind >= argc && !o->no_trace)) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return -1;
}

/* --glibc, and what the chosen mode needs; -1 to go on, or the status. */
static int setup_glibc(pf_opts *o, const char *glibc) {
    if (strcmp(glibc, "host") == 0)
        return -1;
    if (strcmp(glibc, "bundle") != 0) {
        fprintf(stderr, "pfanalyze: --glibc %s: expected 'host' or 'bundle'\n", glibc);
        return EXIT_USAGE;
    }
    o->bundle_glibc = 1;
    o->launcher = find_tool("pflaunch");
    if (!o->launcher) {
        fprintf(stderr, "pfanalyze: --glibc bundle: the launcher pflaunch is not installed "
                        "beside pfanalyze\n");
        return EXIT_USAGE;
    }
    return -1;
}

/* The catalog's absolute path (kept out of the app folder). */
static void set_catalog_real(pf_opts *o) {
    char *cwd0 = getcwd(NULL, 0);
    char *abs =
        o->catalog[0] == '/' || !cwd0 ? pf_xstrdup(o->catalog) : pf_path_join(cwd0, o->catalog);
    o->catalog_real = pf_path_normalize(abs);
    free(abs);
    free(cwd0);
}

/* The runs row of this trace and its records; -1 on error. */
static int record_run(pf_catalog *c, char **cmd, const char *cwd, int exit_code,
                      const char *tracedir, char *err, size_t errlen) {
    pf_buf a = {0};
    for (char **s = cmd; *s; s++)
        pf_buf_printf(&a, "%s%s", s == cmd ? "" : " ", *s);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(c->db,
                       "INSERT INTO runs(argv, cwd, started, status) VALUES(?,?,"
                       "datetime('now'),?)",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, (char *)a.p, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, cwd ? cwd : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, exit_code);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    pf_buf_free(&a);
    if (rc != SQLITE_DONE) {
        pf_seterr(err, errlen, "%s: cannot record the run: %s", c->path ? c->path : "catalog",
                  sqlite3_errmsg(c->db));
        return -1;
    }
    int64_t run_id = sqlite3_last_insert_rowid(c->db);
    char *rdir = pf_path_join(tracedir, "records");
    int np = 0;
    int r = pf_ingest_dir(c, rdir, run_id, &np, err, errlen);
    free(rdir);
    if (r == 0 && np == 0) {
        pf_seterr(err, errlen, "%s: no Python process was traced (exit status %d)", cmd[0],
                  exit_code);
        r = -1;
    }
    return r;
}

/* --max-glibc: every bundled file that needs a newer glibc, in one line. */
static int check_max_glibc(const pf_plan *plan, const pf_opts *o, char *err, size_t errlen) {
    if (!o->max_glibc || !plan->max_glibc || pf_glibc_vercmp(plan->max_glibc, o->max_glibc) <= 0)
        return 0;
    pf_buf b = {0};
    for (size_t i = 0; i < plan->n; i++) {
        const pf_entry *e = plan->v[i];
        if (e->elf && e->info.max_glibc && pf_glibc_vercmp(e->info.max_glibc, o->max_glibc) > 0)
            pf_buf_printf(&b, "%s%s (GLIBC_%s)", b.n ? ", " : "", e->dest, e->info.max_glibc);
    }
    pf_seterr(err, errlen, "--max-glibc %s: these files need newer: %s", o->max_glibc, (char *)b.p);
    pf_buf_free(&b);
    return -1;
}

/* Every stage, from the facts to a plan that the check accounts for. */
static int plan_dist(pf_plan *plan, pf_facts *f, pf_proc **procs, size_t np, const pf_opts *o,
                     pf_account_stats *acc, char *err, size_t errlen) {
    int r = pf_plan_python(plan, f, procs, np, o, err, errlen);
    if (!r)
        r = pf_plan_includes(plan, o, err, errlen);
    if (!r)
        r = pf_plan_native(plan, f, procs, np, o, err, errlen);
    if (!r)
        r = check_max_glibc(plan, o, err, errlen);
    if (!r)
        r = pf_plan_launch(plan, o, err, errlen);
    if (!r) {
        pf_account_debug_drop(plan);
        r = pf_account(plan, f, procs, np, o, acc, err, errlen);
    }
    return r;
}

/* Warnings and facts about the analysis into the catalog. */
static void store_results(pf_catalog *c, const pf_plan *plan, const pf_opts *o,
                          const pf_proc *entry) {
    pf_catalog_exec(c, "DELETE FROM warnings", NULL, 0);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(c->db, "INSERT INTO warnings(kind, message) VALUES('analysis', ?)", -1, &st,
                       NULL);
    for (size_t i = 0; i < plan->warnings.n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, plan->warnings.v[i], -1, SQLITE_STATIC);
        sqlite3_step(st);
        if (!o->quiet)
            fprintf(stderr, "pfanalyze: warning: %s\n", plan->warnings.v[i]);
    }
    sqlite3_finalize(st);
    pf_catalog_meta_set(c, "glibc_mode", o->bundle_glibc ? "bundle" : "host");
    pf_catalog_meta_set(c, "max_glibc", plan->max_glibc ? plan->max_glibc : "");
    pf_catalog_meta_set(c, "env", entry->prefix);
    pf_catalog_meta_set(c, "python_version", pf_proc_info(entry, "version"));
    pf_catalog_meta_set(c, "entry_kind", plan->entry_kind ? plan->entry_kind : "");
    char ts[32];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    pf_catalog_meta_set(c, "analyzed", ts);
}

static double since(const struct timespec *a) {
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

static void print_summary(const pf_plan *plan, const pf_opts *o, const pf_proc *entry,
                          double trace_s, double analysis_s, const pf_account_stats *acc) {
    uint64_t bytes = 0;
    size_t files = 0;
    for (size_t i = 0; i < plan->n; i++) {
        const pf_entry *e = plan->v[i];
        if (e->type != 'f')
            continue;
        files++;
        struct stat sb;
        bytes += e->patch                    ? e->size
                 : e->data                   ? e->data_len
                 : stat(e->source, &sb) == 0 ? (uint64_t)sb.st_size
                                             : 0;
    }
    fprintf(stderr,
            "pfanalyze: %s: %zu files, %.1f MB; environment %s; newest glibc needed %s; trace "
            "%.2fs, analysis %.2fs\n"
            "pfanalyze: accounted for: %zu modules, %zu mapped objects, %zu programs, %zu data "
            "files (%.3fs)\n",
            o->catalog, files, (double)bytes / 1e6, entry->prefix,
            plan->max_glibc ? plan->max_glibc : "none", trace_s, analysis_s, acc->modules,
            acc->objects, acc->programs, acc->files, acc->seconds);
}

/* Facts -> plan -> check -> tree, inside the catalog copy's transaction. */
static int analyze_catalog(pf_catalog *c, const pf_opts *o, double trace_s,
                           const struct timespec *t1) {
    char err[PF_ERRLEN] = "";
    pf_facts f;
    if (pf_facts_load(c, &f, err, sizeof err) != 0) {
        fprintf(stderr, "pfanalyze: %s\n", err);
        return -1;
    }
    size_t np = 0;
    pf_proc **procs = select_env(&f, o, &np, err, sizeof err);
    pf_plan plan = {0};
    pf_account_stats acc = {0};
    int r = procs ? plan_dist(&plan, &f, procs, np, o, &acc, err, sizeof err) : -1;
    if (!r)
        r = pf_tree_write(c, &plan, o, err, sizeof err);
    if (!r) {
        store_results(c, &plan, o, procs[0]);
        r = pf_catalog_exec(c, "COMMIT", err, sizeof err);
    }
    if (r)
        fprintf(stderr, "pfanalyze: %s\n", err);
    else if (!o->quiet)
        print_summary(&plan, o, procs[0], trace_s, since(t1), &acc);
    pf_plan_free(&plan);
    free(procs);
    pf_facts_free(&f);
    return r;
}

/* Work on a copy of the catalog; rename it over the catalog only when all
 * went well. Returns 0 when the catalog holds the new analysis. */
static int update_catalog(const pf_opts *o, int exists, char **cmd, const char *cwd, int exit_code,
                          const char *tracedir, double trace_s, const struct timespec *t1) {
    char err[PF_ERRLEN] = "";
    /* one run at a time replaces the catalog: the others wait */
    pf_runlock lock;
    if (pf_runlock_take(o->catalog, o->quiet ? NULL : "pfanalyze", &lock, err, sizeof err) != 0) {
        fprintf(stderr, "pfanalyze: %s\n", err);
        return -1;
    }
    exists = access(o->catalog, F_OK) == 0; /* maybe made by the run we waited for */
    char *tmpcat = pf_xasprintf("%s.tmp-%d", o->catalog, (int)getpid());
    pf_run_cleanup_add(tmpcat, 1);
    pf_catalog *c = NULL;
    int r = -1;
    if (exists && copy_file(o->catalog, tmpcat) != 0)
        fprintf(stderr, "pfanalyze: %s: cannot copy: %s\n", o->catalog, strerror(errno));
    else if (pf_catalog_create(tmpcat, &c, err, sizeof err) != 0) {
        pf_run_unalias(err, sizeof err, tmpcat, o->catalog);
        fprintf(stderr, "pfanalyze: %s\n", err);
    } else {
        free(c->path); /* messages name the user's catalog, not the copy */
        c->path = pf_xstrdup(o->catalog);
        if (pf_catalog_exec(c, "BEGIN", err, sizeof err) != 0 ||
            (tracedir && record_run(c, cmd, cwd, exit_code, tracedir, err, sizeof err) != 0))
            fprintf(stderr, "pfanalyze: %s\n", err);
        else
            r = analyze_catalog(c, o, trace_s, t1);
    }
    if (c)
        pf_catalog_close(c);
    if (r == 0 && rename(tmpcat, o->catalog) != 0) {
        fprintf(stderr, "pfanalyze: %s: %s\n", o->catalog, strerror(errno));
        r = -1;
    }
    if (r != 0)
        unlink(tmpcat);
    pf_runlock_drop(&lock);
    free(tmpcat);
    return r;
}

/* A bad catalog is refused before anything runs. */
static int catalog_usable(const char *path) {
    char err[PF_ERRLEN] = "";
    pf_catalog *c0;
    if (pf_catalog_open(path, 0, &c0, err, sizeof err) != 0) {
        fprintf(stderr, "pfanalyze: %s\n", err);
        return 0;
    }
    pf_catalog_close(c0);
    return 1;
}

/* The app's status, as a shell reports it (128+N for signal N). */
static int app_status(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
    pf_opts o = {0};
    const char *glibc = "bundle"; /* hermetic by default */
    int rc = parse_args(argc, argv, &o, &glibc);
    if (rc < 0)
        rc = setup_glibc(&o, glibc);
    char **cmd = argv + optind;
    int exists = access(o.catalog ? o.catalog : "", F_OK) == 0;
    if (rc < 0 && exists && !catalog_usable(o.catalog))
        rc = EXIT_USAGE;
    if (rc < 0 && !exists && o.no_trace) {
        fprintf(stderr, "pfanalyze: %s: no such catalog (--reanalyze needs one that holds runs)\n",
                o.catalog);
        rc = EXIT_USAGE;
    }
    if (rc < 0 && !o.no_trace && !find_in_path(cmd[0])) {
        fprintf(stderr, "pfanalyze: %s: command not found\n", cmd[0]);
        rc = EXIT_NOT_FOUND;
    }
    if (rc >= 0) {
        free_opts(&o);
        return rc;
    }
    set_catalog_real(&o);
    pf_run_signals_install(); /* temporaries go on exit, Ctrl-C and SIGTERM */
    const char *tracedir = NULL;
    char *cwd = getcwd(NULL, 0);
    int exit_code = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!o.no_trace) {
        char err[PF_ERRLEN] = "";
        int status = -1;
        tracedir = pf_run_trace_dir(o.quiet ? NULL : "pfanalyze", err, sizeof err);
        if (!tracedir)
            fprintf(stderr, "pfanalyze: %s\n", err);
        else if ((status = run_traced(cmd, tracedir, err, sizeof err)) < 0)
            fprintf(stderr, "pfanalyze: %s\n", err);
        if (status < 0) {
            if (tracedir)
                pf_rm_rf(tracedir);
            free(cwd);
            free_opts(&o);
            return EXIT_ANALYSIS;
        }
        exit_code = app_status(status);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double trace_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    int r = update_catalog(&o, exists, cmd, cwd, exit_code, tracedir, trace_s, &t1);
    if (exit_code)
        fprintf(stderr, "pfanalyze: %s exited with status %d%s\n", cmd[0], exit_code,
                r ? "" : "; the analysis holds its trace");
    if (tracedir && !getenv("PYFARM_KEEP_TRACE"))
        pf_rm_rf(tracedir);
    free(cwd);
    free_opts(&o);
    return r ? EXIT_ANALYSIS : exit_code ? EXIT_APP : EXIT_OK;
}
