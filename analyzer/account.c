/* account.c: the accounted-for check, run at the end of every analysis.
 * Every module the app imported from a file, every object a traced process
 * mapped, every program it executed and every data file it opened must be
 * in the tree where the dist finds it, or left out by an option the user
 * gave (--exclude-module/-dist/-lib/-file), or on the documented host list.
 * Anything else is named, one line per item, and fails the analysis
 * (--allow-missing: warnings). The check reads only the facts and the
 * finished plan, so it holds whatever the stages before it did. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "analyze.h"

typedef struct acct {
    pf_plan *plan;
    const pf_opts *o;
    pf_strmap dests;   /* realpath -> pf_strv* of dist paths holding that file */
    pf_strv roots;     /* dist folders on the dist's sys.path */
    pf_strv env_roots; /* the traced environment's folders (prefixes, sys.path) */
    pf_strmap seen;    /* items already checked */
    pf_strv problems;  /* one line each */
    pf_account_stats *st;
} acct;

static void problem(acct *a, char *line) {
    if (!pf_strv_contains(&a->problems, line))
        pf_strv_push(&a->problems, line);
    free(line);
}

static int once(acct *a, const char *kind, const char *item) {
    char *k = pf_xasprintf("%s\t%s", kind, item);
    int first = pf_strmap_get(&a->seen, k) == NULL;
    if (first)
        pf_strmap_put(&a->seen, k, (void *)1);
    free(k);
    return first;
}

/* ---- the dist as planned ---- */

static void add_root(acct *a, const char *dest) {
    if (dest && !pf_strv_contains(&a->roots, dest))
        pf_strv_push(&a->roots, dest);
}

static void index_plan(acct *a) {
    pf_plan *p = a->plan;
    for (size_t i = 0; i < p->n; i++) {
        pf_entry *e = p->v[i];
        if (e->type != 'f' || !e->real)
            continue;
        pf_strv *v = pf_strmap_get(&a->dests, e->real);
        if (!v) {
            v = pf_xcalloc(1, sizeof *v);
            pf_strmap_put(&a->dests, e->real, v);
        }
        pf_strv_push(v, e->dest);
        /* the stdlib and lib-dynload folders, found by their contents */
        const char *b = pf_path_basename(e->dest);
        if (strcmp(e->origin, "stdlib") == 0 && strcmp(b, "os.py") == 0) {
            char *d = pf_path_dirname(e->dest);
            add_root(a, d);
            free(d);
        }
        const char *l = strstr(e->dest, "/lib-dynload/"); /* walked as stdlib when traced */
        if (l && strncmp(e->dest, "python/", 7) == 0) {
            char *d = pf_xstrndup(e->dest, (size_t)(l - e->dest) + strlen("/lib-dynload"));
            add_root(a, d);
            free(d);
        }
    }
    for (size_t i = 0; i < p->pth_lines.n; i++)
        add_root(a, p->pth_lines.v[i]);
    add_root(a, p->site_dest);
    if (p->entry_kind && strcmp(p->entry_kind, "script") == 0 && p->entry_dest) {
        char *d = pf_path_dirname(p->entry_dest);
        add_root(a, d);
        free(d);
    }
    if (p->entry_kind && strcmp(p->entry_kind, "module") == 0)
        add_root(a, "app");
}

/* 1: in the tree, 0: not in the plan, -1: planned but left out by --exclude-file.
 * *dests gets the dist paths written (NULL when none). */
static int in_tree(acct *a, const char *real, const pf_strv **dests) {
    const pf_strv *v = pf_strmap_get(&a->dests, real);
    *dests = v;
    if (!v)
        return 0;
    for (size_t i = 0; i < v->n; i++)
        if (!pf_plan_excluded(a->o, v->v[i]))
            return 1;
    return -1;
}

/* ---- modules ---- */

static int is_test_file(const char *path) {
    const char *b = pf_path_basename(path);
    return fnmatch("test_*.py", b, 0) == 0 || fnmatch("*_test.py", b, 0) == 0 ||
           strcmp(b, "conftest.py") == 0;
}

static int is_main_name(const char *name) {
    return strcmp(name, "__main__") == 0 || strcmp(name, "__mp_main__") == 0 ||
           strcmp(name, "__parents_main__") == 0;
}

