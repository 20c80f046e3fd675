/* python.c: the Python half of the closure. The base interpreter (also when
 * traced through a venv), its stdlib and lib-dynload laid out so that
 * CPython finds its prefix by its landmarks, each imported distribution
 * whole (with its metadata) in sys.path order, and the app's own files. */
#include <dirent.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyze.h"

typedef struct walk_ctx {
    pf_plan *plan;
    const char *origin;
    const char *reason;
    const char *cache_tag; /* "cpython-311": keeps only our own bytecode */
    const pf_strv *traced; /* traced files: they override exclusions */
    int stdlib;            /* apply the stdlib's exclusions */
    int app;               /* apply the app's exclusions (nested envs) */
    const pf_opts *opts;
} walk_ctx;

static int traced_under(const pf_strv *traced, const char *dir) {
    for (size_t i = 0; traced && i < traced->n; i++)
        if (pf_path_is_under(traced->v[i], dir))
            return 1;
    return 0;
}

/* The stdlib's own test suites, IDLE, turtledemo, ensurepip's wheels and the
 * static-library config folder stay out unless something under them ran. */
static int stdlib_skip_dir(const char *name, int depth) {
    if (strcmp(name, "test") == 0 || strcmp(name, "tests") == 0 || strcmp(name, "idle_test") == 0)
        return 1;
    if (depth == 0 && (strcmp(name, "idlelib") == 0 || strcmp(name, "turtledemo") == 0 ||
                       strncmp(name, "config-", 7) == 0))
        return 1;
    return strcmp(name, "_bundled") == 0; /* ensurepip/_bundled */
}

/* A file of the stdlib proper: under its folder, not in the site folder a
 * base interpreter keeps there (whose packages are taken as distributions). */
static int in_stdlib(const char *real, const char *rstd) {
    if (!pf_path_is_under(real, rstd))
        return 0;
    char *sp = pf_path_join(rstd, "site-packages"), *dp = pf_path_join(rstd, "dist-packages");
    int site = pf_path_is_under(real, sp) || pf_path_is_under(real, dp);
    free(sp);
    free(dp);
    return !site;
}

/* Folders inside the stdlib's folder that are not the stdlib, whatever ran
 * from them: a base interpreter's own site folder (pyenv and python.org
 * builds keep site-packages in lib/python3.X/) is a site of its own, taken
 * distribution by distribution, and lib-dynload is placed by its own rule. */
static int stdlib_foreign_dir(const char *name, int depth) {
    return depth == 0 && (strcmp(name, "site-packages") == 0 ||
                          strcmp(name, "dist-packages") == 0 || strcmp(name, "lib-dynload") == 0);
}

static int keep_pyc(const char *name, const char *cache_tag) {
    /* name.cpython-311.pyc, not .opt-1/.opt-2 variants nor other versions */
    if (!cache_tag)
        return 0;
    char pat[128];
    snprintf(pat, sizeof pat, "*.%s.pyc", cache_tag);
    return fnmatch(pat, name, 0) == 0;
}

