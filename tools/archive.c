/* archive.c: tar (POSIX ustar with pax records for long names) written
 * straight into a zstd stream. Owners are 0/0 with empty names and times
 * come from the catalog, so the same catalog gives the same bytes. */
#include "archive.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "pyfarm/util.h"

struct pf_archive {
    FILE *out;
    ZSTD_CCtx *cc;
    uint8_t *obuf;
    size_t osize;
    uint64_t pending; /* data bytes still owed to the current entry */
    uint64_t written_in_entry;
    int error;
    int saved_errno;
    char msg[256]; /* the first failure */
};

/* Record the first failure (and its errno) for pf_archive_error. */
static int fail(pf_archive *a, int e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(pf_archive *a, int e, const char *fmt, ...) {
    if (!a->error) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->msg, sizeof a->msg, fmt, ap);
        va_end(ap);
        a->saved_errno = e;
    }
    a->error = 1;
    errno = a->saved_errno;
    return -1;
}

const char *pf_archive_error(const pf_archive *a) {
    return a->msg;
}

static int emit(pf_archive *a, const void *data, size_t n, ZSTD_EndDirective end) {
    ZSTD_inBuffer in = {data, n, 0};
    for (;;) {
        ZSTD_outBuffer out = {a->obuf, a->osize, 0};
        size_t rem = ZSTD_compressStream2(a->cc, &out, &in, end);
        if (ZSTD_isError(rem))
            return fail(a, EIO, "zstd: %s", ZSTD_getErrorName(rem));
        errno = 0;
        if (out.pos && fwrite(a->obuf, 1, out.pos, a->out) != out.pos) {
            int e = errno ? errno : EIO;
            return fail(a, e, "write failed: %s", strerror(e));
        }
        if (end == ZSTD_e_continue ? in.pos == in.size : rem == 0)
            return 0;
    }
}

pf_archive *pf_archive_open(FILE *out, int level, int threads, char *err, size_t errlen) {
    pf_archive *a = pf_xcalloc(1, sizeof *a);
    a->out = out;
    a->cc = ZSTD_createCCtx();
    a->osize = ZSTD_CStreamOutSize();
    a->obuf = pf_xmalloc(a->osize);
    if (!a->cc || ZSTD_isError(ZSTD_CCtx_setParameter(a->cc, ZSTD_c_compressionLevel, level))) {
        pf_archive_close(a, NULL, 0);
        pf_seterr(err, errlen, "zstd: bad compression level %d", level);
        return NULL;
    }
    ZSTD_CCtx_setParameter(a->cc, ZSTD_c_checksumFlag, 1);
    if (threads > 1) /* ignored (stays single-threaded) when libzstd lacks MT */
        ZSTD_CCtx_setParameter(a->cc, ZSTD_c_nbWorkers, threads);
    return a;
}

static void octal(char *field, size_t width, uint64_t v) {
    /* width-1 zero-padded octal digits and a NUL: what GNU tar writes */
    field[width - 1] = 0;
    for (size_t i = width - 1; i-- > 0; v >>= 3)
        field[i] = (char)('0' + (v & 7));
}

static int raw_header(pf_archive *a, const char *name, char typeflag, uint32_t mode, uint64_t size,
                      int64_t mtime, const char *link) {
    uint8_t h[512];
    memset(h, 0, sizeof h);
    /* tar's name fields are not NUL-terminated when full */
    memcpy(h, name, strnlen(name, 100)); // NOLINT(bugprone-not-null-terminated-result)
    octal((char *)h + 100, 8, mode & 07777);
    octal((char *)h + 108, 8, 0);
    octal((char *)h + 116, 8, 0);
    octal((char *)h + 124, 12, size);
    octal((char *)h + 136, 12, mtime < 0 ? 0 : (uint64_t)mtime);
    memset(h + 148, ' ', 8);
    h[156] = (uint8_t)typeflag;
    if (link)
        memcpy(h + 157, link, strnlen(link, 100)); // NOLINT(bugprone-not-null-terminated-result)
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2); // NOLINT(bugprone-not-null-terminated-result)
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    return emit(a, h, sizeof h, ZSTD_e_continue);
}

