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
} pf_resolver_opts;

pf_resolver *pf_resolver_new(const pf_resolver_opts *opts, char *err, size_t errlen);
void pf_resolver_free(pf_resolver *r);

/* One object of a load, in the loader's order (breadth first). */
typedef struct pf_loaded {
    char *name;     /* the DT_NEEDED string (or the root's path) */
    char *path;     /* resolved path as the loader would open it (not realpath'd), NULL if not found */
    char *realpath; /* realpath of path */
    int parent;     /* index of the object whose DT_NEEDED this is; -1 for roots */
} pf_loaded;

typedef struct pf_load {
    pf_loaded *v;
    size_t n;
} pf_load;

/* Resolve the whole closure of loading `path` as a program (main = NULL) or
 * dlopen'd by an object already loaded from `main` (the executable whose
 * DT_RPATH applies, and whose closure is already in the process).
 * Returns 0 when everything resolved, 1 when some names did not (their
 * path is NULL), -1 on error (unreadable/corrupt ELF). */
int pf_resolve(pf_resolver *r, const char *path, const char *main, pf_load *out, char *err,
               size_t errlen);
void pf_load_free(pf_load *l);

#endif
