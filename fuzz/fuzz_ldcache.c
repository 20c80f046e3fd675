/* fuzz_ldcache.c: lib/ldcache.c on arbitrary bytes: opening, listing every
 * entry and looking names up never crash, and what a lookup returns is a
 * value of some entry. */
#include <string.h>

#include "fuzz_common.h"
#include "pyfarm/ldcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static pf_hwcaps hw;
    static int init;
    if (!init) {
        pf_hwcaps_detect(&hw);
        init = 1;
    }
    char path[64], err[1024];
    fuzz_memfd("ldcache", data, size, path, sizeof path);
    pf_ldcache *c = pf_ldcache_open(path, err, sizeof err);
    if (!c) {
        FUZZ_CHECK(err[0], "refused without a message");
        return 0;
    }
    size_t n = pf_ldcache_count(c);
    const char *names[] = {"libc.so.6", "libm.so.6", "libz.so.1", "", NULL};
    for (size_t i = 0; i < n && i < 4096; i++) {
        pf_ldcache_ent e;
        if (pf_ldcache_get(c, i, &e) != 0)
            continue;
        FUZZ_CHECK(e.key && e.value, "entry %zu without key or value", i);
        (void)strlen(e.key);
        (void)strlen(e.value);
        if (e.hwcaps)
            (void)strlen(e.hwcaps);
        const char *v = pf_ldcache_lookup(c, e.key, &hw);
        if (v)
            (void)strlen(v);
    }
    for (int i = 0; names[i]; i++) {
        const char *v = pf_ldcache_lookup(c, names[i], &hw);
        if (v)
            (void)strlen(v);
    }
    pf_ldcache_free(c);
    return 0;
}
