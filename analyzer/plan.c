/* plan.c: the dist being planned: entries by dist path and by source
 * realpath, warnings. Every stage adds to it; tree.c writes it out. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyze.h"

static pf_entry *add(pf_plan *p, const char *dest, char type) {
    pf_entry *e = pf_strmap_get(&p->by_dest, dest);
    if (e)
        return NULL; /* first one wins: callers add in precedence order */
    e = pf_xcalloc(1, sizeof *e);
    e->dest = pf_xstrdup(dest);
    e->type = type;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 1024;
        p->v = pf_xrealloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = e;
    pf_strmap_put(&p->by_dest, dest, e);
    return e;
}

pf_entry *pf_plan_add_file(pf_plan *p, const char *dest, const char *source, const char *reason,
                           const char *origin) {
    struct stat st;
    if (stat(source, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    pf_entry *e = add(p, dest, 'f');
    if (!e)
        return pf_strmap_get(&p->by_dest, dest);
    e->source = pf_xstrdup(source);
    char *r = realpath(source, NULL);
    e->real = r ? r : pf_xstrdup(source);
    e->mode = st.st_mode & 0777;
    e->reason = pf_xstrdup(reason);
    e->origin = pf_xstrdup(origin);
    if (!pf_strmap_get(&p->by_real, e->real))
        pf_strmap_put(&p->by_real, e->real, e);
    return e;
}

pf_entry *pf_plan_add_data(pf_plan *p, const char *dest, const void *data, size_t len,
                           uint32_t mode, const char *reason) {
    pf_entry *e = add(p, dest, 'f');
    if (!e)
        return NULL;
    e->data = pf_xmalloc(len);
    memcpy(e->data, data, len);
    e->data_len = len;
    e->mode = mode;
    e->reason = pf_xstrdup(reason);
    e->origin = pf_xstrdup("generated");
    return e;
}

pf_entry *pf_plan_add_link(pf_plan *p, const char *dest, const char *target, const char *reason) {
    pf_entry *e = add(p, dest, 'l');
    if (!e)
        return NULL;
    e->target = pf_xstrdup(target);
    e->mode = 0777;
    e->reason = pf_xstrdup(reason);
    e->origin = pf_xstrdup("generated");
    return e;
}

void pf_plan_move(pf_plan *p, pf_entry *e, const char *dest) {
    /* the old name becomes free: hermetic mode puts a launcher there */
    pf_strmap_put(&p->by_dest, e->dest, NULL);
    free(e->dest);
    e->dest = pf_xstrdup(dest);
    pf_strmap_put(&p->by_dest, dest, e);
}

/* --include-file SRC[=DEST] (a file or a folder; DEST defaults to
 * data/SRC) and --exclude-file GLOB (on dist paths). */
static int add_tree(pf_plan *p, const char *src, const char *dest, int depth) {
    struct stat st;
    if (depth > 40 || stat(src, &st) != 0)
        return -1;
    if (S_ISREG(st.st_mode))
        return pf_plan_add_file(p, dest, src, "--include-file", "included") ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return -1;
    DIR *d = opendir(src);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || pf_excluded_name(de->d_name))
            continue;
        char *s = pf_path_join(src, de->d_name), *t = pf_path_join(dest, de->d_name);
        add_tree(p, s, t, depth + 1);
        free(s);
        free(t);
    }
    if (d)
        closedir(d);
    return 0;
}

int pf_plan_includes(pf_plan *p, const pf_opts *o, char *err, size_t errlen) {
    for (size_t i = 0; i < o->include_files.n; i++) {
        char *spec = pf_xstrdup(o->include_files.v[i]);
        char *eq = strchr(spec, '=');
        if (eq)
            *eq = 0;
        char *src = realpath(spec, NULL);
        if (!src) {
            pf_seterr(err, errlen, "--include-file %s: %s", spec, strerror(errno));
            free(spec);
            return -1;
        }
        char *dest = eq && eq[1] ? pf_path_normalize(eq + 1) : pf_xasprintf("data%s", src);
        if (dest[0] == '/' || strncmp(dest, "..", 2) == 0) {
            pf_seterr(err, errlen, "--include-file %s: the destination must be inside the dist",
                      o->include_files.v[i]);
            free(dest);
            free(src);
            free(spec);
            return -1;
        }
        add_tree(p, src, dest, 0);
        free(dest);
        free(src);
        free(spec);
    }
    return 0;
}

int pf_plan_excluded(const pf_opts *o, const char *dest) {
    for (size_t i = 0; i < o->exclude_files.n; i++)
        if (fnmatch(o->exclude_files.v[i], dest, 0) == 0)
            return 1;
    return 0;
}

void pf_plan_warn(pf_plan *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) >= 0)
        pf_strv_push_own(&p->warnings, s);
    va_end(ap);
}

/* Folders that never belong in a dist: version control and tool caches. */
int pf_excluded_name(const char *name) {
    static const char *const names[] = {".git",  ".hg",           ".svn",         ".tox",
                                        ".nox",  ".pytest_cache", ".mypy_cache",  ".ruff_cache",
                                        ".eggs", ".venv",         "node_modules", NULL};
    for (int i = 0; names[i]; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

static void entry_free(pf_entry *e) {
    free(e->dest);
    free(e->source);
    free(e->real);
    free(e->target);
    free(e->reason);
    free(e->origin);
    free(e->data);
    free(e->loadname);
    free(e->soname_new);
    free(e->patch);
    pf_strv_free(&e->need_from);
    pf_strv_free(&e->need_to);
    pf_strv_free(&e->dep_dirs);
    if (e->elf)
        pf_elf_info_free(&e->info);
    free(e);
}

void pf_plan_remove(pf_plan *p, size_t i) {
    assert(i < p->n);
    pf_entry *e = p->v[i];
    if (pf_strmap_get(&p->by_dest, e->dest) == e)
        pf_strmap_put(&p->by_dest, e->dest, NULL);
    if (e->real && pf_strmap_get(&p->by_real, e->real) == e) {
        pf_strmap_put(&p->by_real, e->real, NULL);
        for (size_t k = 0; k < p->n; k++) /* another entry of the same file takes over */
            if (k != i && p->v[k]->real && strcmp(p->v[k]->real, e->real) == 0) {
                pf_strmap_put(&p->by_real, e->real, p->v[k]);
                break;
            }
    }
    entry_free(e);
    memmove(p->v + i, p->v + i + 1, (p->n - i - 1) * sizeof *p->v);
    p->n--;
}

void pf_plan_free(pf_plan *p) {
    for (size_t i = 0; i < p->n; i++)
        entry_free(p->v[i]);
    free(p->v);
    pf_strmap_free(&p->by_dest);
    pf_strmap_free(&p->by_real);
    pf_strv_free(&p->envvars);
    pf_strv_free(&p->warnings);
    pf_strv_free(&p->pth_lines);
    pf_strv_free(&p->deps);
    free(p->python_dest);
    free(p->site_dest);
    free(p->entry_kind);
    free(p->entry_dest);
    free(p->entry_module);
    free(p->max_glibc);
    memset(p, 0, sizeof *p);
}