static void walk(walk_ctx *w, const char *src, const char *dest, int depth) {
    if (depth > 40)
        return;
    pf_strv names = {0};
    if (pf_list_dir(src, &names) != 0)
        return;
    int in_pycache = strcmp(pf_path_basename(src), "__pycache__") == 0;
    for (size_t i = 0; i < names.n; i++) {
        const char *name = names.v[i];
        char *s = pf_path_join(src, name), *t = pf_path_join(dest, name);
        struct stat st;
        if (stat(s, &st) != 0 || pf_excluded_name(name) ||
            (w->opts->catalog_real &&
             strncmp(s, w->opts->catalog_real, strlen(w->opts->catalog_real)) == 0)) {
            /* the catalog itself and its temporary copies */
            free(s);
            free(t);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            int skip = 0;
            if (w->stdlib && (stdlib_foreign_dir(name, depth) ||
                              (stdlib_skip_dir(name, depth) && !traced_under(w->traced, s))))
                skip = 1;
            if (w->app) /* a venv, an earlier dist, build outputs */
                skip = pf_app_skip_dir(s, depth, traced_under(w->traced, s)) != NULL;
            if (!skip)
                walk(w, s, t, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            if (w->app && pf_app_skip_file(s, traced_under(w->traced, s))) {
                /* pyfarm's own outputs: an archive, a catalog */
            } else if (in_pycache && !keep_pyc(name, w->cache_tag)) {
                /* other versions' bytecode */
            } else if (!fnmatch("*.pyc", name, 0) && !in_pycache) {
                /* stray legacy bytecode beside sources */
            } else {
                pf_plan_add_file(w->plan, t, s, w->reason, w->origin);
            }
        }
        free(s);
        free(t);
    }
    pf_strv_free(&names);
}

static void add_pyc(pf_plan *p, const char *src_py, const char *dest_py, const char *tag,
                    const char *reason, const char *origin) {
    if (!tag)
        return;
    size_t n = strlen(src_py);
    if (n < 3 || strcmp(src_py + n - 3, ".py") != 0)
        return;
    char *sd = pf_path_dirname(src_py), *dd = pf_path_dirname(dest_py);
    const char *b = pf_path_basename(src_py);
    char *pyc = pf_xasprintf("__pycache__/%.*s.%s.pyc", (int)(strlen(b) - 3), b, tag);
    char *s = pf_path_join(sd, pyc), *d = pf_path_join(dd, pyc);
    pf_plan_add_file(p, d, s, reason, origin);
    free(sd);
    free(dd);
    free(pyc);
    free(s);
    free(d);
}

/* ---- distributions of one site folder ---- */

typedef struct dist {
    char *name;    /* normalized project name */
    char *meta;    /* the .dist-info / .egg-info folder name */
    pf_strv files; /* paths relative to the site folder */
    pf_strv tops;  /* top_level.txt */
    int used;
    char *why;
} dist;

typedef struct site {
    char *path;
    int index; /* pN, 0 until something of it is used */
    int is_zip;
    dist **d;
    size_t nd;
    pf_strmap owner; /* relative file -> dist */
    int loaded;
    char *as;  /* a package folder whose name is not its package's: pN/<as> */
    int found; /* no sys.path entry: where a finder found modules */
} site;

static char *norm_name(const char *meta) {
    /* "opencv_python_headless-4.9.0.80.dist-info" -> "opencv-python-headless" */
    const char *dash = strchr(meta, '-');
    const char *dot = strstr(meta, ".dist-info");
    if (!dot)
        dot = strstr(meta, ".egg-info");
    size_t n = dash ? (size_t)(dash - meta) : dot ? (size_t)(dot - meta) : strlen(meta);
    char *s = pf_xstrndup(meta, n);
    for (char *c = s; *c; c++) {
        if (*c == '_' || *c == '.')
            *c = '-';
        else if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    }
    return s;
}

static void read_lines(const char *path, pf_strv *out, int csv) {
    size_t len;
    char *t = pf_read_file(path, &len, NULL, 0);
    if (!t)
        return;
    for (char *line = strtok(t, "\r\n"); line; line = strtok(NULL, "\r\n")) {
        if (csv) {
            /* RECORD is CSV: path,hash,size; a quoted path may hold commas */
            if (line[0] == '"') {
                char *e = strchr(line + 1, '"');
                if (e) {
                    *e = 0;
                    pf_strv_push(out, line + 1);
                }
                continue;
            }
            char *comma = strchr(line, ',');
            if (comma)
                *comma = 0;
        }
        if (*line)
            pf_strv_push(out, line);
    }
    free(t);
}

static void site_load(site *s) {
    if (s->loaded)
        return;
    s->loaded = 1;
    pf_strv names = {0}, metas = {0};
    if (pf_list_dir(s->path, &names) != 0)
        return;
    for (size_t i = 0; i < names.n; i++) {
        size_t n = strlen(names.v[i]);
        if ((n > 10 && strcmp(names.v[i] + n - 10, ".dist-info") == 0) ||
            (n > 9 && strcmp(names.v[i] + n - 9, ".egg-info") == 0))
            pf_strv_push(&metas, names.v[i]);
    }
    pf_strv_free(&names);
    for (size_t i = 0; i < metas.n; i++) {
        dist *x = pf_xcalloc(1, sizeof *x);
        x->meta = pf_xstrdup(metas.v[i]);
        x->name = norm_name(metas.v[i]);
        char *mdir = pf_path_join(s->path, metas.v[i]);
        char *rec = pf_path_join(mdir, "RECORD");
        char *inst = pf_path_join(mdir, "installed-files.txt");
        char *top = pf_path_join(mdir, "top_level.txt");
        pf_strv raw = {0};
        read_lines(rec, &raw, 1);
        pf_strv inst_raw = {0};
        read_lines(inst, &inst_raw, 0);
        for (size_t j = 0; j < inst_raw.n; j++) { /* relative to the .egg-info */
            char *full = pf_path_join(mdir, inst_raw.v[j]);
            char *nrm = pf_path_normalize(full);
            if (pf_path_is_under(nrm, s->path))
                pf_strv_push_own(&raw, pf_path_relative(s->path, nrm));
            free(full);
            free(nrm);
        }
        for (size_t j = 0; j < raw.n; j++) {
            char *full = pf_path_join(s->path, raw.v[j]);
            char *nrm = pf_path_normalize(full);
            if (pf_path_is_under(nrm, s->path) && strcmp(nrm, s->path) != 0) {
                char *rel = pf_path_relative(s->path, nrm);
                pf_strv_push(&x->files, rel);
                if (!pf_strmap_get(&s->owner, rel))
                    pf_strmap_put(&s->owner, rel, x);
                free(rel);
            }
            free(full);
            free(nrm);
        }
        read_lines(top, &x->tops, 0);
        pf_strv_free(&raw);
        pf_strv_free(&inst_raw);
        free(mdir);
        free(rec);
        free(inst);
        free(top);
        s->d = pf_xrealloc(s->d, (s->nd + 1) * sizeof *s->d);
        s->d[s->nd++] = x;
    }
    pf_strv_free(&metas);
}

static void site_free(site *s) {
    for (size_t i = 0; i < s->nd; i++) {
        free(s->d[i]->name);
        free(s->d[i]->meta);
        free(s->d[i]->why);
        pf_strv_free(&s->d[i]->files);
        pf_strv_free(&s->d[i]->tops);
        free(s->d[i]);
    }
    free(s->d);
    pf_strmap_free(&s->owner);
    free(s->path);
    free(s->as);
}

static dist *dist_by_top(site *s, const char *top) {
    char *t = pf_xstrdup(top);
    char *dot = strchr(t, '.');
    if (dot)
        *dot = 0; /* module.py / ext.cpython-311-x86_64-linux-gnu.so -> module */
    dist *r = NULL;
    for (size_t i = 0; i < s->nd && !r; i++)
        if (pf_strv_contains(&s->d[i]->tops, t))
            r = s->d[i];
    if (!r) { /* Debian strips metadata to PKG-INFO: match the project name */
        char *n = norm_name(t);
        for (size_t i = 0; i < s->nd && !r; i++)
            if (strcmp(s->d[i]->name, n) == 0) // NOLINT(clang-analyzer-core.NullDereference)
                r = s->d[i];
        free(n);
    }
    free(t);
    return r;
}

typedef struct pyctx {
    pf_plan *plan;
    const pf_opts *opts;
    const char *cache_tag;
    site *sites;
    size_t nsites;
    int next_index;
    pf_strmap seen_tops; /* "k:top" already added */
} pyctx;

static char *site_dest(pyctx *c, site *s) {
    if (!s->index) {
        s->index = ++c->next_index;
        char *d = s->is_zip ? pf_xasprintf("site-packages/p%d.zip", s->index)
                            : pf_xasprintf("site-packages/p%d", s->index);
        pf_strv_push(&c->plan->pth_lines, d);
        free(d);
    }
    return s->is_zip ? pf_xasprintf("site-packages/p%d.zip", s->index)
                     : pf_xasprintf("site-packages/p%d", s->index);
}

static void add_rel(pyctx *c, site *s, const char *rel, const char *reason, const char *origin) {
    char *base = site_dest(c, s);
    char *src = pf_path_join(s->path, rel), *dst = pf_path_join(base, rel);
    struct stat st;
    if (stat(src, &st) == 0 && S_ISDIR(st.st_mode)) {
        walk_ctx w = {.plan = c->plan,
                      .origin = origin,
                      .reason = reason,
                      .cache_tag = c->cache_tag,
                      .opts = c->opts};
        walk(&w, src, dst, 0);
    } else if (pf_plan_add_file(c->plan, dst, src, reason, origin)) {
        add_pyc(c->plan, src, dst, c->cache_tag, reason, origin);
    }
    free(base);
    free(src);
    free(dst);
}

static void use_dist(pyctx *c, site *s, dist *x, const char *why) {
    if (x->used || pf_strv_contains(&c->opts->exclude_dists, x->name))
        return;
    x->used = 1;
    char *reason = pf_xasprintf("distribution %s: %s", x->name, why);
    char *origin = pf_xasprintf("package:%s", x->name);
    for (size_t i = 0; i < x->files.n; i++) {
        const char *rel = x->files.v[i];
        if (strstr(rel, "__pycache__/") && !keep_pyc(pf_path_basename(rel), c->cache_tag))
            continue;
        char *src = pf_path_join(s->path, rel);
        char *base = site_dest(c, s);
        char *dst = pf_path_join(base, rel);
        if (pf_plan_add_file(c->plan, dst, src, reason, origin))
            add_pyc(c->plan, src, dst, c->cache_tag, reason, origin);
        free(src);
        free(base);
        free(dst);
    }
    add_rel(c, s, x->meta, reason, origin); /* the whole metadata folder */
    if (!x->files.n) {                      /* no file list (Debian): its top-level names whole */
        for (size_t i = 0; i < x->tops.n; i++) {
            DIR *d = opendir(s->path);
            struct dirent *de;
            while (d && (de = readdir(d))) {
                char *t = pf_xstrdup(de->d_name), *dot = strchr(t, '.');
                if (dot)
                    *dot = 0;
                if (strcmp(t, x->tops.v[i]) == 0)
                    add_rel(c, s, de->d_name, reason, origin);
                free(t);
            }
            if (d)
                closedir(d);
        }
    }
    free(reason);
    free(origin);
}

/* A traced file inside site folder s: bring its distribution, or its
 * top-level package when no metadata claims it. */
static void use_file(pyctx *c, site *s, const char *file, const char *why) {
    if (s->is_zip) {
        char *d = site_dest(c, s);
        pf_plan_add_file(c->plan, d, s->path, why, "zip");
        free(d);
        return;
    }
    if (s->as) { /* the package folder whole, under its package's name */
        char *key = pf_xasprintf("%s:%s", s->path, s->as);
        if (!pf_strmap_get(&c->seen_tops, key)) {
            pf_strmap_put(&c->seen_tops, key, s);
            char *base = site_dest(c, s), *dst = pf_path_join(base, s->as);
            walk_ctx w = {.plan = c->plan,
                          .origin = "package",
                          .reason = why,
                          .cache_tag = c->cache_tag,
                          .opts = c->opts};
            walk(&w, s->path, dst, 0);
            free(base);
            free(dst);
        }
        free(key);
        return;
    }
    site_load(s);
    char *rel = pf_path_relative(s->path, file);
    dist *x = pf_strmap_get(&s->owner, rel);
    char *slash = strchr(rel, '/');
    char *top = slash ? pf_xstrndup(rel, (size_t)(slash - rel)) : pf_xstrdup(rel);
    if (!x)
        x = dist_by_top(s, top);
    if (x) {
        use_dist(c, s, x, why);
        /* the distribution's list may miss the file (Debian): take its top */
        if (!x->files.n || !pf_strmap_get(&s->owner, rel)) {
            char *key = pf_xasprintf("%d:%s", s->index, top);
            if (!pf_strmap_get(&c->seen_tops, key)) {
                pf_strmap_put(&c->seen_tops, key, s);
                add_rel(c, s, top, why, "package");
            }
            free(key);
        }
    } else {
        char *key = pf_xasprintf("%s:%s", s->path, top);
        if (!pf_strmap_get(&c->seen_tops, key)) {
            pf_strmap_put(&c->seen_tops, key, s);
            add_rel(c, s, top, why, "package");
        }
        free(key);
    }
    free(rel);
    free(top);
}

static site *site_of(pyctx *c, const char *file) {
    site *best = NULL;
    size_t bl = 0;
    for (size_t i = 0; i < c->nsites; i++) {
        size_t l = strlen(c->sites[i].path);
        if (l > bl && pf_path_is_under(file, c->sites[i].path)) {
            best = &c->sites[i];
            bl = l;
        }
    }
    return best;
}

static int is_system_bin(const char *dir) {
    static const char *const bins[] = {
        "/", "/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin", "/usr", "/tmp", NULL};
    for (int i = 0; bins[i]; i++)
        if (strcmp(dir, bins[i]) == 0)
            return 1;
    char *cfg = pf_path_join(dir, "../pyvenv.cfg"), *cfg2 = pf_path_join(dir, "pyvenv.cfg");
    int venv = access(cfg, F_OK) == 0 || access(cfg2, F_OK) == 0;
    free(cfg);
    free(cfg2);
    return venv;
}

/* A traced file still there (or inside an archive that is still there). */
static int traced_exists(const char *file) {
    if (access(file, F_OK) == 0)
        return 1;
    char *d = pf_path_dirname(file);
    int r = 0;
    while (strcmp(d, "/") && strcmp(d, ".")) {
        struct stat st;
        if (stat(d, &st) == 0) {
            r = S_ISREG(st.st_mode); /* a zip on sys.path */
            break;
        }
        char *up = pf_path_dirname(d);
        free(d);
        d = up;
    }
    free(d);
    return r;
}

static int is_test_file(const char *path) {
    const char *b = pf_path_basename(path);
    return fnmatch("test_*.py", b, 0) == 0 || fnmatch("*_test.py", b, 0) == 0 ||
           strcmp(b, "conftest.py") == 0;
}

static char *real_or_copy(const char *p) {
    char *r = realpath(p, NULL);
    return r ? r : pf_xstrdup(p);
}

/* The names of one module object, joined (union-find: name -> another
 * name of it). Values point into the facts or at "__main__". */
static const char *canon(const pf_strmap *names, const char *name) {
    const char *n = name;
    for (int i = 0; i < 256; i++) { /* bounded: the joins make no cycle */
        const char *up = pf_strmap_get(names, n);
        if (!up)
            break;
        n = up;
    }
    return n;
}

static void join_names(pf_strmap *names, const char *a, const char *b) {
    const char *ra = canon(names, a), *rb = canon(names, b);
    if (strcmp(ra, rb) != 0)
        pf_strmap_put(names, ra, (void *)rb);
}

/* Aliases: what the tracer saw (A facts: `__mp_main__` is `__main__` in
 * a spawned worker, `-m pkg` runs `pkg.__main__` as `__main__`), and, for
 * traces without them, the entry script imported under another name. */
static void join_aliases(pf_proc **procs, size_t n, const char *entry_real, pf_strmap *names) {
    static char main_name[] = "__main__", mp_main[] = "__mp_main__";
    join_names(names, mp_main, main_name);
    for (size_t i = 0; i < n; i++) {
        pf_proc *p = procs[i];
        for (size_t j = 0; j < p->alias_names.n; j++)
            join_names(names, p->alias_names.v[j], p->alias_targets.v[j]);
        for (size_t j = 0; entry_real && j < p->mod_names.n; j++) {
            if (p->mod_files.v[j][0] != '/')
                continue;
            char *r = real_or_copy(p->mod_files.v[j]);
            if (strcmp(r, entry_real) == 0)
                join_names(names, p->mod_names.v[j], main_name);
            free(r);
        }
    }
}

typedef struct reach_in {
    const char *app_root;       /* the app's folder, NULL when the app is not walked */
    const pf_strv *sites;       /* sys.path folders (realpaths): nested ones are not the app */
    const char *entry_real;     /* the entry script, when it is the app's code */
    const pf_strmap *pth_hooks; /* private modules that .pth files import */
} reach_in;

/* Roots: the entry when it is the app's code, the app's own modules (not
 * its tests): 2, and what start-up imported (a .pth hook may import a
 * module that the app then uses without an import of its own): 1. */
static int is_root(const reach_in *in, const char *name, const char *file, const char *imp) {
    if (strcmp(imp, "site") == 0) {
        const char *dot = strchr(name, '.');
        char *top = dot ? pf_xstrndup(name, (size_t)(dot - name)) : pf_xstrdup(name);
        int hook = pf_strmap_get(in->pth_hooks, top) != NULL;
        free(top);
        return hook ? 0 : 1;
    }
    if (!in->app_root || *file != '/' || is_test_file(file) || strcmp(name, "__main__") == 0)
        return 0;
    char *r = real_or_copy(file);
    int app = pf_path_is_under(r, in->app_root) && !pf_app_foreign(in->app_root, in->sites, r);
    free(r);
    return app ? 2 : 0;
}

/* Which modules the app itself reached: edges are "importer imported X"
 * as traced, between names joined by their aliases. Distributions only
 * reached from elsewhere (the test runner and its plugins) stay out.
 * Returns 0 when the trace has no importer facts (then every traced module
 * counts). */
static int compute_reach(pf_proc **procs, size_t n, const reach_in *in, pf_strmap *reach) {
    pf_strmap names = {0}, creach = {0};
    pf_strmap edges = {0}; /* canonical importer -> pf_strv* of canonical names */
    pf_strv queue = {0};
    int active = 0, app_roots = 0;
    join_aliases(procs, n, in->entry_real, &names);
    for (size_t i = 0; i < n; i++) {
        pf_proc *p = procs[i];
        for (size_t j = 0; j < p->mod_names.n; j++) {
            const char *name = p->mod_names.v[j], *imp = p->mod_importers.v[j];
            if (*imp) {
                active = 1;
            }
            if (*imp && strcmp(imp, "site") != 0) { /* "site": start-up, no module */
                const char *ci = canon(&names, imp);
                pf_strv *v = pf_strmap_get(&edges, ci);
                if (!v) {
                    v = pf_xcalloc(1, sizeof *v);
                    pf_strmap_put(&edges, ci, v);
                }
                pf_strv_push(v, canon(&names, name));
            } /* no importer (set into sys.modules directly, seen only in a
                 snapshot): reached through its top-level package, below */
            int root = is_root(in, name, p->mod_files.v[j], imp);
            if (root)
                pf_strv_push(&queue, canon(&names, name));
            app_roots += root == 2;
        }
    }
    if (in->entry_real || !app_roots) /* the entry, unless the app is other modules */
        pf_strv_push(&queue, canon(&names, "__main__"));
    for (size_t q = 0; q < queue.n; q++) {
        const char *name = queue.v[q];
        if (pf_strmap_get(&creach, name))
            continue;
        pf_strmap_put(&creach, name, (void *)1);
        pf_strv *v = pf_strmap_get(&edges, name);
        for (size_t k = 0; v && k < v->n; k++)
            pf_strv_push(&queue, v->v[k]);
    }
    /* every name of a reached module is reached */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < procs[i]->mod_names.n; j++)
            if (pf_strmap_get(&creach, canon(&names, procs[i]->mod_names.v[j])))
                pf_strmap_put(reach, procs[i]->mod_names.v[j], (void *)1);
    pf_strmap_free_with(&edges, pf_strv_destroy);
    pf_strmap_free(&names);
    pf_strmap_free(&creach);
    pf_strv_free(&queue);
    return active;
}

