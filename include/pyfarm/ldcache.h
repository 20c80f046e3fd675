/* ldcache.h: /etc/ld.so.cache as glibc 2.33+ reads it (format
 * "glibc-ld.so.cache1.1" with the glibc-hwcaps extension), and the CPU's
 * glibc-hwcaps levels that decide which cache entries and which
 * glibc-hwcaps/ subfolders the loader uses. */
#ifndef PYFARM_LDCACHE_H
#define PYFARM_LDCACHE_H

#include <stddef.h>
#include <stdint.h>

/* The glibc-hwcaps subfolders the loader searches, best first (on x86-64:
 * "x86-64-v4", "x86-64-v3", "x86-64-v2", the ones this CPU supports), and
 * the supported ISA levels as a bit set (bit 0 baseline, 1 v2, 2 v3, 3 v4),
 * used for the ISA level of hwcaps cache entries. */
typedef struct pf_hwcaps {
    const char *names[8];
    size_t n;
    unsigned isa_levels;
} pf_hwcaps;

/* Fills hw from the running CPU (as glibc's ld.so --help reports it). */
void pf_hwcaps_detect(pf_hwcaps *hw);

typedef struct pf_ldcache pf_ldcache;

/* Reads a cache file. NULL with err set when it is missing, unreadable or
 * not a cache the loader would use (glibc then ignores it too). */
pf_ldcache *pf_ldcache_open(const char *path, char *err, size_t errlen);
void pf_ldcache_free(pf_ldcache *c);

/* The path the loader takes from the cache for a DT_NEEDED name, or NULL.
 * Emulates elf/dl-cache.c search_cache: entries of the other ABIs are
 * skipped, a supported glibc-hwcaps entry of the best priority wins over
 * the plain entry. The string belongs to the cache. */
const char *pf_ldcache_lookup(const pf_ldcache *c, const char *name, const pf_hwcaps *hw);

/* One entry, for listing (pfldd --dump-cache). hwcaps is the glibc-hwcaps
 * subfolder name of an extension entry, else NULL. */
typedef struct pf_ldcache_ent {
    const char *key;
    const char *value;
    int32_t flags;
    uint64_t hwcap;
    const char *hwcaps;
} pf_ldcache_ent;

size_t pf_ldcache_count(const pf_ldcache *c);
/* 0 and *out filled, or -1 when entry i has out-of-range strings. */
int pf_ldcache_get(const pf_ldcache *c, size_t i, pf_ldcache_ent *out);

#endif
