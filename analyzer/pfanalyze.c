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
#include "pyfarm/runlock.h"

extern const unsigned char pf_tracer_py[];
extern const size_t pf_tracer_py_len;

static void usage(FILE *fp) {
    fputs("usage: pfanalyze -c CATALOG [OPTIONS] -- COMMAND [ARGS...]\n"
          "       pfanalyze -c CATALOG --reanalyze [OPTIONS]\n"
          "Runs COMMAND, traces every Python process it starts, and records the closure and\n"
          "the dist tree in CATALOG (runs accumulate). Exits with COMMAND's status.\n"
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
          "  --allow-missing         warn, instead of failing, on unresolvable DT_NEEDED\n"
          "  -q, --quiet\n",
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

int main(int argc, char **argv) {
    pf_opts o = {0};
    const char *glibc = "bundle"; /* hermetic by default */
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
                                       {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "+c:qh", lo, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o.catalog = optarg;
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case O_ENV:
            o.env = optarg;
            break;
        case O_IM:
            vpush(&o.include_modules, optarg);
            break;
        case O_EM:
            vpush(&o.exclude_modules, optarg);
            break;
        case O_ID:
            vpush(&o.include_dists, optarg);
            break;
        case O_ED:
            vpush(&o.exclude_dists, optarg);
            break;
        case O_IL:
            vpush(&o.include_libs, optarg);
            break;
        case O_EL:
            vpush(&o.exclude_libs, optarg);
            break;
        case O_IF:
            vpush(&o.include_files, optarg);
            break;
        case O_EF:
            vpush(&o.exclude_files, optarg);
            break;
        case O_HL:
            vpush(&o.host_libs, optarg);
            break;
        case O_BL:
            vpush(&o.bundle_libs, optarg);
            break;
        case O_MG:
            o.max_glibc = optarg;
            break;
        case O_AM:
            o.allow_missing = 1;
            break;
        case O_RE:
            o.no_trace = 1;
            break;
        case O_GL:
            glibc = optarg;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!o.catalog || (optind >= argc && !o.no_trace)) {
        usage(stderr);
        return 2;
    }
    if (strcmp(glibc, "bundle") == 0) {
        o.bundle_glibc = 1;
        char *l = find_tool("pflaunch");
        int found = l != NULL;
        free(l);
        if (!found) {
            fprintf(stderr, "pfanalyze: --glibc bundle: the launcher pflaunch is not installed "
                            "beside pfanalyze\n");
            return 2;
        }
    } else if (strcmp(glibc, "host") != 0) {
        fprintf(stderr, "pfanalyze: --glibc %s: expected 'host' or 'bundle'\n", glibc);
        return 2;
    }
    char err[PF_ERRLEN] = "";
    char **cmd = argv + optind;
    pf_run_signals_install(); /* temporaries go on exit, Ctrl-C and SIGTERM */
    int exists = access(o.catalog, F_OK) == 0;
    if (exists) { /* refuse a bad catalog before running anything */
        pf_catalog *c0;
        if (pf_catalog_open(o.catalog, 0, &c0, err, sizeof err) != 0) {
            fprintf(stderr, "pfanalyze: %s\n", err);
            return 2;
        }
        pf_catalog_close(c0);
    }
    if (!o.no_trace && !find_in_path(cmd[0])) {
        fprintf(stderr, "pfanalyze: %s: command not found\n", cmd[0]);
        return 127;
    }
    const char *tracedir = NULL;
    int status = 0, exit_code = 0;
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *cwd = getcwd(NULL, 0);
    if (!o.no_trace) {
        tracedir = pf_run_trace_dir(o.quiet ? NULL : "pfanalyze", err, sizeof err);
        if (!tracedir) {
            fprintf(stderr, "pfanalyze: %s\n", err);
            return 1;
        }
        status = run_traced(cmd, tracedir, err, sizeof err);
        if (status < 0) {
            fprintf(stderr, "pfanalyze: %s\n", err);
            pf_rm_rf(tracedir);
            return 1;
        }
        exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);

    {
        char *cwd0 = getcwd(NULL, 0); /* kept out of the app folder */
        ;
        char *abs = o.catalog[0] == '/' ? pf_xstrdup(o.catalog) : pf_path_join(cwd0, o.catalog);
        o.catalog_real = pf_path_normalize(abs);
        free(abs);
        free(cwd0);
    }
    if (o.bundle_glibc)
        o.launcher = find_tool("pflaunch");

    /* one run at a time replaces the catalog: the others wait */
    pf_runlock lock;
    if (pf_runlock_take(o.catalog, o.quiet ? NULL : "pfanalyze", &lock, err, sizeof err) != 0) {
        fprintf(stderr, "pfanalyze: %s\n", err);
        return 1;
    }
    exists = access(o.catalog, F_OK) == 0; /* maybe made by the run we waited for */
    /* work on a copy; rename over the catalog only when all went well */
    char *tmpcat = pf_xasprintf("%s.tmp-%d", o.catalog, (int)getpid());
    pf_run_cleanup_add(tmpcat, 1);
    pf_catalog *c = NULL;
    int ok = 0;
    if (exists && copy_file(o.catalog, tmpcat) != 0) {
        fprintf(stderr, "pfanalyze: %s: cannot copy: %s\n", o.catalog, strerror(errno));
        goto done;
    }
    if (pf_catalog_create(tmpcat, &c, err, sizeof err) != 0) {
        pf_run_unalias(err, sizeof err, tmpcat, o.catalog);
        fprintf(stderr, "pfanalyze: %s\n", err);
        goto done;
    }
    free(c->path); /* messages name the user's catalog, not the copy */
    c->path = pf_xstrdup(o.catalog);
    pf_catalog_exec(c, "BEGIN", NULL, 0);
    if (!o.no_trace) {
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
        sqlite3_step(st);
        sqlite3_finalize(st);
        int64_t run_id = sqlite3_last_insert_rowid(c->db);
        pf_buf_free(&a);
        char *rdir = pf_path_join(tracedir, "records");
        int np = 0;
        int r = pf_ingest_dir(c, rdir, run_id, &np, err, sizeof err);
        free(rdir);
        if (r != 0) {
            fprintf(stderr, "pfanalyze: %s\n", err);
            goto done;
        }
        if (np == 0) {
            fprintf(stderr, "pfanalyze: %s: no Python process was traced (exit status %d)\n",
                    cmd[0], exit_code);
            goto done;
        }
    }
    pf_facts f;
    if (pf_facts_load(c, &f, err, sizeof err) != 0) {
        fprintf(stderr, "pfanalyze: %s\n", err);
        goto done;
    }
    size_t np = 0;
    pf_proc **procs = select_env(&f, &o, &np, err, sizeof err);
    pf_plan plan = {0};
    int r = procs ? 0 : -1;
    if (!r)
        r = pf_plan_python(&plan, &f, procs, np, &o, err, sizeof err);
    if (!r)
        r = pf_plan_includes(&plan, &o, err, sizeof err);
    if (!r)
        r = pf_plan_native(&plan, &f, procs, np, &o, err, sizeof err);
    if (!r && o.max_glibc && plan.max_glibc && pf_glibc_vercmp(plan.max_glibc, o.max_glibc) > 0) {
        pf_buf b = {0};
        for (size_t i = 0; i < plan.n; i++) {
            pf_entry *e = plan.v[i];
            if (e->elf && e->info.max_glibc && pf_glibc_vercmp(e->info.max_glibc, o.max_glibc) > 0)
                pf_buf_printf(&b, "%s%s (GLIBC_%s)", b.n ? ", " : "", e->dest, e->info.max_glibc);
        }
        pf_seterr(err, sizeof err, "--max-glibc %s: these files need newer: %s", o.max_glibc,
                  (char *)b.p);
        pf_buf_free(&b);
        r = -1;
    }
    if (!r)
        r = pf_plan_launch(&plan, &o, err, sizeof err);
    if (!r)
        r = pf_tree_write(c, &plan, &o, err, sizeof err);
    if (r) {
        fprintf(stderr, "pfanalyze: %s\n", err);
    } else {
        pf_catalog_exec(c, "DELETE FROM warnings", NULL, 0);
        sqlite3_stmt *st;
        sqlite3_prepare_v2(c->db, "INSERT INTO warnings(kind, message) VALUES('analysis', ?)", -1,
                           &st, NULL);
        for (size_t i = 0; i < plan.warnings.n; i++) {
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, plan.warnings.v[i], -1, SQLITE_STATIC);
            sqlite3_step(st);
            if (!o.quiet)
                fprintf(stderr, "pfanalyze: warning: %s\n", plan.warnings.v[i]);
        }
        sqlite3_finalize(st);
        pf_catalog_meta_set(c, "glibc_mode", o.bundle_glibc ? "bundle" : "host");
        pf_catalog_meta_set(c, "max_glibc", plan.max_glibc ? plan.max_glibc : "");
        pf_catalog_meta_set(c, "env", procs[0]->prefix);
        pf_catalog_meta_set(c, "python_version", pf_proc_info(procs[0], "version"));
        pf_catalog_meta_set(c, "entry_kind", plan.entry_kind ? plan.entry_kind : "");
        char ts[32];
        snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
        pf_catalog_meta_set(c, "analyzed", ts);
        if (pf_catalog_exec(c, "COMMIT", err, sizeof err) == 0) {
            ok = 1;
            clock_gettime(CLOCK_MONOTONIC, &t2);
            if (!o.quiet) {
                uint64_t bytes = 0;
                size_t files = 0;
                for (size_t i = 0; i < plan.n; i++)
                    if (plan.v[i]->type == 'f') {
                        files++;
                        struct stat sb;
                        bytes += plan.v[i]->patch                    ? plan.v[i]->size
                                 : plan.v[i]->data                   ? plan.v[i]->data_len
                                 : stat(plan.v[i]->source, &sb) == 0 ? (uint64_t)sb.st_size
                                                                     : 0;
                    }
                fprintf(stderr,
                        "pfanalyze: %s: %zu files, %.1f MB; environment %s; newest glibc "
                        "needed %s; trace %.2fs, analysis %.2fs\n",
                        o.catalog, files, (double)bytes / 1e6, procs[0]->prefix,
                        plan.max_glibc ? plan.max_glibc : "none",
                        (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
                        (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9);
            }
        } else {
            fprintf(stderr, "pfanalyze: %s\n", err);
        }
    }
    pf_plan_free(&plan);
    free(procs);
    pf_facts_free(&f);
done:
    if (c)
        pf_catalog_close(c);
    if (ok && rename(tmpcat, o.catalog) != 0) {
        fprintf(stderr, "pfanalyze: %s: %s\n", o.catalog, strerror(errno));
        ok = 0;
    }
    if (!ok)
        unlink(tmpcat);
    pf_runlock_drop(&lock);
    free(tmpcat);
    free(cwd);
    free(o.catalog_real);
    free(o.launcher);
    pf_strv *lists[] = {&o.include_modules, &o.exclude_modules, &o.include_dists, &o.exclude_dists,
                        &o.include_libs,    &o.exclude_libs,    &o.include_files, &o.exclude_files,
                        &o.host_libs,       &o.bundle_libs};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        pf_strv_free(lists[i]);
    if (tracedir && !getenv("PYFARM_KEEP_TRACE"))
        pf_rm_rf(tracedir);
    if (!ok)
        return exit_code ? exit_code : 1;
    return exit_code;
}
