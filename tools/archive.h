/* archive.h: a deterministic tar stream compressed with zstd (libzstd's
 * multithreaded streaming API). */
#ifndef PYFARM_ARCHIVE_H
#define PYFARM_ARCHIVE_H

#include <stdint.h>
#include <stdio.h>

typedef struct pf_archive pf_archive;

pf_archive *pf_archive_open(FILE *out, int level, int threads, char *err, size_t errlen);
/* A name an extractor cannot be led outside its folder by: relative, no
 * empty, "." or ".." component, components of at most 255 bytes. NULL when
 * it is fine, else the reason. pfexport checks folder exports with it too. */
const char *pf_archive_bad_name(const char *path);
/* type 'd', 'f', 'l'; for 'f' call pf_archive_data with exactly size bytes.
 * A bad name (above), an unknown type or a symlink without a target is
 * refused (-1, pf_archive_error says why); the caller masks the mode. */
int pf_archive_header(pf_archive *a, const char *path, char type, uint32_t mode, uint64_t size,
                      int64_t mtime, const char *target);
int pf_archive_data(pf_archive *a, const void *data, size_t n); /* -1 with errno set */
const char *pf_archive_error(const pf_archive *a);              /* the first failure, "" if none */
/* End-of-archive blocks, flush; frees a. -1 with the first failure in err. */
int pf_archive_close(pf_archive *a, char *err, size_t errlen);

#endif
