/* hash.h: SHA-256 for every part (content hashes of the tree, the
 * verification of exported and served bytes, unique renamed library names),
 * through libcrypto's EVP interface, which uses the CPU's SHA extensions
 * where it has them (docs/decisions/002-hand-written-parts.md). */
#ifndef PYFARM_HASH_H
#define PYFARM_HASH_H

#include <stddef.h>

struct evp_md_ctx_st; /* libcrypto's EVP_MD_CTX, kept out of this header */

/* A running SHA-256. Every function returns 0, or -1 with err set (err may
 * be NULL); after pf_sha256_final or pf_sha256_free the context is empty
 * and may be started again. */
typedef struct pf_sha256 {
    struct evp_md_ctx_st *md;
} pf_sha256;

int pf_sha256_init(pf_sha256 *s, char *err, size_t errlen);
int pf_sha256_update(pf_sha256 *s, const void *data, size_t n, char *err, size_t errlen);
/* hex: 64 lowercase hex digits and a NUL. Frees the context. */
int pf_sha256_final(pf_sha256 *s, char hex[65], char *err, size_t errlen);
void pf_sha256_free(pf_sha256 *s);

/* One call for a buffer, an open descriptor (read from its current offset
 * to its end; name is only for messages) or a file by path. */
int pf_sha256_buf(const void *data, size_t n, char hex[65], char *err, size_t errlen);
int pf_sha256_fd(int fd, const char *name, char hex[65], char *err, size_t errlen);
int pf_sha256_file(const char *path, char hex[65], char *err, size_t errlen);

#endif
