/* content.h: a tree file's bytes, computed the same way for pfmount and
 * pfexport so that the two can never disagree. The catalog is untrusted
 * input: opening refuses, with one line naming the file and the reason,
 *   - a source that is not an absolute normalized path, that goes through
 *     a symlink, or that is not a regular file (devices, FIFOs, sockets,
 *     folders: checked before the open, and again with fstat on the fd,
 *     which is opened O_NONBLOCK so that nothing can block);
 *   - a source whose size or mtime differ from those recorded at analysis;
 *   - a patch whose output size is not the recorded size.
 * Streaming a file also checks the recorded sha256 (libcrypto's SHA-256). */
#ifndef PYFARM_CONTENT_H
#define PYFARM_CONTENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pyfarm/catalog.h"
#include "pyfarm/extents.h"

typedef struct pf_content {
    int fd; /* source, or -1 when the file is all literal */
    int has_patch;
    pf_patch patch;
    uint64_t size;
    int has_src_mode;
    uint32_t src_mode; /* the opened source's permission bits */
} pf_content;

int pf_content_open(const pf_node *n, pf_content *out, char *err, size_t errlen);
/* The same over a source the caller opened itself (for example through the
 * catalog's source roots): src_fd is taken over (closed on failure and by
 * pf_content_close; -1 for a file without a source) and checked with fstat
 * as above (regular file, size, mtime, permissions); no path is opened. */
int pf_content_open_fd(const pf_node *n, int src_fd, pf_content *out, char *err, size_t errlen);
ssize_t pf_content_pread(pf_content *c, void *buf, size_t len, uint64_t off);
void pf_content_close(pf_content *c);

/* A copy that anyone may read must not come from a file they may not: 0
 * unless out_mode gives group or others a read bit the source's own mode
 * does not (pfexport runs as root often, and its output has no other
 * guard; a mount checks each reader against the source instead). */
int pf_content_check_exposure(const pf_content *c, const pf_node *n, uint32_t out_mode, char *err,
                              size_t errlen);

/* Sources must lie under one of the folders the catalog declares (the
 * environment, the interpreter's prefix, the system library folders).
 * roots: absolute paths; "/" and relative or unnormalized roots are
 * refused (a root must narrow something). 0 when source is under one. */
int pf_content_check_roots(const char *source, const char *const *roots, size_t nroots, char *err,
                           size_t errlen);

/* The whole file, in order, to sink in chunks of up to 1 MiB (sink returns
 * non-zero with errno set to stop: that is an error). When n->sha256 is set,
 * the streamed bytes must hash to it, else the stream fails (after the
 * last chunk: a caller writing a temporary output discards it). Errors name
 * the file and the reason. */
typedef int (*pf_content_sink)(void *ctx, const void *buf, size_t n);
int pf_content_stream(const pf_node *n, pf_content_sink sink, void *ctx, char *err, size_t errlen);
/* The same from an opened c (not closed here). */
int pf_content_stream_from(pf_content *c, const pf_node *n, pf_content_sink sink, void *ctx,
                           char *err, size_t errlen);

/* 1 when s is 64 lowercase hex digits (the catalog's sha256 form). */
int pf_content_sha256_ok(const char *s);

#endif