static int app_file(acct *a, const char *file) {
    char *r = realpath(file, NULL);
    pf_entry *e = r ? pf_strmap_get(&a->plan->by_real, r) : NULL;
    free(r);
    return e && strcmp(e->origin, "app") == 0;
}

/* The modules the dist must hold: what the app's own (non-test) modules and
 * its entry imported, directly or not, following the traced importers.
 * This does not trust the plan's own notion (a wrong root there, such as
 * multiprocessing's __mp_main__ alias, is what it must catch): the entry
 * under every name multiprocessing gives it is a root. Modules only a test
 * runner or start-up (.pth hooks: importer `site`) reached are not. With no
 * importer facts at all (older traces), every module counts. */
static void compute_must(acct *a, pf_proc **procs, size_t n, pf_strmap *must, int *all) {
    pf_strmap edges = {0};
    pf_strv queue = {0};
    int active = 0, main_root = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < procs[i]->mod_names.n; j++) {
            const char *name = procs[i]->mod_names.v[j], *imp = procs[i]->mod_importers.v[j];
            const char *file = procs[i]->mod_files.v[j];
            if (*imp && strcmp(imp, "site") != 0) {
                active = 1;
                pf_strv *v = pf_strmap_get(&edges, imp);
                if (!v) {
                    v = pf_xcalloc(1, sizeof *v);
                    pf_strmap_put(&edges, imp, v);
                }
                pf_strv_push(v, name);
            }
            if (*imp)
                active = 1;
            if (is_main_name(name) && *file == '/' && app_file(a, file))
                main_root = 1; /* `-m` of the app's own package */
            else if (*file == '/' && !is_test_file(file) && app_file(a, file))
                pf_strv_push(&queue, name);
        }
    /* the entry script (even when dropped from the plan), under each of its
     * names: the tracer records one alias, importers name another */
    if (main_root || !queue.n ||
        strcmp(a->plan->entry_kind ? a->plan->entry_kind : "", "script") == 0) {
        pf_strv_push(&queue, "__main__");
        pf_strv_push(&queue, "__mp_main__");
        pf_strv_push(&queue, "__parents_main__");
    }
    for (size_t q = 0; q < queue.n; q++) {
        const char *name = queue.v[q];
        if (pf_strmap_get(must, name))
            continue;
        pf_strmap_put(must, name, (void *)1);
        pf_strv *v = pf_strmap_get(&edges, name);
        for (size_t k = 0; v && k < v->n; k++)
            pf_strv_push(&queue, v->v[k]);
    }
    *all = !active;
    pf_strmap_free_with(&edges, pf_strv_destroy);
    pf_strv_free(&queue);
}

static int on_syspath(const pf_proc *p, const char *file) {
    char *r = realpath(file, NULL);
    int on = 0;
    for (size_t i = 0; r && i < p->syspath.n && !on; i++) {
        char *sp = p->syspath.v[i][0] == '/' ? realpath(p->syspath.v[i], NULL) : NULL;
        on = sp && pf_path_is_under(r, sp);
        free(sp);
    }
    free(r);
    return on;
}

/* A module with no importer (seen in a snapshot: set into sys.modules by
 * code, not by an import statement) counts with its top; a top-level one
 * from outside the process's sys.path counts (code of the app loaded it
 * from a path of its choosing: nothing else would find it), unless it is a
 * test file. */
static int must_have(const pf_strmap *must, const pf_proc *p, size_t j, int all) {
    const char *name = p->mod_names.v[j], *importer = p->mod_importers.v[j];
    const char *file = p->mod_files.v[j];
    if (all || pf_strmap_get(must, name))
        return 1;
    if (*importer)
        return 0;
    const char *dot = strchr(name, '.');
    if (!dot)
        return !is_test_file(file) && !on_syspath(p, file);
    char *top = pf_xstrndup(name, (size_t)(dot - name));
    int r = pf_strmap_get(must, top) != NULL;
    free(top);
    return r;
}

