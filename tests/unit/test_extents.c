/* test_extents.c: the patch format against a reference. Random patches
 * (copies and literals) over a random source are encoded, decoded and read
 * at random offsets and lengths; every byte must equal a plain buffer built
 * the obvious way. Corrupt blobs must be refused, a short source is EIO. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pyfarm/extents.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static uint32_t rng = 12345;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

int main(void) {
    char path[] = "/tmp/pyfarm-test-extents-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    size_t srclen = 1 << 20;
    uint8_t *src = malloc(srclen);
    for (size_t i = 0; i < srclen; i++)
        src[i] = (uint8_t)rnd();
    CHECK(write(fd, src, srclen) == (ssize_t)srclen);
    char err[PF_ERRLEN];
    int patches = 0, reads = 0;
    for (int round = 0; round < 200; round++) {
        pf_patch_builder b;
        pf_pb_init(&b);
        pf_buf ref = {0};
        int n = 1 + (int)(rnd() % 20);
        for (int k = 0; k < n; k++) {
            if (rnd() % 2) {
                uint64_t off = rnd() % srclen, len = 1 + rnd() % 5000;
                if (off + len > srclen)
                    len = srclen - off;
                pf_pb_copy(&b, off, len);
                pf_buf_put(&ref, src + off, (size_t)len);
                if (rnd() % 3 == 0) { /* a contiguous copy: must merge */
                    uint64_t more = off + len < srclen ? 1 : 0;
                    pf_pb_copy(&b, off + len, more);
                    pf_buf_put(&ref, src + off + len, (size_t)more);
                }
            } else {
                uint8_t lit[300];
                size_t len = 1 + rnd() % sizeof lit;
                for (size_t i = 0; i < len; i++)
                    lit[i] = (uint8_t)rnd();
                pf_pb_lit(&b, lit, len);
                pf_buf_put(&ref, lit, len);
            }
        }
        size_t blen;
        uint8_t *blob = pf_pb_finish(&b, &blen);
        pf_patch p;
        CHECK(pf_patch_decode(blob, blen, &p, err, sizeof err) == 0);
        CHECK(p.size == ref.n);
        for (int k = 0; k < 50; k++) {
            uint64_t off = ref.n ? rnd() % (ref.n + 10) : 0;
            size_t len = rnd() % 20000;
            uint8_t out[20000];
            ssize_t got = pf_patch_pread(&p, fd, out, len, off);
            size_t want = off >= ref.n ? 0 : (ref.n - off < len ? ref.n - off : len);
            CHECK(got == (ssize_t)want);
            CHECK(memcmp(out, ref.p + (off < ref.n ? off : 0), want) == 0);
            reads++;
        }
        /* every truncation of the blob is refused, never read past */
        for (size_t cut = 0; cut < blen; cut += 1 + blen / 40) {
            pf_patch q;
            CHECK(pf_patch_decode(blob, cut, &q, err, sizeof err) == -1);
        }
        pf_patch_free(&p);
        free(blob);
        pf_buf_free(&ref);
        patches++;
    }
    /* bad magic, and a count that lies */
    uint8_t bad[32] = "PFX2";
    pf_patch q;
    CHECK(pf_patch_decode(bad, sizeof bad, &q, err, sizeof err) == -1);
    memcpy(bad, "PFX1", 4);
    bad[12] = 0xff;
    CHECK(pf_patch_decode(bad, sizeof bad, &q, err, sizeof err) == -1);
    /* a source shorter than the patch expects: EIO, not wrong bytes */
    pf_patch_builder b;
    pf_pb_init(&b);
    pf_pb_copy(&b, srclen - 10, 10);
    size_t blen;
    uint8_t *blob = pf_pb_finish(&b, &blen);
    CHECK(pf_patch_decode(blob, blen, &q, err, sizeof err) == 0);
    pf_patch_free(&q);
    /* bytes after the last extent: refused, and the message says so */
    uint8_t *longer = malloc(blen + 3);
    CHECK(longer != NULL);
    memcpy(longer, blob, blen);
    memset(longer + blen, 0, 3);
    CHECK(pf_patch_decode(longer, blen + 3, &q, err, sizeof err) == -1);
    CHECK(strstr(err, "3 bytes after the last of its 1 extents") != NULL);
    free(longer);
    CHECK(pf_patch_decode(blob, blen, &q, err, sizeof err) == 0);
    CHECK(ftruncate(fd, (off_t)(srclen - 20)) == 0);
    uint8_t out[10];
    errno = 0;
    CHECK(pf_patch_pread(&q, fd, out, 10, 0) == -1 && errno == EIO);
    pf_patch_free(&q);
    free(blob);
    close(fd);
    unlink(path);
    free(src);
    printf("extents: %d patches, %d random reads equal to the reference; corrupt blobs refused\n",
           patches, reads);
    return 0;
}