static int pad(pf_archive *a, uint64_t size) {
    static const uint8_t zeros[512];
    size_t r = (size_t)(size % 512);
    return r ? emit(a, zeros, 512 - r, ZSTD_e_continue) : 0;
}

static void pax_record(pf_buf *b, const char *key, const char *value) {
    /* "LEN key=value\n" where LEN counts itself */
    size_t body = strlen(key) + strlen(value) + 3;
    size_t len = body + 1;
    while (snprintf(NULL, 0, "%zu", len) + body != len)
        len++;
    pf_buf_printf(b, "%zu %s=%s\n", len, key, value);
}

const char *pf_archive_bad_name(const char *path) {
    if (!path || !*path)
        return "empty name";
    if (path[0] == '/')
        return "absolute name";
    for (const char *s = path;;) {
        const char *e = strchr(s, '/');
        size_t k = e ? (size_t)(e - s) : strlen(s);
        if (k == 0)
            return "empty component (\"//\" or a trailing \"/\")";
        if ((k == 1 && s[0] == '.') || (k == 2 && s[0] == '.' && s[1] == '.'))
            return "\".\" or \"..\" component";
        if (k > 255)
            return "component longer than 255 bytes";
        if (!e)
            return NULL;
        s = e + 1;
    }
}

int pf_archive_header(pf_archive *a, const char *path, char type, uint32_t mode, uint64_t size,
                      int64_t mtime, const char *target) {
    if (a->error)
        return -1;
    if (a->pending)
        return fail(a, EINVAL, "%s: the previous entry is %llu bytes short", path ? path : "(null)",
                    (unsigned long long)a->pending);
    const char *bad = pf_archive_bad_name(path);
    if (bad)
        return fail(a, EINVAL, "%s: refused in an archive: %s", path ? path : "(null)", bad);
    if (type != 'd' && type != 'f' && type != 'l')
        return fail(a, EINVAL, "%s: unknown entry type", path);
    if (type == 'l' && (!target || !*target))
        return fail(a, EINVAL, "%s: symlink without a target", path);
    char *name = type == 'd' ? pf_xasprintf("%s/", path) : pf_xstrdup(path);
    pf_buf pax = {0};
    if (strlen(name) > 100)
        pax_record(&pax, "path", name);
    if (target && strlen(target) > 100)
        pax_record(&pax, "linkpath", target);
    int r = 0;
    if (pax.n) {
        r = raw_header(a, "././@PaxHeader", 'x', 0644, pax.n, mtime, NULL);
        if (!r)
            r = emit(a, pax.p, pax.n, ZSTD_e_continue);
        if (!r)
            r = pad(a, pax.n);
    }
    char flag = type == 'd' ? '5' : type == 'l' ? '2' : '0';
    if (!r)
        r = raw_header(a, name, flag, mode, type == 'f' ? size : 0, mtime,
                       type == 'l' ? target : NULL);
    if (type == 'f') {
        a->pending = size;
        a->written_in_entry = size;
        if (size == 0)
            a->pending = 0;
    }
    pf_buf_free(&pax);
    free(name);
    return r;
}

int pf_archive_data(pf_archive *a, const void *data, size_t n) {
    if (a->error) {
        errno = a->saved_errno;
        return -1;
    }
    if (n > a->pending)
        return fail(a, EFBIG, "%zu bytes more than the entry's recorded size",
                    (size_t)(n - a->pending));
    if (emit(a, data, n, ZSTD_e_continue))
        return -1;
    a->pending -= n;
    if (!a->pending)
        return pad(a, a->written_in_entry);
    return 0;
}

int pf_archive_close(pf_archive *a, char *err, size_t errlen) {
    static const uint8_t zeros[1024];
    int r = a->error ? -1 : 0;
    if (!r && a->pending)
        r = fail(a, EINVAL, "the last entry is %llu bytes short", (unsigned long long)a->pending);
    if (!r && a->cc)
        r = emit(a, zeros, sizeof zeros, ZSTD_e_continue);
    if (!r && a->cc)
        r = emit(a, NULL, 0, ZSTD_e_end);
    if (r)
        pf_seterr(err, errlen, "%s", a->msg);
    ZSTD_freeCCtx(a->cc);
    free(a->obuf);
    free(a);
    return r;
}