/* A module counts when it, or its top-level package, was reached. */
static int reached(const pf_strmap *reach, const char *name) {
    if (pf_strmap_get(reach, name))
        return 1;
    const char *dot = strchr(name, '.');
    if (!dot)
        return 0;
    char *top = pf_xstrndup(name, (size_t)(dot - name));
    int r = pf_strmap_get(reach, top) != NULL;
    free(top);
    return r;
}

/* sys.path folders in order, realpaths, without the stdlib, lib-dynload
 * and what does not exist (union over the env's processes). */
static void site_order(pf_proc **procs, size_t nprocs, const char *rstd, pf_strv *order) {
    for (size_t i = 0; i < nprocs; i++)
        for (size_t j = 0; j < procs[i]->syspath.n; j++) {
            const char *sp = procs[i]->syspath.v[j];
            if (!*sp)
                continue;
            char *r = real_or_copy(sp);
            struct stat st;
            int keep = stat(r, &st) == 0 && strcmp(r, rstd) && !pf_strv_contains(order, r) &&
                       strcmp(pf_path_basename(r), "lib-dynload") != 0;
            if (keep)
                pf_strv_push(order, r);
            free(r);
        }
}

/* Whether the run imported a module (not a test) whose import resolved it
 * from folder dir, as a sys.path entry: "dir/pkg/mod.py" for pkg.mod. */
