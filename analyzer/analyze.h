/* analyze.h: pfanalyze's internal model, shared by its stages:
 * trace (run and ingest) -> facts (per process) -> plan (dist entries)
 * -> native closure and patches -> tree written to the catalog. */
#ifndef PYFARM_ANALYZE_H
#define PYFARM_ANALYZE_H

#include <stdint.h>

#include "pyfarm/catalog.h"
#include "pyfarm/elf.h"
#include "pyfarm/strmap.h"
#include "pyfarm/util.h"

/* What one traced process did (rebuilt from the catalog's facts table, so
 * that every run recorded in the catalog counts). */
typedef struct pf_proc {
    int64_t id, run_id;
    int pid, ppid, python, complete;
    char *exe, *cwd, *entry_kind, *entry;
    pf_strmap info;        /* I facts: key -> char* */
    pf_strv argv, syspath; /* R, S */
    pf_strv sites, base_sites;
    pf_strv mod_names, mod_files, mod_kinds, mod_importers; /* M, parallel */
    pf_strv ns_locations;                                   /* N paths */
    pf_strv alias_names, alias_targets;                     /* A: one module object, two names */
    pf_strv objects, dlopens, programs, files;
    char *prefix; /* env key: sys.prefix */
} pf_proc;

typedef struct pf_facts {
    pf_proc **v;
    size_t n;
} pf_facts;

/* Options from the command line. */
typedef struct pf_opts {
    const char *catalog;
    char *catalog_real;      /* absolute path of the catalog (kept out of the app) */
    const char *env;         /* --env PREFIX */
    int allow_missing;       /* --allow-missing */
    int no_trace;            /* --reanalyze: no command, analyze what is recorded */
    pf_strv include_modules; /* --include-module NAME */
    pf_strv exclude_modules; /* --exclude-module NAME */
    pf_strv include_dists;   /* --include-dist NAME */
    pf_strv exclude_dists;   /* --exclude-dist NAME */
    pf_strv include_libs;    /* --include-lib PATH */
    pf_strv exclude_libs;    /* --exclude-lib NAME-GLOB */
    pf_strv include_files;   /* --include-file SRC[=DEST] */
    pf_strv exclude_files;   /* --exclude-file DEST-GLOB */
    pf_strv host_libs;       /* --host-lib GLOB (added to the default list) */
    pf_strv bundle_libs;     /* --bundle-lib GLOB (removed from the host list) */
    const char *max_glibc;   /* --max-glibc 2.28 */
    int bundle_glibc;        /* --glibc bundle: hermetic dist */
    char *launcher;          /* the static launcher binary (bundle mode) */
    int quiet;
} pf_opts;

/* One path of the dist. */
typedef struct pf_entry {
    char *dest;   /* relative path in the dist */
    char type;    /* 'f' 'l' 'd' */
    char *source; /* absolute source (as found) */
    char *real;   /* realpath(source) */
    char *target; /* symlink target */
    uint32_t mode;
    char *reason, *origin;
    uint8_t *data; /* generated content (all literal) */
    size_t data_len;
    /* native */
    int elf;     /* 1 when the file is a dynamic ELF */
    int program; /* executable (resolved as a program, not a library) */
    int nopatch; /* the glibc family: loaded by the bundled loader as is */
    int mapped;  /* seen mapped in a traced process */
    pf_elf_info info;
    char *loadname; /* the name other objects load it by, when a dependency */
    char *soname_new;
    pf_strv need_from, need_to; /* DT_NEEDED renames */
    pf_strv dep_dirs;           /* dist folders of its dependencies */
    uint8_t *patch;
    size_t patch_len;
    uint64_t size;
} pf_entry;

typedef struct pf_plan {
    pf_entry **v;
    size_t n, cap;
    pf_strmap by_dest;
    pf_strmap by_real;
    pf_strv envvars; /* "NAME=dist-relative path" for run.sh */
    pf_strv warnings;
    char *python_dest; /* python/bin/python3.11 */
    char *site_dest;   /* dist folder where pyfarm.pth goes */
    pf_strv pth_lines; /* sys.path additions, dist-relative */
    char *entry_kind, *entry_dest, *entry_module;
    char *max_glibc;
    pf_strv deps; /* "from\tname\tto-dest\tto-source\tkind" for the deps table */
} pf_plan;

