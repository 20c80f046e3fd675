/* content.h: a tree file's bytes, computed the same way for pfmount and
 * pfexport so that the two can never disagree. Opening checks that the
 * source still has the size and mtime recorded at analysis; a changed or
 * vanished source is an error, never wrong bytes. */
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
} pf_content;

int pf_content_open(const pf_node *n, pf_content *out, char *err, size_t errlen);
ssize_t pf_content_pread(pf_content *c, void *buf, size_t len, uint64_t off);
void pf_content_close(pf_content *c);

/* The whole file, in order, to sink in chunks of up to 1 MiB (sink returns
 * non-zero to stop: that is an error). Errors name the file and the reason. */
typedef int (*pf_content_sink)(void *ctx, const void *buf, size_t n);
int pf_content_stream(const pf_node *n, pf_content_sink sink, void *ctx, char *err, size_t errlen);

#endif
