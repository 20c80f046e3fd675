/* extents.c: encode, decode and read the patch format of extents.h. The
 * reader is what pfmount calls on every read of a patched file, so it is a
 * binary search over the extents and preads, with no allocation and no
 * shared state (concurrent readers of one decoded patch are safe). */
#include "pyfarm/extents.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put_u64(pf_buf *b, uint64_t v) {
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    pf_buf_put(b, x, 8);
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void set_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void pf_pb_init(pf_patch_builder *b) {
    memset(b, 0, sizeof *b);
    b->last_kind = -1;
}

void pf_pb_copy(pf_patch_builder *b, uint64_t src_off, uint64_t len) {
    if (!len)
        return;
    if (b->last_kind == PF_EXT_COPY && b->last_src_end == src_off) {
        /* contiguous with the previous copy: grow it */
        uint8_t *lenp = b->body.p + b->last_len_pos;
        set_u64(lenp, get_u64(lenp) + len);
    } else {
        pf_buf_putc(&b->body, PF_EXT_COPY);
        b->last_len_pos = b->body.n;
        put_u64(&b->body, len);
        put_u64(&b->body, src_off);
        b->count++;
        b->last_kind = PF_EXT_COPY;
    }
    b->last_src_end = src_off + len;
    b->size += len;
}

void pf_pb_lit(pf_patch_builder *b, const void *data, uint64_t len) {
    if (!len)
        return;
    pf_buf_putc(&b->body, PF_EXT_LIT);
    put_u64(&b->body, len);
    pf_buf_put(&b->body, data, (size_t)len);
    b->count++;
    b->last_kind = PF_EXT_LIT;
    b->size += len;
}

uint8_t *pf_pb_finish(pf_patch_builder *b, size_t *blob_len) {
    pf_buf out = {0};
    pf_buf_put(&out, "PFX1", 4);
    put_u64(&out, b->size);
    uint8_t c[4] = {(uint8_t)b->count, (uint8_t)(b->count >> 8), (uint8_t)(b->count >> 16),
                    (uint8_t)(b->count >> 24)};
    pf_buf_put(&out, c, 4);
    if (b->body.n)
        pf_buf_put(&out, b->body.p, b->body.n);
    pf_buf_free(&b->body);
    pf_pb_init(b);
    *blob_len = out.n;
    return out.p;
}

void pf_pb_free(pf_patch_builder *b) {
    pf_buf_free(&b->body);
    pf_pb_init(b);
}

int pf_patch_decode(const void *blob, size_t len, pf_patch *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    const uint8_t *p = blob;
    if (len < 16 || memcmp(p, "PFX1", 4) != 0) {
        pf_seterr(err, errlen, "patch: bad magic or truncated header");
        return -1;
    }
    uint64_t size = get_u64(p + 4);
    uint32_t count =
        (uint32_t)p[12] | (uint32_t)p[13] << 8 | (uint32_t)p[14] << 16 | (uint32_t)p[15] << 24;
    /* each extent takes at least 9 bytes: reject counts the blob cannot hold */
    if (count > (len - 16) / 9) {
        pf_seterr(err, errlen, "patch: extent count %u exceeds the blob", count);
        return -1;
    }
    out->blob = pf_xmalloc(len);
    memcpy(out->blob, blob, len);
    out->v = pf_xcalloc(count ? count : 1, sizeof *out->v);
    const uint8_t *q = out->blob + 16, *end = out->blob + len;
    uint64_t off = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (end - q < 9)
            goto trunc;
        pf_extent *e = &out->v[i];
        e->kind = q[0];
        e->len = get_u64(q + 1);
        e->out_off = off;
        q += 9;
        if (e->kind == PF_EXT_COPY) {
            if (end - q < 8)
                goto trunc;
            e->src_off = get_u64(q);
            q += 8;
            if (e->src_off + e->len < e->src_off)
                goto bad;
        } else if (e->kind == PF_EXT_LIT) {
            if ((uint64_t)(end - q) < e->len)
                goto trunc;
            e->lit = q;
            q += e->len;
        } else {
            goto bad;
        }
        if (e->len == 0 || off + e->len < off)
            goto bad;
        off += e->len;
    }
    if (off != size) {
        pf_seterr(err, errlen, "patch: extents cover %llu bytes, header says %llu",
                  (unsigned long long)off, (unsigned long long)size);
        pf_patch_free(out);
        return -1;
    }
    if (q != end) {
        pf_seterr(err, errlen, "patch: %llu bytes after the last of its %u extents",
                  (unsigned long long)(end - q), count);
        pf_patch_free(out);
        return -1;
    }
    out->n = count;
    out->size = size;
    return 0;
trunc:
    pf_seterr(err, errlen, "patch: truncated extent list");
    pf_patch_free(out);
    return -1;
bad:
    pf_seterr(err, errlen, "patch: malformed extent");
    pf_patch_free(out);
    return -1;
}

void pf_patch_free(pf_patch *p) {
    free(p->v);
    free(p->blob);
    memset(p, 0, sizeof *p);
}

/* The extent holding output offset off (off < p->size). */
static size_t find_extent(const pf_patch *p, uint64_t off) {
    size_t lo = 0, hi = p->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->v[mid].out_off <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

ssize_t pf_patch_pread(const pf_patch *p, int src_fd, void *buf, size_t len, uint64_t off) {
    if (off >= p->size || len == 0)
        return 0;
    if (len > p->size - off)
        len = (size_t)(p->size - off);
    uint8_t *dst = buf;
    size_t done = 0;
    for (size_t i = find_extent(p, off); done < len && i < p->n; i++) {
        const pf_extent *e = &p->v[i];
        uint64_t in = off + done - e->out_off; /* offset inside this extent */
        size_t k = (size_t)(e->len - in < len - done ? e->len - in : len - done);
        if (e->kind == PF_EXT_LIT) {
            memcpy(dst + done, e->lit + in, k);
        } else {
            size_t got = 0;
            while (got < k) {
                ssize_t r =
                    pread(src_fd, dst + done + got, k - got, (off_t)(e->src_off + in + got));
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0) { /* the source is shorter than the patch expects */
                    if (r == 0)
                        errno = EIO;
                    return -1;
                }
                got += (size_t)r;
            }
        }
        done += k;
    }
    return (ssize_t)done;
}