static int imported_from(pf_proc **procs, size_t nprocs, const char *dir) {
    for (size_t i = 0; i < nprocs; i++)
        for (size_t j = 0; j < procs[i]->mod_files.n; j++) {
            const char *f = procs[i]->mod_files.v[j];
            if (f[0] != '/' || is_test_file(f))
                continue;
            char *r = real_or_copy(f);
            char *root = pf_module_root(r, procs[i]->mod_names.v[j]);
            int yes = root && strcmp(root, dir) == 0;
            free(root);
            free(r);
            if (yes)
                return 1;
        }
    return 0;
}

/* A site for a folder that is no sys.path entry: where a finder hook
 * (setuptools' __editable__ finders) found a module; `as`: the folder is
 * the package of that name (a finder may map a name to any folder). */
static site *site_add(pyctx *c, const char *path, const char *as) {
    for (size_t i = 0; i < c->nsites; i++)
        if (strcmp(c->sites[i].path, path) == 0 &&
            (as ? c->sites[i].as && strcmp(c->sites[i].as, as) == 0 : !c->sites[i].as))
            return &c->sites[i];
    c->sites = pf_xrealloc(c->sites, (c->nsites + 1) * sizeof *c->sites);
    site *s = &c->sites[c->nsites++];
    memset(s, 0, sizeof *s);
    s->path = pf_xstrdup(path);
    s->as = as ? pf_xstrdup(as) : NULL;
    s->found = 1;
    return s;
}

