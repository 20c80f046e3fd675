/* content.c: open a tree file and read its bytes: the source as is, or the
 * patch's extents over it. The one place where pfmount and pfexport get a
 * file's bytes, so the two cannot disagree, and the one place that decides
 * which sources may be read at all (content.h lists the checks). */
#include "pyfarm/content.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pyfarm/hash.h"

static const char *str_or(const char *s, const char *dflt) {
    return s ? s : dflt;
}

/* Absolute, no empty, "." or ".." component, no trailing slash: the form
 * realpath gives, so that a lexical check of it means what it says. */
static int normalized_abs(const char *p) {
    if (!p || p[0] != '/' || !p[1])
        return 0;
    for (const char *s = p + 1;;) {
        const char *e = strchr(s, '/');
        size_t k = e ? (size_t)(e - s) : strlen(s);
        if (k == 0 || (k == 1 && s[0] == '.') || (k == 2 && s[0] == '.' && s[1] == '.'))
            return 0;
        if (!e)
            return 1;
        s = e + 1;
    }
}

int pf_content_check_roots(const char *source, const char *const *roots, size_t nroots, char *err,
                           size_t errlen) {
    if (!normalized_abs(source)) {
        pf_seterr(err, errlen, "source %s: not an absolute normalized path",
                  str_or(source, "(null)"));
        return -1;
    }
    for (size_t i = 0; i < nroots; i++) {
        if (!normalized_abs(roots[i])) {
            pf_seterr(err, errlen, "declared source root %s: not an absolute folder other than /",
                      str_or(roots[i], "(null)"));
            return -1;
        }
        if (pf_path_is_under(source, roots[i]))
            return 0;
    }
    pf_seterr(err, errlen, "source %s: outside the folders the catalog declares (%zu)", source,
              nroots);
    return -1;
}

/* The source, opened without following any symlink (the recorded path is
 * a realpath, so a link on it means something was swapped in), O_NONBLOCK
 * so that a FIFO cannot block, and only when lstat already says "regular
 * file": opening some devices has effects. */
static int open_source(const char *src, struct stat *st, char *why, size_t whylen) {
    struct stat pre;
    if (lstat(src, &pre) != 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(pre.st_mode)) {
        snprintf(why, whylen, "not a regular file (%s)",
                 S_ISLNK(pre.st_mode)    ? "a symlink"
                 : S_ISDIR(pre.st_mode)  ? "a folder"
                 : S_ISFIFO(pre.st_mode) ? "a FIFO"
                 : S_ISCHR(pre.st_mode)  ? "a character device"
                 : S_ISBLK(pre.st_mode)  ? "a block device"
                                         : "a socket");
        return -1;
    }
    int flags = O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC;
    struct open_how how = {.flags = (uint64_t)flags,
                           .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, src, &how, sizeof how);
    if (fd < 0 && (errno == ENOSYS || errno == EPERM)) /* old kernel, or seccomp */
        fd = open(src, flags);
    if (fd < 0) {
        snprintf(why, whylen, "%s",
                 errno == ELOOP ? "the path goes through a symlink" : strerror(errno));
        return -1;
    }
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_dev != pre.st_dev ||
        st->st_ino != pre.st_ino) {
        snprintf(why, whylen, "not a regular file (replaced while opening)");
        close(fd);
        return -1;
    }
    return fd;
}

/* The source's identity against the node's; its mode is kept for
 * pf_content_check_exposure. */
