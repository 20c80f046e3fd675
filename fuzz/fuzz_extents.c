/* fuzz_extents.c: lib/extents.c. Any blob: decode never crashes; a decoded
 * patch's extents tile the output; pf_patch_pread of any window equals a
 * reference composition done here extent by extent; re-encoding the
 * extents with the builder gives the same output. The source is a fixed
 * 64 KiB pattern. */
#include <errno.h>
#include <string.h>

#include "fuzz_common.h"
#include "pyfarm/extents.h"

#define SRC_SIZE 65536
#define MAX_OUT (4u << 20)

static int src_fd = -1;
static uint8_t src[SRC_SIZE];

static void init(void) {
    for (size_t i = 0; i < SRC_SIZE; i++)
        src[i] = (uint8_t)(i * 31 + 7 + (i >> 8));
    char path[64];
    src_fd = fuzz_memfd("src", src, SRC_SIZE, path, sizeof path);
}

/* The output composed extent by extent, or NULL when a copy leaves the
 * source (then reads must fail with EIO instead). */
static uint8_t *reference(const pf_patch *p) {
    uint8_t *out = malloc(p->size ? p->size : 1);
    uint64_t off = 0;
    for (size_t i = 0; i < p->n; i++) {
        const pf_extent *e = &p->v[i];
        FUZZ_CHECK(e->out_off == off, "extent %zu at %llu, expected %llu", i,
                   (unsigned long long)e->out_off, (unsigned long long)off);
        if (e->kind == PF_EXT_LIT) {
            memcpy(out + off, e->lit, e->len);
        } else {
            if (e->src_off > SRC_SIZE || e->len > SRC_SIZE - e->src_off) {
                free(out);
                return NULL;
            }
            memcpy(out + off, src + e->src_off, e->len);
        }
        off += e->len;
    }
    FUZZ_CHECK(off == p->size, "extents cover %llu, size %llu", (unsigned long long)off,
               (unsigned long long)p->size);
    return out;
}

static void check_windows(const pf_patch *p, const uint8_t *want, const uint8_t *data,
                          size_t size) {
    uint8_t *buf = malloc(p->size + 64);
    ssize_t k = pf_patch_pread(p, src_fd, buf, p->size + 64, 0);
    if (want) {
        FUZZ_CHECK(k == (ssize_t)p->size, "full read %zd of %llu", k, (unsigned long long)p->size);
        FUZZ_CHECK(memcmp(buf, want, p->size) == 0, "full read differs");
    } else {
        FUZZ_CHECK(k < 0, "a copy past the source read %zd", k); /* EIO, or EINVAL past off_t */
    }
    /* windows chosen by the input's first bytes */
    for (size_t i = 0; i + 4 <= size && i < 64 && want && p->size; i += 4) {
        uint64_t off = ((uint64_t)data[i] << 8 | data[i + 1]) % (p->size + 1);
        size_t len = ((size_t)data[i + 2] << 8 | data[i + 3]) % 70000;
        k = pf_patch_pread(p, src_fd, buf, len, off);
        size_t expect = off + len > p->size ? (size_t)(p->size - off) : len;
        FUZZ_CHECK(k == (ssize_t)expect, "window %llu+%zu read %zd", (unsigned long long)off, len,
                   k);
        FUZZ_CHECK(memcmp(buf, want + off, expect) == 0, "window %llu+%zu differs",
                   (unsigned long long)off, len);
    }
    free(buf);
}

static void roundtrip(const pf_patch *p, const uint8_t *want) {
    pf_patch_builder b;
    pf_pb_init(&b);
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i].kind == PF_EXT_LIT)
            pf_pb_lit(&b, p->v[i].lit, p->v[i].len);
        else
            pf_pb_copy(&b, p->v[i].src_off, p->v[i].len);
    }
    size_t len;
    uint8_t *blob = pf_pb_finish(&b, &len);
    pf_pb_free(&b);
    pf_patch q;
    char err[256];
    FUZZ_CHECK(pf_patch_decode(blob, len, &q, err, sizeof err) == 0, "re-encoded: %s", err);
    FUZZ_CHECK(q.size == p->size, "re-encoded size");
    uint8_t *buf = malloc(q.size + 1);
    ssize_t k = pf_patch_pread(&q, src_fd, buf, q.size, 0);
    FUZZ_CHECK(k == (ssize_t)q.size && memcmp(buf, want, q.size) == 0, "re-encoded bytes");
    free(buf);
    pf_patch_free(&q);
    free(blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (src_fd < 0)
        init();
    pf_patch p;
    char err[256];
    if (pf_patch_decode(data, size, &p, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0], "refused without a message");
        return 0;
    }
    if (p.size <= MAX_OUT) {
        uint8_t *want = reference(&p);
        check_windows(&p, want, data, size);
        if (want)
            roundtrip(&p, want);
        free(want);
    }
    pf_patch_free(&p);
    return 0;
}
