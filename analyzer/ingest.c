/* ingest.c: read the per-process trace records (docs/trace-format.md) into
 * the catalog's processes and facts tables, and load them back as one
 * pf_proc per process for the analysis of every recorded run. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

/* Split one record line into unescaped fields. Returns field count. */
static int split_fields(char *line, char **f, int max) {
    int n = 0;
    char *w = line, *start = line;
    for (char *r = line;; r++) {
        if (*r == '\\' && r[1]) {
            r++;
            *w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r == 'r' ? '\r' : *r;
            continue;
        }
        if (*r == '\t' || *r == 0) {
            int end = *r == 0;
            *w = 0;
            if (n < max)
                f[n++] = start;
            if (end)
                break;
            w = r + 1;
            start = w;
            continue;
        }
        *w++ = *r;
    }
    return n;
}

static int insert_fact(sqlite3_stmt *st, int64_t pid, char **f, int nf) {
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, pid);
    for (int i = 0; i < 5; i++) {
        if (i < nf)
            sqlite3_bind_text(st, 2 + i, f[i], -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, 2 + i);
    }
    return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

static int ingest_file(pf_catalog *c, const char *path, int python, int64_t run_id,
                       sqlite3_stmt *ins_proc, sqlite3_stmt *ins_fact, char *err, size_t errlen) {
    size_t len;
    char *text = pf_read_file(path, &len, err, errlen);
    if (!text)
        return -1;
    int64_t proc_id = -1;
    int complete = 0;
    char *line = text;
    while (line < text + len) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        if (!nl)
            break; /* a line cut by a crash: ignored */
        *nl = 0;
        char *f[8];
        int nf = split_fields(line, f, 8);
        line = nl + 1;
        if (nf < 1 || !f[0][0])
            continue;
        if (f[0][0] == 'P' && proc_id < 0) {
            sqlite3_reset(ins_proc);
            sqlite3_bind_int64(ins_proc, 1, run_id);
            sqlite3_bind_int(ins_proc, 2, nf > 1 ? atoi(f[1]) : 0);
            sqlite3_bind_int(ins_proc, 3, nf > 2 ? atoi(f[2]) : 0);
            sqlite3_bind_text(ins_proc, 4, nf > 4 ? f[4] : NULL, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins_proc, 5, nf > 3 ? f[3] : NULL, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(ins_proc, 6, python);
            sqlite3_bind_text(ins_proc, 7, pf_path_basename(path), -1, SQLITE_TRANSIENT);
            if (sqlite3_step(ins_proc) != SQLITE_DONE) {
                pf_seterr(err, errlen, "%s: %s", c->path, sqlite3_errmsg(c->db));
                free(text);
                return -1;
            }
            proc_id = sqlite3_last_insert_rowid(c->db);
            continue;
        }
        if (proc_id < 0)
            continue; /* no P line: not a record we understand */
        if (f[0][0] == 'Z')
            complete = 1;
        if (insert_fact(ins_fact, proc_id, f, nf) != 0) {
            pf_seterr(err, errlen, "%s: %s", c->path, sqlite3_errmsg(c->db));
            free(text);
            return -1;
        }
    }
    free(text);
    if (proc_id >= 0 && complete) {
        char q[96];
        snprintf(q, sizeof q, "UPDATE processes SET complete=1 WHERE id=%lld", (long long)proc_id);
        pf_catalog_exec(c, q, NULL, 0);
    }
    return proc_id >= 0 ? 1 : 0;
}

