/* archive.h: a deterministic tar stream compressed with zstd (libzstd's
 * multithreaded streaming API). */
#ifndef PYFARM_ARCHIVE_H
#define PYFARM_ARCHIVE_H

#include <stdint.h>
#include <stdio.h>

typedef struct pf_archive pf_archive;

pf_archive *pf_archive_open(FILE *out, int level, int threads, char *err, size_t errlen);
/* type 'd', 'f', 'l'; for 'f' call pf_archive_data with exactly size bytes. */
int pf_archive_header(pf_archive *a, const char *path, char type, uint32_t mode, uint64_t size,
                      int64_t mtime, const char *target);
int pf_archive_data(pf_archive *a, const void *data, size_t n);
int pf_archive_close(pf_archive *a); /* end-of-archive blocks, flush; frees a */

#endif