/* ingest.c */
int pf_ingest_dir(pf_catalog *c, const char *dir, int64_t run_id, int *nproc, char *err,
                  size_t errlen);
int pf_facts_load(pf_catalog *c, pf_facts *f, char *err, size_t errlen);
void pf_facts_free(pf_facts *f);
const char *pf_proc_info(const pf_proc *p, const char *key);

/* plan.c */
int pf_is_glibc_family(const char *name);
pf_entry *pf_plan_add_file(pf_plan *p, const char *dest, const char *source, const char *reason,
                           const char *origin);
pf_entry *pf_plan_add_data(pf_plan *p, const char *dest, const void *data, size_t len,
                           uint32_t mode, const char *reason);
void pf_plan_move(pf_plan *p, pf_entry *e, const char *dest);
pf_entry *pf_plan_add_link(pf_plan *p, const char *dest, const char *target, const char *reason);
void pf_plan_warn(pf_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pf_plan_remove(pf_plan *p, size_t i); /* entry i leaves the plan (freed) */
void pf_plan_free(pf_plan *p);
int pf_excluded_name(const char *name); /* .git, __pycache__ handled by callers */
int pf_plan_includes(pf_plan *p, const pf_opts *o, char *err, size_t errlen);
int pf_plan_excluded(const pf_opts *o, const char *dest);

/* appdir.c: what the app folder holds that is not the app */
int pf_is_venv(const char *dir);
int pf_is_pyfarm_dist(const char *dir);
int pf_is_pyfarm_catalog(const char *path);
const char *pf_app_skip_dir(const char *path, int depth, int used);
const char *pf_app_skip_file(const char *path, int used);
char *pf_module_root(const char *file, const char *name);
int pf_app_foreign(const char *root, const pf_strv *sites, const char *file);
void pf_pth_hooks(const pf_strv *sites, pf_strmap *out);

/* python.c: interpreter, stdlib, packages, app */
int pf_plan_python(pf_plan *plan, pf_facts *f, pf_proc **procs, size_t nprocs, const pf_opts *o,
                   char *err, size_t errlen);
/* native.c: ELF closure, placement, renames, patches; data files */
int pf_plan_native(pf_plan *plan, pf_facts *f, pf_proc **procs, size_t nprocs, const pf_opts *o,
                   char *err, size_t errlen);
/* the host lists (native.c): a library taken from the host, one left out
 * by --exclude-lib, a file read where it is (docs/user-guide.md) */
int pf_is_host_lib(const pf_opts *o, const char *name);
int pf_is_excluded_lib(const pf_opts *o, const char *name);
int pf_host_file(const char *path);
/* the baseline build beside a glibc-hwcaps/LEVEL/ library, or NULL */
char *pf_hwcaps_baseline(const char *path, const char **level);
/* account.c: the trace is accounted for (modules, mapped objects, programs,
 * data files): each is in the tree where the dist finds it, left out by an
 * option, or on the host list. Failures are printed one line each; returns
 * -1 (err says how many) unless --allow-missing made them warnings. */
typedef struct pf_account_stats {
    size_t modules, objects, programs, files; /* items verified */
    size_t problems;
    double seconds;
} pf_account_stats;
int pf_account(pf_plan *plan, pf_facts *f, pf_proc **procs, size_t nprocs, const pf_opts *o,
               pf_account_stats *st, char *err, size_t errlen);
/* PYFARM_DEBUG_DROP=GLOB[:GLOB...] (a testing hook): plan entries whose
 * dist path matches leave the plan before the check. Returns how many. */
size_t pf_account_debug_drop(pf_plan *plan);
/* launch.c: run.sh and pyfarm.pth */
int pf_plan_launch(pf_plan *plan, const pf_opts *o, char *err, size_t errlen);
/* tree.c: write the plan into the catalog's tree */
int pf_tree_write(pf_catalog *c, pf_plan *plan, const pf_opts *opts, char *err, size_t errlen);

#endif