/* The folder of module `name`'s top-level package, from its traced
 * __init__ file; NULL when the top-level module is no package. */
static char *package_folder(pf_proc **procs, size_t nprocs, const char *name, char **top) {
    const char *dot = strchr(name, '.');
    *top = dot ? pf_xstrndup(name, (size_t)(dot - name)) : pf_xstrdup(name);
    for (size_t i = 0; i < nprocs; i++)
        for (size_t j = 0; j < procs[i]->mod_names.n; j++) {
            const char *f = procs[i]->mod_files.v[j];
            if (strcmp(procs[i]->mod_names.v[j], *top) == 0 && f[0] == '/' &&
                strncmp(pf_path_basename(f), "__init__.", 9) == 0) {
                char *r = real_or_copy(f), *d = pf_path_dirname(r);
                free(r);
                return d;
            }
        }
    free(*top);
    *top = NULL;
    return NULL;
}

int pf_plan_python(pf_plan *plan, pf_facts *f, pf_proc **procs, size_t nprocs, const pf_opts *o,
                   char *err, size_t errlen) {
    (void)f;
    pf_proc *e = procs[0];
    const char *base_prefix = pf_proc_info(e, "base_prefix");
    const char *base_exec = pf_proc_info(e, "base_exec_prefix");
    const char *stdlib = pf_proc_info(e, "stdlib");
    const char *platstdlib = pf_proc_info(e, "platstdlib");
    const char *tag = pf_proc_info(e, "cache_tag");
    if (!base_prefix || !stdlib || !e->exe) {
        pf_seterr(err, errlen, "%s: the trace of process %d lacks interpreter facts", o->catalog,
                  e->pid);
        return -1;
    }
    if (!base_exec)
        base_exec = base_prefix;
    if (!platstdlib)
        platstdlib = stdlib;
    if (access(e->exe, R_OK) != 0) {
        pf_seterr(err, errlen, "%s: traced interpreter has vanished", e->exe);
        return -1;
    }

    /* every traced file of the environment's processes */
    pf_strv traced = {0};
    for (size_t i = 0; i < nprocs; i++) {
        for (size_t j = 0; j < procs[i]->mod_files.n; j++)
            if (procs[i]->mod_files.v[j][0] == '/')
                pf_strv_push_own(&traced, real_or_copy(procs[i]->mod_files.v[j]));
        for (size_t j = 0; j < procs[i]->ns_locations.n; j++)
            pf_strv_push_own(&traced, real_or_copy(procs[i]->ns_locations.v[j]));
        for (size_t j = 0; j < procs[i]->files.n; j++) /* opened: data the app read */
            pf_strv_push_own(&traced, real_or_copy(procs[i]->files.v[j]));
    }

    /* interpreter: bin/ beside lib/, so getpath finds the landmarks */
    char *exe_name = pf_xstrdup(pf_path_basename(e->exe));
    plan->python_dest = pf_xasprintf("python/bin/%s", exe_name);
    pf_entry *pe =
        pf_plan_add_file(plan, plan->python_dest, e->exe, "the base interpreter", "interpreter");
    if (pe)
        pe->program = 1;
    if (strcmp(exe_name, "python3"))
        pf_plan_add_link(plan, "python/bin/python3", exe_name, "interpreter alias");
    pf_plan_add_link(plan, "python/bin/python", exe_name, "interpreter alias");
    free(exe_name);

    char *rstd = real_or_copy(stdlib), *rbase = real_or_copy(base_prefix);
    char *std_rel = pf_path_is_under(stdlib, base_prefix)
                        ? pf_path_relative(base_prefix, stdlib)
                        : pf_xasprintf("lib/%s", pf_path_basename(stdlib));
    char *std_dest = pf_path_join("python", std_rel);
    walk_ctx w = {.plan = plan,
                  .origin = "stdlib",
                  .reason = "the standard library",
                  .cache_tag = tag,
                  .traced = &traced,
                  .stdlib = 1,
                  .opts = o};
    walk(&w, stdlib, std_dest, 0);

    /* lib-dynload: the exec_prefix half; merged under the same prefix */
    char *dyn = NULL;
    for (size_t i = 0; i < e->syspath.n && !dyn; i++)
        if (strcmp(pf_path_basename(e->syspath.v[i]), "lib-dynload") == 0)
            dyn = pf_xstrdup(e->syspath.v[i]);
    if (!dyn)
        dyn = pf_path_join(platstdlib, "lib-dynload");
    char *plat_rel = pf_path_is_under(platstdlib, base_exec)
                         ? pf_path_relative(base_exec, platstdlib)
                         : pf_xstrdup(std_rel);
    char *dyn_dest = pf_xasprintf("python/%s/lib-dynload", plat_rel);
    walk_ctx wd = {.plan = plan,
                   .origin = "lib-dynload",
                   .reason = "the standard library's"
                             " extension modules",
                   .cache_tag = tag,
                   .opts = o};
    walk(&wd, dyn, dyn_dest, 0);

    /* where pyfarm.pth goes: the base interpreter's first site folder */
    for (size_t i = 0; i < e->base_sites.n && !plan->site_dest; i++)
        if (pf_path_is_under(e->base_sites.v[i], base_prefix)) {
            char *rel = pf_path_relative(base_prefix, e->base_sites.v[i]);
            plan->site_dest = pf_path_join("python", rel);
            free(rel);
        }
    if (!plan->site_dest)
        plan->site_dest = pf_path_join(std_dest, "site-packages");

    /* sys.path folders in order (union over the env's processes) */
    pyctx c = {.plan = plan, .opts = o, .cache_tag = tag};
    int rc = 0;
    pf_strv order = {0};
    site_order(procs, nprocs, rstd, &order);

    /* the app */
    char *app_root = NULL, *entry_real = NULL;
    int app_walk = 1;
    if (e->entry_kind && strcmp(e->entry_kind, "script") == 0 && e->entry && *e->entry) {
        char *rs = real_or_copy(e->entry);
        app_root = pf_path_dirname(rs);
        if (is_system_bin(app_root))
            app_walk = 0; /* a console script: the script alone */
        else
            entry_real = pf_xstrdup(rs); /* the app's own code: a root of the graph */
        char *rel = pf_path_relative(app_root, rs);
        plan->entry_kind = pf_xstrdup("script");
        plan->entry_dest = pf_path_join("app", rel);
        pf_plan_add_file(plan, plan->entry_dest, rs, "the traced entry script", "app");
        free(rel);
        free(rs);
    } else if (e->entry_kind && strcmp(e->entry_kind, "module") == 0) {
        app_root = e->syspath.n && e->syspath.v[0][0] ? real_or_copy(e->syspath.v[0])
                                                      : real_or_copy(e->cwd ? e->cwd : ".");
        plan->entry_kind = pf_xstrdup("module");
        plan->entry_module = pf_xstrdup(e->entry ? e->entry : "");
        pf_strv_push(&plan->pth_lines, "app");
    } else {
        plan->entry_kind = pf_xstrdup("interpreter");
    }
    if (app_root && !app_walk && e->cwd && !is_system_bin(e->cwd)) {
        /* a console script (pytest, a CLI): when the run imported modules
         * from the current folder (as a sys.path entry, not from a venv or
         * another sys.path folder inside it), that folder is the app */
        char *cwd = real_or_copy(e->cwd);
        if (imported_from(procs, nprocs, cwd)) {
            free(app_root);
            app_root = cwd;
            app_walk = 1;
            pf_strv_push(&plan->pth_lines, "app");
        } else {
            free(cwd);
        }
    }
    pf_strmap reach = {0};
    pf_strmap hooks = {0};
    pf_pth_hooks(&order, &hooks);
    reach_in rin = {.app_root = app_walk ? app_root : NULL,
                    .sites = &order,
                    .entry_real = entry_real,
                    .pth_hooks = &hooks};
    int reach_active = compute_reach(procs, nprocs, &rin, &reach);
    pf_strmap_free(&hooks);
    if (app_root && app_walk && !is_system_bin(app_root)) {
        walk_ctx wa = {.plan = plan,
                       .origin = "app",
                       .reason = "the app's folder",
                       .cache_tag = tag,
                       .traced = &traced,
                       .app = 1,
                       .opts = o};
        walk(&wa, app_root, "app", 0);
    }

    /* the app's folder is the app, not a site folder */
    for (size_t i = 0; app_root && i < order.n; i++)
        if (strcmp(order.v[i], app_root) == 0) {
            free(order.v[i]);
            memmove(order.v + i, order.v + i + 1, (order.n - i - 1) * sizeof *order.v);
            order.n--;
            break;
        }
    c.sites = pf_xcalloc(order.n + 1, sizeof *c.sites);
    for (size_t i = 0; i < order.n; i++) {
        struct stat st;
        c.sites[i].path = pf_xstrdup(order.v[i]);
        c.sites[i].is_zip = stat(order.v[i], &st) == 0 && S_ISREG(st.st_mode);
    }
    c.nsites = order.n;

    for (size_t i = 0; i < nprocs; i++) {
        pf_proc *p = procs[i];
        for (size_t j = 0; j < p->mod_files.n; j++) {
            const char *file = p->mod_files.v[j];
            if (file[0] != '/' || pf_strv_contains(&o->exclude_modules, p->mod_names.v[j]))
                continue;
            if (!traced_exists(file)) {
                pf_seterr(err, errlen, "%s: traced file has vanished (module %s)", file,
                          p->mod_names.v[j]);
                rc = -1;
                goto done;
            }
            if (reach_active && !reached(&reach, p->mod_names.v[j]) &&
                !pf_strv_contains(&o->include_modules, p->mod_names.v[j]))
                continue; /* imported by the test runner or a plugin, not by the app */
            char *r = real_or_copy(file);
            /* the app's folder, but not a venv or sys.path folder inside it */
            int in_app = app_root && app_walk && pf_path_is_under(r, app_root) &&
                         !pf_app_foreign(app_root, &order, r);
            /* a stdlib file that links elsewhere (Debian's sitecustomize.py
             * into /etc) came with the stdlib's walk */
            int std_link = pf_path_is_under(file, stdlib) && !pf_path_is_under(r, rstd);
            if (!in_app && !std_link && !in_stdlib(r, rstd)) {
                site *s = site_of(&c, r);
                if (!s) { /* a file inside a zip on sys.path has no realpath */
                    s = site_of(&c, file);
                }
                if (s && s->found) /* not a sys.path entry: placed by the module's name */
                    s = NULL;
                char *mroot = s ? NULL : pf_module_root(r, p->mod_names.v[j]);
                if (mroot && !(app_root && strcmp(mroot, app_root) == 0)) {
                    /* found by a finder hook outside sys.path (an editable
                     * install): its folder goes on the dist's sys.path */
                    s = site_add(&c, mroot, NULL);
                } else if (!s && !mroot) { /* a finder mapped the name to another folder */
                    char *top = NULL;
                    char *pkg = package_folder(procs, nprocs, p->mod_names.v[j], &top);
                    if (pkg && pf_path_is_under(r, pkg))
                        s = site_add(&c, pkg, top);
                    free(pkg);
                    free(top);
                }
                free(mroot);
                if (s) {
                    char *why =
                        pf_xasprintf("imported module %s (process %d)", p->mod_names.v[j], p->pid);
                    use_file(&c, s, r, why);
                    free(why);
                } else if (app_root && pf_path_is_under(r, app_root)) {
                    char *rel = pf_path_relative(app_root, r), *d = pf_path_join("app", rel);
                    pf_plan_add_file(plan, d, r, "imported from the app's folder", "app");
                    free(rel);
                    free(d);
                } else if (!pf_path_is_under(r, base_prefix) && !pf_path_is_under(r, base_exec)) {
                    pf_plan_warn(plan, "%s: imported (module %s) from outside sys.path; left out",
                                 r, p->mod_names.v[j]);
                }
            } else if (in_stdlib(r, rstd)) {
                /* excluded stdlib parts that ran anyway */
                char *rel = pf_path_relative(rstd, r), *d = pf_path_join(std_dest, rel);
                pf_plan_add_file(plan, d, r, "imported from an excluded part of the stdlib",
                                 "stdlib");
                free(rel);
                free(d);
            }
            free(r);
        }
        /* extension modules and libraries mapped from inside a site folder */
        for (size_t j = 0; j < p->objects.n && !reach_active; j++) {
            site *s = site_of(&c, p->objects.v[j]);
            if (s) {
                char *why = pf_xasprintf("mapped %s (process %d)", p->objects.v[j], p->pid);
                use_file(&c, s, p->objects.v[j], why);
                free(why);
            }
        }
    }
    /* forced in: modules (their distribution, or their top-level package) */
    for (size_t k = 0; k < o->include_modules.n && rc == 0; k++) {
        const char *name = o->include_modules.v[k];
        const char *dot = strchr(name, '.');
        char *top = dot ? pf_xstrndup(name, (size_t)(dot - name)) : pf_xstrdup(name);
        char *why = pf_xasprintf("--include-module %s", name);
        int found = 0;
        for (size_t i = 0; i < c.nsites && !found; i++) {
            if (c.sites[i].is_zip)
                continue;
            DIR *d = opendir(c.sites[i].path);
            struct dirent *de;
            while (d && !found && (de = readdir(d))) {
                size_t tl = strlen(top);
                if (strncmp(de->d_name, top, tl) != 0 ||
                    (de->d_name[tl] && de->d_name[tl] != '.') || strstr(de->d_name, ".dist-info") ||
                    strstr(de->d_name, ".egg-info"))
                    continue;
                char *path = pf_path_join(c.sites[i].path, de->d_name);
                use_file(&c, &c.sites[i], path, why);
                free(path);
                found = 1;
            }
            if (d)
                closedir(d);
        }
        if (!found) {
            char *p = pf_path_join(stdlib, top), *py = pf_xasprintf("%s.py", p);
            found = access(p, F_OK) == 0 || access(py, F_OK) == 0;
            if (access(p, F_OK) == 0) { /* a stdlib package left out (tests, idlelib) */
                char *d = pf_path_join(std_dest, top);
                walk_ctx wi = {
                    .plan = plan, .origin = "stdlib", .reason = why, .cache_tag = tag, .opts = o};
                walk(&wi, p, d, 0);
                free(d);
            }
            free(p);
            free(py);
        }
        if (!found) {
            pf_seterr(err, errlen, "--include-module %s: not found on the traced sys.path", name);
            rc = -1;
        }
        free(top);
        free(why);
    }
    if (rc != 0)
        goto done;
    for (size_t k = 0; k < o->include_dists.n; k++) {
        int found = 0;
        for (size_t i = 0; i < c.nsites && !found; i++) {
            site_load(&c.sites[i]);
            for (size_t j = 0; j < c.sites[i].nd; j++)
                if (strcmp(c.sites[i].d[j]->name, o->include_dists.v[k]) == 0) {
                    use_dist(&c, &c.sites[i], c.sites[i].d[j], "--include-dist");
                    found = 1;
                    break;
                }
        }
        if (!found) {
            pf_seterr(err, errlen, "--include-dist %s: no such distribution on sys.path",
                      o->include_dists.v[k]);
            rc = -1;
            goto done;
        }
    }
done:
    for (size_t i = 0; i < c.nsites; i++)
        site_free(&c.sites[i]);
    free(c.sites);
    pf_strmap_free(&c.seen_tops);
    pf_strmap_free(&reach);
    pf_strv_free(&order);
    pf_strv_free(&traced);
    free(rstd);
    free(rbase);
    free(std_rel);
    free(std_dest);
    free(dyn);
    free(plat_rel);
    free(dyn_dest);
    free(app_root);
    free(entry_real);
    return rc;
}