/* --exclude-module NAME covers NAME and its submodules. */
static int excluded_module(const pf_opts *o, const char *name) {
    for (size_t i = 0; i < o->exclude_modules.n; i++) {
        size_t l = strlen(o->exclude_modules.v[i]);
        if (strncmp(name, o->exclude_modules.v[i], l) == 0 && (!name[l] || name[l] == '.'))
            return 1;
    }
    return 0;
}

static char *norm_dist(const char *s, size_t n) {
    char *r = pf_xstrndup(s, n);
    for (char *c = r; *c; c++)
        *c = *c == '_' || *c == '.' ? '-' : (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
    return r;
}

/* --exclude-dist NAME: a metadata folder of that name beside the module's
 * top-level package (in its sys.path folder) lists it or names its top. */
static int excluded_dist(const pf_opts *o, const char *syspath, const char *top) {
    if (!o->exclude_dists.n || !syspath)
        return 0;
    pf_strv names = {0};
    pf_list_dir(syspath, &names);
    int r = 0;
    for (size_t i = 0; i < names.n && !r; i++) {
        const char *m = names.v[i];
        if (!strstr(m, ".dist-info") && !strstr(m, ".egg-info"))
            continue;
        size_t n = strcspn(m, "-");
        if (n == strlen(m))
            n = strcspn(m, ".");
        char *nm = norm_dist(m, n);
        if (pf_strv_contains(&o->exclude_dists, nm)) {
            char *md = pf_path_join(syspath, m);
            const char *lists[] = {"RECORD", "top_level.txt", "installed-files.txt"};
            for (size_t k = 0; k < 3 && !r; k++) {
                char *f = pf_path_join(md, lists[k]);
                size_t len;
                char *t = pf_read_file(f, &len, NULL, 0);
                for (char *l = t ? strtok(t, "\r\n") : NULL; l && !r; l = strtok(NULL, "\r\n")) {
                    const char *s = strncmp(l, "../", 3) == 0 ? l + 3 : l;
                    size_t tl = strlen(top);
                    r = strncmp(s, top, tl) == 0 && (!s[tl] || strchr("/.,", s[tl]));
                }
                free(t);
                free(f);
            }
            free(md);
        }
        free(nm);
    }
    pf_strv_free(&names);
    return r;
}

/* The path below a sys.path folder that `import name` opens as `file`
 * ("pkg/sub/__init__.py", "pkg/mod.cpython-311-x86_64-linux-gnu.so"), or
 * NULL when the module's name does not say where it is (a loader of its
 * own, an alias): then being in the tree is all that can be checked. */
static char *module_tail(const char *name, const char *file) {
    const char *b = pf_path_basename(file);
    size_t stem = strcspn(b, ".");
    char *dotted = pf_xstrdup(name);
    for (char *c = dotted; *c; c++)
        if (*c == '.')
            *c = '/';
    char *r = NULL;
    const char *last = strrchr(dotted, '/');
    last = last ? last + 1 : dotted;
    if (strncmp(b, "__init__.", 9) == 0)
        r = pf_xasprintf("%s/%s", dotted, b);
    else if (strlen(last) == stem && strncmp(last, b, stem) == 0)
        r = pf_xasprintf("%.*s%s", (int)(last - dotted), dotted, b);
    free(dotted);
    return r;
}

/* In the traced process, file was its sys.path folder + tail. */
static int tail_on_syspath(const pf_proc *p, const char *file, const char *tail) {
    size_t fl = strlen(file), tl = strlen(tail);
    if (fl <= tl + 1 || strcmp(file + fl - tl, tail) != 0 || file[fl - tl - 1] != '/')
        return 0;
    char *root = pf_xstrndup(file, fl - tl - 1);
    char *rr = realpath(root, NULL);
    int on = 0;
    for (size_t i = 0; i < p->syspath.n && !on; i++) {
        const char *sp = p->syspath.v[i];
        char *rs = *sp ? realpath(sp, NULL) : NULL;
        on = strcmp(sp, root) == 0 || (rr && rs && strcmp(rr, rs) == 0);
        free(rs);
    }
    free(rr);
    free(root);
    return on;
}

static int findable(acct *a, const pf_strv *dests, const char *tail) {
    size_t tl = strlen(tail);
    for (size_t i = 0; i < dests->n; i++) {
        const char *d = dests->v[i];
        size_t dl = strlen(d);
        if (pf_plan_excluded(a->o, d))
            continue;
        if (dl == tl && strcmp(d, tail) == 0 && pf_strv_contains(&a->roots, "."))
            return 1;
        if (dl > tl + 1 && strcmp(d + dl - tl, tail) == 0 && d[dl - tl - 1] == '/') {
            char *root = pf_xstrndup(d, dl - tl - 1);
            int ok = pf_strv_contains(&a->roots, root);
            free(root);
            if (ok)
                return 1;
        }
    }
    return 0;
}

/* A file inside a zip on sys.path: the archive is the first existing
 * regular file above it. */
static char *zip_archive(const char *file) {
    char *d = pf_xstrdup(file);
    while (strcmp(d, "/") && strcmp(d, ".")) {
        struct stat st;
        if (stat(d, &st) == 0)
            return S_ISREG(st.st_mode) ? d : (free(d), NULL);
        char *up = pf_path_dirname(d);
        free(d);
        d = up;
    }
    free(d);
    return NULL;
}

static void check_module(acct *a, const pf_proc *p, size_t j) {
    const char *name = p->mod_names.v[j], *file = p->mod_files.v[j];
    const char *kind = p->mod_kinds.v[j], *imp = p->mod_importers.v[j];
    char *key = pf_xasprintf("%s\t%s", name, file);
    int first = once(a, "M", key);
    free(key);
    if (!first)
        return;
    a->st->modules++;
    if (excluded_module(a->o, name))
        return;
    char *what = pf_xasprintf("module %s (%s, imported by %s in process %d)", name, file,
                              *imp ? imp : "?", p->pid);
    int zip = strcmp(kind, "zip") == 0;
    char *real = zip ? zip_archive(file) : realpath(file, NULL);
    if (!real) {
        problem(a, pf_xasprintf("%s: the traced file no longer exists", what));
        free(what);
        return;
    }
    const pf_strv *dests;
    int t = in_tree(a, real, &dests);
    char *tail = zip || is_main_name(name) ? NULL : module_tail(name, file);
    if (tail && !tail_on_syspath(p, file, tail)) {
        free(tail); /* the name is not where the import system found it (cffi's
                       `_sodium` in nacl/): being in the tree is what can be checked */
        tail = NULL;
    }
    if (t == 0 && tail) {
        size_t fl = strlen(file), tl = strlen(tail);
        char *syspath = fl > tl + 1 ? pf_xstrndup(file, fl - tl - 1) : NULL;
        char *top = pf_xstrndup(name, strcspn(name, "."));
        if (excluded_dist(a->o, syspath, top))
            t = -1;
        free(syspath);
        free(top);
    }
    if (t == 0)
        problem(a, pf_xasprintf("%s: not in the dist", what));
    else if (t == 1 && tail && !findable(a, dests, tail))
        problem(a, pf_xasprintf("%s: in the dist at %s, where `import %s` does not find it (not "
                                "%s under a sys.path folder of the dist)",
                                what, dests->v[0], name, tail));
    free(tail);
    free(real);
    free(what);
}

/* ---- mapped objects, programs, data files ---- */

/* Files of the traced environment that the dist replaces on purpose: its
 * pyvenv.cfg (the dist's interpreter has its own layout) and the metadata
 * of distributions that importlib.metadata scans read without importing
 * them (entry points, plugin discovery). */
static int replaced_env_file(acct *a, const char *path) {
    if (strcmp(pf_path_basename(path), "pyvenv.cfg") == 0)
        return 1;
    if (!strstr(path, ".dist-info/") && !strstr(path, ".egg-info/") && !strstr(path, ".egg-info") &&
        !strstr(path, ".egg-link"))
        return 0;
    for (size_t i = 0; i < a->env_roots.n; i++)
        if (pf_path_is_under(path, a->env_roots.v[i]))
            return 1;
    return 0;
}

static void check_file(acct *a, const pf_proc *p, const char *path, const char *how) {
    if (*path != '/' || pf_host_file(path) || !once(a, "F", path))
        return;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return; /* gone since (a temporary file) or not a file: nothing to carry */
    char *real = realpath(path, NULL);
    if (real && pf_strmap_get(&a->seen, real) == (void *)2) {
        free(real); /* a script, read by its interpreter: checked as a program */
        return;
    }
    a->st->files++;
    if (replaced_env_file(a, path)) {
        free(real);
        return;
    }
    const pf_strv *dests;
    int t = real ? in_tree(a, real, &dests) : 0;
    char *dest = pf_xasprintf("data%s", path);
    if (t == 0 && pf_plan_excluded(a->o, dest))
        t = -1;
    if (t == 0)
        problem(
            a, pf_xasprintf("data file %s (%s by process %d): not in the dist", path, how, p->pid));
    free(dest);
    free(real);
}

static int is_elf(const char *path) {
    FILE *fp = fopen(path, "rb");
    unsigned char m[4] = {0};
    size_t n = fp ? fread(m, 1, 4, fp) : 0;
    if (fp)
        fclose(fp);
    return n == 4 && m[0] == 0x7f && m[1] == 'E' && m[2] == 'L' && m[3] == 'F';
}

static void check_object(acct *a, const pf_proc *p, const char *ob) {
    const char *b = pf_path_basename(ob);
    if (*ob != '/' || strstr(b, "pfpreload") || pf_host_file(ob))
        return;
    char *real = realpath(ob, NULL);
    if (!real)
        return; /* deleted since, or not a file (memfd) */
    if (!is_elf(real)) {
        free(real);
        check_file(a, p, ob, "mapped");
        return;
    }
    if (!once(a, "O", real)) {
        free(real);
        return;
    }
    a->st->objects++;
    const pf_strv *dests;
    int t = in_tree(a, real, &dests);
    if (t == 0 && (pf_is_host_lib(a->o, ob) || pf_is_host_lib(a->o, real) ||
                   pf_is_excluded_lib(a->o, ob) || pf_is_excluded_lib(a->o, real)))
        t = -1;
    if (t == 0) { /* a glibc-hwcaps build stands for its baseline (native.c) */
        char *base = pf_hwcaps_baseline(ob, NULL);
        char *breal = base ? realpath(base, NULL) : NULL;
        if (breal)
            t = in_tree(a, breal, &dests);
        free(breal);
        free(base);
    }
    if (t == 0)
        problem(a, pf_xasprintf("mapped object %s (process %d): not in the dist", ob, p->pid));
    free(real);
}

static void check_program(acct *a, const pf_facts *f, const pf_proc *p, const char *pg) {
    char *real = realpath(pg, NULL);
    if (!real || !once(a, "X", real)) {
        free(real);
        return;
    }
    a->st->programs++;
    const pf_strv *dests;
    int t = in_tree(a, real, &dests);
    char *dest = pf_xasprintf("bin/%s", pf_path_basename(pg));
    if (t == 0 && pf_plan_excluded(a->o, dest))
        t = -1;
    for (size_t q = 0; q < f->n && t == 0; q++) /* another environment's: --env chose */
        if (f->v[q]->python && f->v[q]->exe && strcmp(f->v[q]->exe, real) == 0)
            t = -1;
    if (t == 0)
        problem(a,
                pf_xasprintf("program %s (executed by process %d): not in the dist%s", pg, p->pid,
                             is_elf(real) ? "" : " (a script: only ELF programs are bundled)"));
    free(dest);
    free(real);
}

/* The processes whose native facts count, as native.c takes them: the
 * environment's, and the non-Python processes of the same runs. */
static int counts(const pf_facts *f, pf_proc **procs, size_t n, const pf_proc *p) {
    for (size_t j = 0; j < n; j++)
        if (procs[j] == p)
            return 1;
    if (p->python)
        return 0;
    for (size_t j = 0; j < n; j++)
        if (procs[j]->run_id == p->run_id)
            return 1;
    (void)f;
    return 0;
}

static void env_roots(acct *a, const pf_proc *ep) {
    const char *keys[] = {"prefix", "base_prefix", "exec_prefix", "base_exec_prefix", "stdlib"};
    for (size_t k = 0; k < 5; k++) {
        const char *v = pf_proc_info(ep, keys[k]);
        if (v && *v == '/' && strcmp(v, "/usr") && strcmp(v, "/usr/local") && strcmp(v, "/"))
            pf_strv_push(&a->env_roots, v);
    }
    for (size_t i = 0; i < ep->syspath.n; i++)
        if (ep->syspath.v[i][0] == '/')
            pf_strv_push(&a->env_roots, ep->syspath.v[i]);
}

static void check_all(acct *a, pf_facts *f, pf_proc **procs, size_t nprocs) {
    pf_strmap must = {0};
    int all = 0;
    compute_must(a, procs, nprocs, &must, &all);
    for (size_t i = 0; i < nprocs; i++) {
        const pf_proc *p = procs[i];
        for (size_t j = 0; j < p->mod_names.n; j++)
            if (p->mod_files.v[j][0] == '/' && must_have(&must, p, j, all))
                check_module(a, p, j);
    }
    pf_strmap_free(&must);
    for (size_t i = 0; i < f->n; i++) /* executed programs, so that a script is one item */
        for (size_t j = 0; counts(f, procs, nprocs, f->v[i]) && j < f->v[i]->programs.n; j++) {
            char *real = realpath(f->v[i]->programs.v[j], NULL);
            if (real && !pf_strmap_get(&a->seen, real))
                pf_strmap_put(&a->seen, real, (void *)2);
            free(real);
        }
    for (size_t i = 0; i < f->n; i++) {
        const pf_proc *p = f->v[i];
        if (!counts(f, procs, nprocs, p))
            continue;
        for (size_t j = 0; j < p->objects.n; j++)
            check_object(a, p, p->objects.v[j]);
        for (size_t j = 0; j < p->programs.n; j++)
            check_program(a, f, p, p->programs.v[j]);
        for (size_t j = 0; j < p->files.n; j++)
            check_file(a, p, p->files.v[j], "opened");
    }
}

int pf_account(pf_plan *plan, pf_facts *f, pf_proc **procs, size_t nprocs, const pf_opts *o,
               pf_account_stats *st, char *err, size_t errlen) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(st, 0, sizeof *st);
    acct a = {.plan = plan, .o = o, .st = st};
    index_plan(&a);
    env_roots(&a, procs[0]);
    check_all(&a, f, procs, nprocs);
    pf_strv_sort(&a.problems);
    st->problems = a.problems.n;
    for (size_t i = 0; i < a.problems.n; i++) {
        if (o->allow_missing)
            pf_plan_warn(plan, "not accounted for (--allow-missing): %s", a.problems.v[i]);
        else
            fprintf(stderr, "pfanalyze: not accounted for: %s\n", a.problems.v[i]);
    }
    int r = 0;
    if (a.problems.n && !o->allow_missing) {
        pf_seterr(err, errlen,
                  "%zu item%s of the trace %s not in the dist, left out by an option or on the "
                  "host list (--allow-missing makes them warnings)",
                  a.problems.n, a.problems.n == 1 ? "" : "s", a.problems.n == 1 ? "is" : "are");
        r = -1;
    }
    pf_strmap_free_with(&a.dests, pf_strv_destroy);
    pf_strmap_free(&a.seen);
    pf_strv_free(&a.roots);
    pf_strv_free(&a.env_roots);
    pf_strv_free(&a.problems);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    st->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return r;
}

size_t pf_account_debug_drop(pf_plan *plan) {
    const char *env = getenv("PYFARM_DEBUG_DROP");
    if (!env || !*env)
        return 0;
    char *globs = pf_xstrdup(env);
    pf_strv pats = {0};
    for (char *s = strtok(globs, ":"); s; s = strtok(NULL, ":"))
        pf_strv_push(&pats, s);
    free(globs);
    size_t dropped = 0;
    for (size_t i = plan->n; i-- > 0;)
        for (size_t k = 0; k < pats.n; k++)
            if (plan->v[i]->type == 'f' && fnmatch(pats.v[k], plan->v[i]->dest, 0) == 0) {
                fprintf(stderr, "pfanalyze: PYFARM_DEBUG_DROP: %s left out of the plan\n",
                        plan->v[i]->dest);
                pf_plan_remove(plan, i);
                dropped++;
                break;
            }
    pf_strv_free(&pats);
    return dropped;
}