int pf_ingest_dir(pf_catalog *c, const char *dir, int64_t run_id, int *nproc, char *err,
                  size_t errlen) {
    pf_strv names = {0}; /* sorted: the same catalog for the same records */
    if (pf_list_dir(dir, &names) != 0) {
        pf_seterr(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    sqlite3_stmt *ins_proc = NULL, *ins_fact = NULL;
    sqlite3_prepare_v2(c->db,
                       "INSERT INTO processes(run_id, pid, ppid, exe, cwd, python, record)"
                       " VALUES(?,?,?,?,?,?,?)",
                       -1, &ins_proc, NULL);
    sqlite3_prepare_v2(c->db, "INSERT INTO facts(process_id, kind, a, b, c, d) VALUES(?,?,?,?,?,?)",
                       -1, &ins_fact, NULL);
    int r = 0;
    *nproc = 0;
    for (size_t i = 0; i < names.n && r == 0; i++) {
        if (!strstr(names.v[i], ".rec"))
            continue;
        char *p = pf_path_join(dir, names.v[i]);
        int python = strncmp(names.v[i], "py-", 3) == 0;
        int k = ingest_file(c, p, python, run_id, ins_proc, ins_fact, err, errlen);
        if (k < 0)
            r = -1;
        else if (python)
            *nproc += k;
        free(p);
    }
    pf_strv_free(&names);
    sqlite3_finalize(ins_proc);
    sqlite3_finalize(ins_fact);
    return r;
}

const char *pf_proc_info(const pf_proc *p, const char *key) {
    return pf_strmap_get(&p->info, key);
}

static pf_proc *find_proc(pf_facts *f, int64_t id) {
    /* facts arrive ordered by process id, and processes are appended in id
     * order: the last one is almost always it */
    for (size_t i = f->n; i-- > 0;)
        if (f->v[i]->id == id)
            return f->v[i];
    return NULL;
}

static char *dupnull(const unsigned char *s) {
    return s ? pf_xstrdup((const char *)s) : NULL;
}

int pf_facts_load(pf_catalog *c, pf_facts *f, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT id, run_id, pid, ppid, python, complete, exe, cwd FROM processes"
                           " ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        pf_seterr(err, errlen, "%s: %s", c->path, sqlite3_errmsg(c->db));
        return -1;
    }
    size_t cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        pf_proc *p = pf_xcalloc(1, sizeof *p);
        p->id = sqlite3_column_int64(st, 0);
        p->run_id = sqlite3_column_int64(st, 1);
        p->pid = sqlite3_column_int(st, 2);
        p->ppid = sqlite3_column_int(st, 3);
        p->python = sqlite3_column_int(st, 4);
        p->complete = sqlite3_column_int(st, 5);
        p->exe = dupnull(sqlite3_column_text(st, 6));
        p->cwd = dupnull(sqlite3_column_text(st, 7));
        if (f->n == cap) {
            cap = cap ? cap * 2 : 64;
            f->v = pf_xrealloc(f->v, cap * sizeof *f->v);
        }
        f->v[f->n++] = p;
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(c->db, "SELECT process_id, kind, a, b, c, d FROM facts ORDER BY rowid",
                           -1, &st, NULL) != SQLITE_OK) {
        pf_seterr(err, errlen, "%s: %s", c->path, sqlite3_errmsg(c->db));
        return -1;
    }
    pf_proc *p = NULL;
    int have_s = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t pid = sqlite3_column_int64(st, 0);
        if (!p || p->id != pid) {
            p = find_proc(f, pid);
            have_s = 0;
        }
        if (!p)
            continue;
        const char *k = (const char *)sqlite3_column_text(st, 1);
        const char *a = (const char *)sqlite3_column_text(st, 2);
        const char *b = (const char *)sqlite3_column_text(st, 3);
        const char *cc = (const char *)sqlite3_column_text(st, 4);
        const char *dd = (const char *)sqlite3_column_text(st, 5);
        if (!k)
            continue;
        a = a ? a : "";
        b = b ? b : "";
        switch (k[0]) {
        case 'I':
            free(pf_strmap_put(&p->info, a, pf_xstrdup(b)));
            break;
        case 'S': /* each snapshot restarts at index 0: the last set wins */
            if (atoi(a) == 0 && have_s)
                pf_strv_free(&p->syspath);
            have_s = 1;
            pf_strv_push(&p->syspath, b);
            break;
        case 'G':
            if (!pf_strv_contains(&p->sites, a))
                pf_strv_push(&p->sites, a);
            break;
        case 'B':
            if (!pf_strv_contains(&p->base_sites, a))
                pf_strv_push(&p->base_sites, a);
            break;
        case 'E':
            if (!p->entry_kind) {
                p->entry_kind = pf_xstrdup(a);
                p->entry = pf_xstrdup(b);
            }
            break;
        case 'R':
            pf_strv_push(&p->argv, a);
            break;
        case 'M':
            pf_strv_push(&p->mod_names, a);
            pf_strv_push(&p->mod_files, b);
            pf_strv_push(&p->mod_kinds, cc ? cc : "");
            pf_strv_push(&p->mod_importers, dd ? dd : "");
            break;
        case 'N':
            pf_strv_push(&p->ns_locations, b);
            break;
        case 'A':
            pf_strv_push(&p->alias_names, a);
            pf_strv_push(&p->alias_targets, b);
            break;
        case 'O':
            pf_strv_push(&p->objects, a);
            break;
        case 'D':
            pf_strv_push(&p->dlopens, a);
            break;
        case 'X':
            pf_strv_push(&p->programs, a);
            break;
        case 'F':
            pf_strv_push(&p->files, a);
            break;
        default:
            break;
        }
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < f->n; i++) {
        const char *pre = pf_proc_info(f->v[i], "prefix");
        if (pre)
            f->v[i]->prefix = pf_xstrdup(pre);
    }
    return 0;
}

void pf_facts_free(pf_facts *f) {
    for (size_t i = 0; i < f->n; i++) {
        pf_proc *p = f->v[i];
        free(p->exe);
        free(p->cwd);
        free(p->entry_kind);
        free(p->entry);
        free(p->prefix);
        pf_strmap_free_with(&p->info, free);
        pf_strv *vs[] = {&p->argv,          &p->syspath,     &p->sites,        &p->base_sites,
                         &p->mod_names,     &p->mod_files,   &p->mod_kinds,    &p->ns_locations,
                         &p->mod_importers, &p->objects,     &p->dlopens,      &p->programs,
                         &p->files,         &p->alias_names, &p->alias_targets};
        for (size_t j = 0; j < sizeof vs / sizeof *vs; j++)
            pf_strv_free(vs[j]);
        free(p);
    }
    free(f->v);
    memset(f, 0, sizeof *f);
}
