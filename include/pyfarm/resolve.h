/* resolve.h: where glibc's loader would find each DT_NEEDED. Emulates
 * elf/dl-load.c for one load: objects already loaded are matched by name
 * and SONAME first, then DT_RPATH of the object and of its loaders (when the
 * object has no DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH, /etc/ld.so.cache
 * (with glibc-hwcaps subfolders), then the default folders (unless
 * DF_1_NODEFLIB). $ORIGIN, $LIB and $PLATFORM are expanded; candidates of
 * the wrong class or machine are skipped, as the loader does. */
#ifndef PYFARM_RESOLVE_H
#define PYFARM_RESOLVE_H

#include <stddef.h>

#include "pyfarm/util.h"

typedef struct pf_resolver pf_resolver;

typedef struct pf_resolver_opts {
    const char *ld_library_path; /* as traced, or NULL */
    const char *ld_so_cache;     /* default /etc/ld.so.cache */
    const char *root;            /* sysroot prefix for every lookup, or NULL */
    /* Added by the resolver (zero keeps the old behaviour): */
    int origin_as_given; /* the program is started as `ld.so PROGRAM` (as ld.so --list
                          * does): its $ORIGIN is the folder of the path as given,
                          * symlinks kept. 0: exec'd, $ORIGIN from its realpath. */
    int inhibit_cache;   /* ld.so --inhibit-cache: no /etc/ld.so.cache lookups */
} pf_resolver_opts;

pf_resolver *pf_resolver_new(const pf_resolver_opts *opts, char *err, size_t errlen);
void pf_resolver_free(pf_resolver *r);

/* One object of a load, in the loader's order (breadth first). */
typedef struct pf_loaded {
    char *name; /* the DT_NEEDED string as written (or the root's path); the loader
                 * matches it with $ORIGIN/$LIB/$PLATFORM expanded */
    char *path; /* resolved path as the loader would open it (not realpath'd), NULL if not found */
    char *realpath; /* realpath of path */
    int parent;     /* index of the object whose DT_NEEDED this is; -1 for roots */
    int reused;     /* 1: the name matched an object already loaded (by name, SONAME or
                     * same file), so no new object; 0: this entry loaded a new object
                     * (or, path NULL, a "not found"). Every DT_NEEDED gets an entry. */
} pf_loaded;

typedef struct pf_load {
    pf_loaded *v;
    size_t n;
} pf_load;

/* Resolve the whole closure of loading `path` as a program (main = NULL) or
 * dlopen'd by an object already loaded from `main` (the executable whose
 * DT_RPATH applies, and whose closure is already in the process).
 * Returns 0 when everything resolved, 1 when some names did not (their
 * path is NULL), -1 on error (unreadable/corrupt ELF, or a candidate the
 * loader would stop on: a non-ELF or truncated file found by the search).
 * With opts.root set, paths in and out are paths inside the root; files
 * are opened under it; realpath is the host's realpath. */
int pf_resolve(pf_resolver *r, const char *path, const char *main, pf_load *out, char *err,
               size_t errlen);
void pf_load_free(pf_load *l);

#endif
