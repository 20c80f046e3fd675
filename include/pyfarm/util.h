/* util.h: small helpers every part shares: error buffers, growable arrays,
 * path joining, hashing. Kept tiny on purpose (musl style). */
#ifndef PYFARM_UTIL_H
#define PYFARM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Every fallible function takes (char *err, size_t errlen) and writes one
 * line without a trailing newline. */
#define PF_ERRLEN 1024
void pf_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Allocation that aborts on out-of-memory: a half-built catalog is worse. */
void *pf_xmalloc(size_t n);
void *pf_xcalloc(size_t n, size_t sz);
void *pf_xrealloc(void *p, size_t n);
char *pf_xstrdup(const char *s);
char *pf_xstrndup(const char *s, size_t n);
char *pf_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A NULL-terminated growable vector of owned strings. */
typedef struct pf_strv {
    char **v;
    size_t n, cap;
} pf_strv;
void pf_strv_push(pf_strv *sv, const char *s); /* copies s */
void pf_strv_push_own(pf_strv *sv, char *s);   /* takes s */
int pf_strv_contains(const pf_strv *sv, const char *s);
void pf_strv_sort(pf_strv *sv); /* bytewise order, as strcmp */
void pf_strv_free(pf_strv *sv);
void pf_strv_destroy(void *sv); /* a heap pf_strv: its strings and itself */

/* Growable byte buffer. */
typedef struct pf_buf {
    uint8_t *p;
    size_t n, cap;
} pf_buf;
void pf_buf_put(pf_buf *b, const void *data, size_t n);
void pf_buf_putc(pf_buf *b, int c);
void pf_buf_puts(pf_buf *b, const char *s);
void pf_buf_printf(pf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pf_buf_free(pf_buf *b);

/* Paths. */
char *pf_path_join(const char *a, const char *b); /* a/b, no doubled slash */
char *pf_path_dirname(const char *p);             /* "/a/b" -> "/a" */
const char *pf_path_basename(const char *p);
char *pf_path_relative(const char *from_dir, const char *to); /* both absolute, normalized */
char *pf_path_normalize(const char *p);                       /* lexical: removes . and .. */
int pf_path_is_under(const char *p, const char *dir);         /* p == dir or p starts with dir/ */
int pf_mkdirs(const char *path, unsigned mode);
int pf_rm_rf(const char *path);
/* The names in a folder (no . or ..), sorted; -1 with errno when it cannot
 * be read. */
int pf_list_dir(const char *dir, pf_strv *names); /* rm -rf: temporary folders on error paths */

/* Read a whole (small) file; returns NULL and sets err on failure. */
char *pf_read_file(const char *path, size_t *len, char *err, size_t errlen);

#endif
