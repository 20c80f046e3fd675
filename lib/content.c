/* content.c: open a tree file and read its bytes: the source as is, or the
 * patch's extents over it. The one place where pfmount and pfexport get a
 * file's bytes, so the two cannot disagree. */
#include "pyfarm/content.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pf_content_open(const pf_node *n, pf_content *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    out->fd = -1;
    out->size = n->size;
    if (n->type != 'f') {
        pf_seterr(err, errlen, "%s: not a regular file", n->path);
        errno = EINVAL;
        return -1;
    }
    if (n->patch) {
        if (pf_patch_decode(n->patch, n->patch_len, &out->patch, err, errlen) != 0) {
            errno = EIO;
            return -1;
        }
        out->has_patch = 1;
    }
    if (n->source) {
        out->fd = open(n->source, O_RDONLY | O_CLOEXEC);
        if (out->fd < 0) {
            int e = errno;
            pf_seterr(err, errlen, "%s: source %s: %s", n->path, n->source, strerror(e));
            pf_content_close(out);
            errno = EIO;
            return -1;
        }
        /* A source that changed since analysis would give wrong bytes (and
         * a patch computed for other offsets): refuse it. */
        struct stat st;
        if (fstat(out->fd, &st) != 0 || (uint64_t)st.st_size != n->src_size ||
            ((int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec) != n->src_mtime_ns) {
            pf_seterr(err, errlen, "%s: source %s changed since analysis", n->path, n->source);
            pf_content_close(out);
            errno = EIO;
            return -1;
        }
    } else if (!out->has_patch) {
        pf_seterr(err, errlen, "%s: neither source nor patch", n->path);
        errno = EIO;
        return -1;
    }
    return 0;
}

ssize_t pf_content_pread(pf_content *c, void *buf, size_t len, uint64_t off) {
    if (c->has_patch)
        return pf_patch_pread(&c->patch, c->fd, buf, len, off);
    if (off >= c->size)
        return 0;
    if (len > c->size - off)
        len = (size_t)(c->size - off);
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(c->fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0) { /* source shrank under us */
            errno = EIO;
            return -1;
        }
        done += (size_t)r;
    }
    return (ssize_t)done;
}

void pf_content_close(pf_content *c) {
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->has_patch)
        pf_patch_free(&c->patch);
    c->has_patch = 0;
}

int pf_content_stream(const pf_node *n, pf_content_sink sink, void *ctx, char *err, size_t errlen) {
    pf_content c;
    if (pf_content_open(n, &c, err, errlen) != 0)
        return -1;
    size_t bufsz = 1 << 20;
    uint8_t *buf = pf_xmalloc(bufsz);
    uint64_t off = 0;
    int r = 0;
    while (off < n->size) {
        ssize_t k = pf_content_pread(&c, buf, bufsz, off);
        if (k <= 0) {
            pf_seterr(err, errlen, "%s: cannot read %s: %s", n->path,
                      n->source ? n->source : "(generated)", k < 0 ? strerror(errno) : "short");
            r = -1;
            break;
        }
        if (sink(ctx, buf, (size_t)k) != 0) {
            pf_seterr(err, errlen, "%s: write failed: %s", n->path, strerror(errno));
            r = -1;
            break;
        }
        off += (uint64_t)k;
    }
    free(buf);
    pf_content_close(&c);
    return r;
}
