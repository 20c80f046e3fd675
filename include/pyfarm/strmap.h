/* strmap.h: a string-keyed hash map (open addressing) holding void *
 * values. Keys are copied; values are the caller's. */
#ifndef PYFARM_STRMAP_H
#define PYFARM_STRMAP_H

#include <stddef.h>

typedef struct pf_strmap {
    char **keys;
    void **vals;
    size_t cap, n;
} pf_strmap;

void *pf_strmap_get(const pf_strmap *m, const char *key);
/* Sets key to val; returns the previous value or NULL. */
void *pf_strmap_put(pf_strmap *m, const char *key, void *val);
void pf_strmap_free(pf_strmap *m); /* frees keys, not values */
/* Frees each value with free_val, then the map. */
void pf_strmap_free_with(pf_strmap *m, void (*free_val)(void *));

#endif