static int check_source(const pf_node *n, const struct stat *st, pf_content *c, char *err,
                        size_t errlen) {
    const char *p = str_or(n->path, "(null)");
    /* A source that changed since analysis would give wrong bytes (and a
     * patch computed for other offsets): refuse it. */
    if ((uint64_t)st->st_size != n->src_size ||
        ((int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec) != n->src_mtime_ns) {
        pf_seterr(err, errlen, "%s: source %s changed since analysis", p, n->source);
        return -1;
    }
    c->has_src_mode = 1;
    c->src_mode = (uint32_t)(st->st_mode & 07777);
    return 0;
}

int pf_content_check_exposure(const pf_content *c, const pf_node *n, uint32_t out_mode, char *err,
                              size_t errlen) {
    if (!c->has_src_mode)
        return 0; /* generated: the catalog's own bytes */
    unsigned hidden = (unsigned)(out_mode & 0044) & ~(unsigned)(c->src_mode & 0044);
    if (!hidden)
        return 0;
    pf_seterr(err, errlen,
              "%s: source %s is not readable by %s (mode %04o) but the dist would give mode %04o",
              str_or(n->path, "(null)"), str_or(n->source, "(none)"),
              hidden & 0004 ? "other users" : "its group", (unsigned)c->src_mode,
              (unsigned)(out_mode & 07777));
    return -1;
}

/* What does not depend on how the source is opened: the node's type, its
 * patch and sizes. */
static int open_node(const pf_node *n, pf_content *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    out->fd = -1;
    out->size = n->size;
    const char *p = str_or(n->path, "(null)");
    errno = EIO;
    if (n->type != 'f') {
        pf_seterr(err, errlen, "%s: not a regular file", p);
        errno = EINVAL;
        return -1;
    }
    if (n->patch) {
        if (pf_patch_decode(n->patch, n->patch_len, &out->patch, err, errlen) != 0)
            return -1;
        out->has_patch = 1;
        if (out->patch.size != n->size) {
            pf_seterr(err, errlen, "%s: the patch makes %llu bytes, the catalog says %llu", p,
                      (unsigned long long)out->patch.size, (unsigned long long)n->size);
            pf_content_close(out);
            return -1;
        }
    } else if (!n->source) {
        pf_seterr(err, errlen, "%s: neither source nor patch", p);
        return -1;
    } else if (n->size != n->src_size) {
        pf_seterr(err, errlen, "%s: size %llu differs from its unpatched source's %llu", p,
                  (unsigned long long)n->size, (unsigned long long)n->src_size);
        return -1;
    }
    return 0;
}

int pf_content_open(const pf_node *n, pf_content *out, char *err, size_t errlen) {
    if (open_node(n, out, err, errlen) != 0)
        return -1;
    if (!n->source)
        return 0;
    char why[256] = "not an absolute normalized path";
    struct stat st;
    out->fd = normalized_abs(n->source) ? open_source(n->source, &st, why, sizeof why) : -1;
    if (out->fd < 0) {
        pf_seterr(err, errlen, "%s: source %s: %s", str_or(n->path, "(null)"), n->source, why);
    } else if (check_source(n, &st, out, err, errlen) == 0) {
        return 0;
    }
    pf_content_close(out);
    errno = EIO;
    return -1;
}

int pf_content_open_fd(const pf_node *n, int src_fd, pf_content *out, char *err, size_t errlen) {
    if (open_node(n, out, err, errlen) != 0) {
        if (src_fd >= 0)
            close(src_fd);
        return -1;
    }
    if (src_fd < 0 && !n->source)
        return 0;
    out->fd = src_fd;
    struct stat st;
    if (src_fd < 0 || !n->source || fstat(src_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        pf_seterr(err, errlen, "%s: source %s: %s", str_or(n->path, "(null)"),
                  str_or(n->source, "(none)"),
                  src_fd < 0 || !n->source ? "the catalog and the caller disagree on a source"
                                           : "not a regular file");
    } else if (check_source(n, &st, out, err, errlen) == 0) {
        return 0;
    }
    pf_content_close(out);
    errno = EIO;
    return -1;
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

int pf_content_sha256_ok(const char *s) {
    if (!s)
        return 0;
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return i == 64;
}

static int stream_body(const pf_node *n, pf_content *c, pf_sha256 *md, pf_content_sink sink,
                       void *ctx, char *err, size_t errlen) {
    const size_t bufsz = 1 << 20;
    uint8_t *buf = pf_xmalloc(bufsz);
    uint64_t off = 0;
    int r = 0;
    while (off < n->size) {
        size_t want = n->size - off < bufsz ? (size_t)(n->size - off) : bufsz;
        ssize_t k = pf_content_pread(c, buf, want, off);
        if (k <= 0) {
            pf_seterr(err, errlen, "%s: cannot read %s: %s", str_or(n->path, "(null)"),
                      n->source ? n->source : "(generated)",
                      k < 0 ? strerror(errno) : "shorter than recorded");
            r = -1;
            break;
        }
        if (md && pf_sha256_update(md, buf, (size_t)k, NULL, 0) != 0) {
            pf_seterr(err, errlen, "%s: sha256 failed", str_or(n->path, "(null)"));
            r = -1;
            break;
        }
        errno = 0;
        if (sink(ctx, buf, (size_t)k) != 0) {
            pf_seterr(err, errlen, "%s: write failed: %s", str_or(n->path, "(null)"),
                      errno ? strerror(errno) : "unknown error");
            r = -1;
            break;
        }
        off += (uint64_t)k;
    }
    free(buf);
    return r;
}

int pf_content_stream_from(pf_content *c, const pf_node *n, pf_content_sink sink, void *ctx,
                           char *err, size_t errlen) {
    /* the hash is checked while streaming, so what the sink got is exactly
     * what the analysis hashed (or the stream fails) */
    pf_sha256 h = {0}, *md = NULL;
    const char *p = str_or(n->path, "(null)");
    if (n->sha256) {
        if (pf_sha256_init(&h, NULL, 0) != 0) {
            pf_seterr(err, errlen, "%s: cannot start sha256 (libcrypto)", p);
            return -1;
        }
        md = &h;
    }
    int r = stream_body(n, c, md, sink, ctx, err, errlen);
    char hex[65];
    if (!r && md) {
        if (pf_sha256_final(md, hex, NULL, 0) != 0) {
            pf_seterr(err, errlen, "%s: sha256 failed", p);
            r = -1;
        } else if (strcmp(hex, n->sha256) != 0) {
            pf_seterr(err, errlen, "%s: content differs from the catalog's sha256 (source %s)", p,
                      n->source ? n->source : "(none, generated)");
            r = -1;
        }
    }
    pf_sha256_free(&h);
    return r;
}

int pf_content_stream(const pf_node *n, pf_content_sink sink, void *ctx, char *err, size_t errlen) {
    pf_content c;
    if (pf_content_open(n, &c, err, errlen) != 0)
        return -1;
    int r = pf_content_stream_from(&c, n, sink, ctx, err, errlen);
    pf_content_close(&c);
    return r;
}
