/* hash.c: SHA-256 through libcrypto's EVP interface (one helper for the
 * analyzer, the content reader, pfmount and pfexport). A library, not code
 * of our own: OpenSSL uses the SHA extensions of the CPU, about 4.5 times
 * the speed of a portable implementation here (docs/decisions/002). */
#include "pyfarm/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pyfarm/util.h"

int pf_sha256_init(pf_sha256 *s, char *err, size_t errlen) {
    s->md = EVP_MD_CTX_new();
    if (!s->md || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
        pf_sha256_free(s);
        pf_seterr(err, errlen, "sha256: cannot start (libcrypto)");
        return -1;
    }
    return 0;
}

int pf_sha256_update(pf_sha256 *s, const void *data, size_t n, char *err, size_t errlen) {
    if (!s->md || EVP_DigestUpdate(s->md, data, n) != 1) {
        pf_seterr(err, errlen, "sha256: update failed (libcrypto)");
        return -1;
    }
    return 0;
}

int pf_sha256_final(pf_sha256 *s, char hex[65], char *err, size_t errlen) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    int ok = s->md && EVP_DigestFinal_ex(s->md, d, &dl) == 1 && dl == 32;
    pf_sha256_free(s);
    if (!ok) {
        pf_seterr(err, errlen, "sha256: final failed (libcrypto)");
        return -1;
    }
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = 0;
    return 0;
}

void pf_sha256_free(pf_sha256 *s) {
    EVP_MD_CTX_free(s->md);
    s->md = NULL;
}

int pf_sha256_buf(const void *data, size_t n, char hex[65], char *err, size_t errlen) {
    pf_sha256 s;
    if (pf_sha256_init(&s, err, errlen) != 0)
        return -1;
    if (pf_sha256_update(&s, data, n, err, errlen) != 0) {
        pf_sha256_free(&s);
        return -1;
    }
    return pf_sha256_final(&s, hex, err, errlen);
}

int pf_sha256_fd(int fd, const char *name, char hex[65], char *err, size_t errlen) {
    /* per thread: the tree is hashed by pf_parallel_for's workers */
    static __thread uint8_t buf[1 << 17];
    pf_sha256 s;
    if (pf_sha256_init(&s, err, errlen) != 0)
        return -1;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            pf_seterr(err, errlen, "%s: %s", name, strerror(errno));
            pf_sha256_free(&s);
            return -1;
        }
        if (r == 0)
            break;
        if (pf_sha256_update(&s, buf, (size_t)r, err, errlen) != 0) {
            pf_sha256_free(&s);
            return -1;
        }
    }
    return pf_sha256_final(&s, hex, err, errlen);
}

int pf_sha256_file(const char *path, char hex[65], char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pf_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int r = pf_sha256_fd(fd, path, hex, err, errlen);
    close(fd);
    return r;
}
