/* ldcache.c: owns the reading of /etc/ld.so.cache and the lookup the loader
 * does in it (glibc 2.36 elf/dl-cache.c), including the glibc-hwcaps
 * extension that ldconfig writes for libraries in glibc-hwcaps/ subfolders
 * since glibc 2.33. The file is read whole and every index in it is
 * checked against its size: a cache is just another input file. */
#include <stdlib.h>
#include <string.h>

#include "pyfarm/ldcache.h"
#include "pyfarm/util.h"

#define MAGIC_OLD "ld.so-1.7.0"
#define MAGIC_NEW "glibc-ld.so.cache1.1"
#define NEW_HEADER 48 /* sizeof (struct cache_file_new) */
#define NEW_ENTRY 24  /* sizeof (struct file_entry_new) */
#define OLD_ENTRY 12  /* sizeof (struct file_entry) */

/* x86-64's _DL_CACHE_DEFAULT_ID, FLAG_X8664_LIB64 | FLAG_ELF_LIBC6; its
 * _dl_cache_check_flags accepts nothing else (i386 and x32 entries share
 * the names). */
#define FLAGS_X86_64 0x0303
#define HWCAP_EXTENSION (1ULL << 62)
#define ISA_LEVEL_MASK 0x3ffULL
/* Legacy hwcap bits the x86-64 loader accepts in a cache entry: x86_64
 * (HWCAP_X86_64, bit 1) and the TLS bit. Platform bits (48+) never match,
 * since "x86_64" is not one of x86's named platforms (haswell, xeon_phi). */
#define LEGACY_ALLOWED ((1ULL << 1) | (1ULL << 63))

struct pf_ldcache {
    char *buf; /* the file, NUL-terminated one past its end */
    size_t size;
    size_t entries;  /* offset of the first entry */
    size_t entsize;  /* NEW_ENTRY, or OLD_ENTRY for an old-only cache */
    size_t nlibs;    /* entries that fit in the file */
    size_t strbase;  /* entry strings are relative to this offset */
    size_t hwcaps;   /* offset of the glibc-hwcaps index array, 0 if none */
    size_t n_hwcaps; /* its length */
};

