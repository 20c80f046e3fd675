/* strmap.c: open-addressing string hash map (FNV-1a, linear probing,
 * never shrinks; the analyzer only adds). */
#include "pyfarm/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pyfarm/util.h"

static uint64_t fnv(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

static size_t slot(const pf_strmap *m, const char *key) {
    size_t i = (size_t)fnv(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

void *pf_strmap_get(const pf_strmap *m, const char *key) {
    if (!m->cap)
        return NULL;
    size_t i = slot(m, key);
    return m->keys[i] ? m->vals[i] : NULL;
}

static void grow(pf_strmap *m) {
    pf_strmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->keys = pf_xcalloc(m->cap, sizeof *m->keys);
    m->vals = pf_xcalloc(m->cap, sizeof *m->vals);
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.keys[i])
            continue;
        size_t j = slot(m, old.keys[i]);
        m->keys[j] = old.keys[i];
        m->vals[j] = old.vals[i];
        m->n++;
    }
    free(old.keys);
    free(old.vals);
}

void *pf_strmap_put(pf_strmap *m, const char *key, void *val) {
    if ((m->n + 1) * 2 > m->cap)
        grow(m);
    size_t i = slot(m, key);
    void *prev = m->keys[i] ? m->vals[i] : NULL;
    if (!m->keys[i]) {
        m->keys[i] = pf_xstrdup(key);
        m->n++;
    }
    m->vals[i] = val;
    return prev;
}

void pf_strmap_free_with(pf_strmap *m, void (*free_val)(void *)) {
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i])
            free_val(m->vals[i]);
    pf_strmap_free(m);
}

void pf_strmap_free(pf_strmap *m) {
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}