static uint32_t u32(const char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t u64(const char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The glibc-hwcaps section of the extension directory (tag 1). */
static void load_extension(pf_ldcache *c, size_t newbase) {
    size_t ext = u32(c->buf + newbase + 32); /* extension_offset, from file start */
    if (ext == 0 || ext % 4 || ext > c->size || c->size - ext < 8)
        return;
    if (u32(c->buf + ext) != (uint32_t)-358342284)
        return;
    size_t count = u32(c->buf + ext + 4);
    if (count > (c->size - ext - 8) / 16)
        return;
    for (size_t i = 0; i < count; i++) {
        const char *s = c->buf + ext + 8 + i * 16;
        uint32_t tag = u32(s), off = u32(s + 8), size = u32(s + 12);
        if ((uint64_t)off + size > c->size)
            return;
        if (tag == 1 && size && off % 4 == 0 && size % 4 == 0) {
            c->hwcaps = off;
            c->n_hwcaps = size / 4;
        }
    }
}

/* Finds the table the loader would use: the new format, on its own or
 * after an old-format table; otherwise the old format. */
static int locate(pf_ldcache *c) {
    size_t newbase = (size_t)-1;
    if (c->size > NEW_HEADER && memcmp(c->buf, MAGIC_NEW, strlen(MAGIC_NEW)) == 0) {
        newbase = 0;
    } else if (c->size > 16 && memcmp(c->buf, MAGIC_OLD, strlen(MAGIC_OLD)) == 0) {
        size_t n = u32(c->buf + 12);
        if ((c->size - 16) / OLD_ENTRY < n)
            return -1;
        size_t off = (16 + n * OLD_ENTRY + 7) & ~(size_t)7;
        if (c->size >= off + NEW_HEADER &&
            memcmp(c->buf + off, MAGIC_NEW, strlen(MAGIC_NEW)) == 0) {
            newbase = off;
        } else {
            c->entries = 16;
            c->entsize = OLD_ENTRY;
            c->nlibs = n;
            c->strbase = 16 + n * OLD_ENTRY;
            return 0;
        }
    } else {
        return -1;
    }
    uint8_t endian = (uint8_t)c->buf[newbase + 28] & 3;
    if (endian != 0 && endian != 2) /* 2: little endian, this machine */
        return -1;
    size_t n = u32(c->buf + newbase + 20);
    if ((c->size - newbase - NEW_HEADER) / NEW_ENTRY < n)
        return -1;
    c->entries = newbase + NEW_HEADER;
    c->entsize = NEW_ENTRY;
    c->nlibs = n;
    c->strbase = newbase;
    load_extension(c, newbase);
    return 0;
}

pf_ldcache *pf_ldcache_open(const char *path, char *err, size_t errlen) {
    size_t len;
    char *data = pf_read_file(path, &len, err, errlen);
    if (!data)
        return NULL;
    pf_ldcache *c = pf_xcalloc(1, sizeof *c);
    c->buf = pf_xmalloc(len + 1);
    memcpy(c->buf, data, len);
    c->buf[len] = '\0';
    c->size = len;
    free(data);
    if (locate(c) != 0) {
        pf_seterr(err, errlen, "%s: not an ld.so.cache the loader would use", path);
        pf_ldcache_free(c);
        return NULL;
    }
    return c;
}

void pf_ldcache_free(pf_ldcache *c) {
    if (!c)
        return;
    free(c->buf);
    free(c);
}

size_t pf_ldcache_count(const pf_ldcache *c) {
    return c ? c->nlibs : 0;
}

/* A string of the table at a relative offset, or NULL when outside. */
static const char *str_rel(const pf_ldcache *c, uint32_t off) {
    if ((size_t)off >= c->size - c->strbase)
        return NULL;
    return c->buf + c->strbase + off; /* the buffer ends with a NUL */
}

/* glibc-hwcaps subfolder name of extension index i (file-relative). */
static const char *hwcaps_name(const pf_ldcache *c, uint32_t i) {
    if (i >= c->n_hwcaps)
        return NULL;
    uint32_t off = u32(c->buf + c->hwcaps + (size_t)i * 4);
    return off < c->size ? c->buf + off : NULL;
}

static int is_extension(uint64_t hwcap) {
    return ((hwcap >> 32) & ~ISA_LEVEL_MASK) == (HWCAP_EXTENSION >> 32);
}

int pf_ldcache_get(const pf_ldcache *c, size_t i, pf_ldcache_ent *out) {
    if (!c || i >= c->nlibs)
        return -1;
    const char *e = c->buf + c->entries + i * c->entsize;
    memset(out, 0, sizeof *out);
    memcpy(&out->flags, e, 4);
    out->key = str_rel(c, u32(e + 4));
    out->value = str_rel(c, u32(e + 8));
    if (c->entsize == NEW_ENTRY) {
        out->hwcap = u64(e + 16);
        if (is_extension(out->hwcap))
            out->hwcaps = hwcaps_name(c, (uint32_t)out->hwcap);
    }
    return out->key && out->value ? 0 : -1;
}

/* glibc's _dl_cache_libcmp: digits compare as numbers, so that the
 * binary search follows the order ldconfig sorted the entries in. */
static int libcmp(const char *p1, const char *p2) {
    while (*p1 != '\0') {
        if (*p1 >= '0' && *p1 <= '9') {
            if (*p2 >= '0' && *p2 <= '9') {
                long v1 = 0, v2 = 0;
                while (*p1 >= '0' && *p1 <= '9')
                    v1 = (v1 * 10 + (*p1++ - '0')) % 1000000007L;
                while (*p2 >= '0' && *p2 <= '9')
                    v2 = (v2 * 10 + (*p2++ - '0')) % 1000000007L;
                if (v1 != v2)
                    return v1 < v2 ? -1 : 1;
            } else {
                return 1;
            }
        } else if (*p2 >= '0' && *p2 <= '9') {
            return -1;
        } else if (*p1 != *p2) {
            return (unsigned char)*p1 - (unsigned char)*p2;
        } else {
            ++p1;
            ++p2;
        }
    }
    return -(unsigned char)*p2;
}

/* Priority of a glibc-hwcaps subfolder: 1 for the best supported, 0 when
 * unsupported (lower wins, as in glibc). */
static unsigned hwcaps_priority(const pf_ldcache *c, uint32_t index, const pf_hwcaps *hw) {
    const char *name = hwcaps_name(c, index);
    for (size_t i = 0; name && i < hw->n; i++)
        if (strcmp(name, hw->names[i]) == 0)
            return (unsigned)i + 1;
    return 0;
}

/* Scans the run of entries for one name, from its first entry, the way
 * search_cache does: hwcaps entries come first; the best supported one
 * wins; otherwise the first plain entry of this ABI. */
static const char *pick(const pf_ldcache *c, size_t first, const char *name, const pf_hwcaps *hw) {
    const char *best = NULL;
    unsigned best_prio = 0;
    for (size_t m = first; m < c->nlibs; m++) {
        pf_ldcache_ent e;
        int ok = pf_ldcache_get(c, m, &e);
        if (!e.key || libcmp(name, e.key) != 0)
            break;
        if (ok != 0 || e.flags != FLAGS_X86_64)
            continue;
        int named = c->entsize == NEW_ENTRY && is_extension(e.hwcap);
        if (named) {
            unsigned level = (unsigned)((e.hwcap >> 32) & ISA_LEVEL_MASK);
            if (level >= 32 || !(hw->isa_levels & (1u << level)))
                continue;
        } else if (best) {
            break; /* the hwcaps entries (listed first) are exhausted */
        } else if (e.hwcap & ~LEGACY_ALLOWED) {
            continue;
        }
        if (named) {
            unsigned prio = hwcaps_priority(c, (uint32_t)e.hwcap, hw);
            if (prio == 0 || (best && prio >= best_prio))
                continue;
            best_prio = prio;
        }
        best = e.value;
        if (!named)
            break;
    }
    return best;
}

const char *pf_ldcache_lookup(const pf_ldcache *c, const char *name, const pf_hwcaps *hw) {
    if (!c || c->nlibs == 0)
        return NULL;
    size_t left = 0, right = c->nlibs; /* half-open */
    while (left < right) {
        size_t mid = left + (right - left) / 2;
        pf_ldcache_ent e = {0};
        pf_ldcache_get(c, mid, &e);
        if (!e.key)
            return NULL; /* glibc gives up on a bogus index too */
        int cmp = libcmp(name, e.key);
        if (cmp == 0) {
            while (mid > 0) {
                pf_ldcache_ent p = {0};
                pf_ldcache_get(c, mid - 1, &p);
                if (!p.key || libcmp(name, p.key) != 0)
                    break;
                mid--;
            }
            return pick(c, mid, name, hw);
        }
        /* ldconfig sorts the entries in descending libcmp order */
        if (cmp < 0)
            left = mid + 1;
        else
            right = mid;
    }
    return NULL;
}

void pf_hwcaps_detect(pf_hwcaps *hw) {
    memset(hw, 0, sizeof *hw);
    hw->isa_levels = 1; /* baseline */
#if defined(__x86_64__) && defined(__clang__)
    /* clang 14 (used by clang-tidy only) lacks the level names: the same
     * levels by their defining features */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
        hw->names[hw->n++] = "x86-64-v4", hw->isa_levels |= 1u << 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        hw->names[hw->n++] = "x86-64-v3", hw->isa_levels |= 1u << 2;
    if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt"))
        hw->names[hw->n++] = "x86-64-v2", hw->isa_levels |= 1u << 1;
#elif defined(__x86_64__)
    __builtin_cpu_init();
    /* glibc's x86 get_isa_level uses the same feature sets as GCC's
     * x86-64-vN names (psABI levels); best first, as ld.so --help lists */
    if (__builtin_cpu_supports("x86-64-v4"))
        hw->names[hw->n++] = "x86-64-v4", hw->isa_levels |= 1u << 3;
    if (__builtin_cpu_supports("x86-64-v3"))
        hw->names[hw->n++] = "x86-64-v3", hw->isa_levels |= 1u << 2;
    if (__builtin_cpu_supports("x86-64-v2"))
        hw->names[hw->n++] = "x86-64-v2", hw->isa_levels |= 1u << 1;
#endif
}
