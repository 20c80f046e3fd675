/* util.c: error buffers, checked allocation, string vectors, byte buffers,
 * lexical path arithmetic. */
#include "pyfarm/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void pf_seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void oom(void) {
    fputs("pyfarm: out of memory\n", stderr);
    abort();
}

void *pf_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *pf_xcalloc(size_t n, size_t sz) {
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        oom();
    return p;
}

void *pf_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *pf_xstrdup(const char *s) {
    return pf_xstrndup(s, strlen(s));
}

char *pf_xstrndup(const char *s, size_t n) {
    char *p = pf_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *pf_xasprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    int r = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (r < 0)
        oom();
    return p;
}

void pf_strv_push_own(pf_strv *sv, char *s) {
    if (sv->n + 2 > sv->cap) {
        sv->cap = sv->cap ? sv->cap * 2 : 8;
        sv->v = pf_xrealloc(sv->v, sv->cap * sizeof *sv->v);
    }
    sv->v[sv->n++] = s;
    sv->v[sv->n] = NULL;
}

void pf_strv_push(pf_strv *sv, const char *s) {
    pf_strv_push_own(sv, pf_xstrdup(s));
}

int pf_strv_contains(const pf_strv *sv, const char *s) {
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void pf_strv_sort(pf_strv *sv) {
    if (sv->n > 1)
        qsort(sv->v, sv->n, sizeof *sv->v, cmp_str);
}

void pf_strv_free(pf_strv *sv) {
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = sv->cap = 0;
}

void pf_strv_destroy(void *sv) {
    pf_strv_free(sv);
    free(sv);
}

void pf_buf_put(pf_buf *b, const void *data, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        b->p = pf_xrealloc(b->p, cap);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0; /* always NUL-terminated, handy for text */
}

void pf_buf_putc(pf_buf *b, int c) {
    uint8_t ch = (uint8_t)c;
    pf_buf_put(b, &ch, 1);
}

void pf_buf_puts(pf_buf *b, const char *s) {
    pf_buf_put(b, s, strlen(s));
}

void pf_buf_printf(pf_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    int r = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (r < 0)
        oom();
    pf_buf_put(b, p, (size_t)r);
    free(p);
}

void pf_buf_free(pf_buf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

char *pf_path_join(const char *a, const char *b) {
    if (!a || !*a)
        return pf_xstrdup(b);
    if (!b || !*b)
        return pf_xstrdup(a);
    size_t la = strlen(a);
    while (la > 1 && a[la - 1] == '/')
        la--;
    while (*b == '/')
        b++;
    if (la == 1 && a[0] == '/')
        return pf_xasprintf("/%s", b);
    return pf_xasprintf("%.*s/%s", (int)la, a, b);
}

char *pf_path_dirname(const char *p) {
    const char *s = strrchr(p, '/');
    if (!s)
        return pf_xstrdup(".");
    if (s == p)
        return pf_xstrdup("/");
    return pf_xstrndup(p, (size_t)(s - p));
}

const char *pf_path_basename(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

char *pf_path_normalize(const char *p) {
    int abs = p[0] == '/';
    pf_strv parts = {0};
    const char *s = p;
    while (*s) {
        while (*s == '/')
            s++;
        if (!*s)
            break;
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 1 && s[0] == '.') {
            /* skip */
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (parts.n && strcmp(parts.v[parts.n - 1], "..") != 0) {
                free(parts.v[--parts.n]);
                parts.v[parts.n] = NULL;
            } else if (!abs) {
                pf_strv_push(&parts, "..");
            }
        } else {
            pf_strv_push_own(&parts, pf_xstrndup(s, n));
        }
        s += n;
    }
    pf_buf b = {0};
    if (abs)
        pf_buf_putc(&b, '/');
    for (size_t i = 0; i < parts.n; i++) {
        if (i)
            pf_buf_putc(&b, '/');
        pf_buf_puts(&b, parts.v[i]);
    }
    pf_strv_free(&parts);
    if (!b.n)
        pf_buf_putc(&b, '.');
    return (char *)b.p;
}

int pf_path_is_under(const char *p, const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (strncmp(p, dir, n) != 0)
        return 0;
    if (n == 1 && dir[0] == '/')
        return p[0] == '/';
    return p[n] == 0 || p[n] == '/';
}

static void split_path(const char *p, pf_strv *out) {
    char *n = pf_path_normalize(p);
    for (char *s = n; *s;) {
        while (*s == '/')
            s++;
        if (!*s)
            break;
        char *e = strchr(s, '/');
        size_t k = e ? (size_t)(e - s) : strlen(s);
        if (!(k == 1 && s[0] == '.'))
            pf_strv_push_own(out, pf_xstrndup(s, k));
        s += k;
    }
    free(n);
}

char *pf_path_relative(const char *from_dir, const char *to) {
    pf_strv a = {0}, b = {0};
    split_path(from_dir, &a);
    split_path(to, &b);
    size_t i = 0;
    while (i < a.n && i < b.n && strcmp(a.v[i], b.v[i]) == 0)
        i++;
    pf_buf out = {0};
    for (size_t j = i; j < a.n; j++)
        pf_buf_puts(&out, out.n ? "/.." : "..");
    for (size_t j = i; j < b.n; j++) {
        if (out.n)
            pf_buf_putc(&out, '/');
        pf_buf_puts(&out, b.v[j]);
    }
    pf_strv_free(&a);
    pf_strv_free(&b);
    if (!out.n)
        pf_buf_putc(&out, '.');
    return (char *)out.p;
}

int pf_mkdirs(const char *path, unsigned mode) {
    char *p = pf_xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, mode) != 0 && errno != EEXIST) {
                free(p);
                return -1;
            }
            *s = '/';
        }
    }
    int r = mkdir(p, mode);
    free(p);
    return (r != 0 && errno != EEXIST) ? -1 : 0;
}

int pf_list_dir(const char *dir, pf_strv *names) {
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            pf_strv_push(names, de->d_name);
    closedir(d);
    pf_strv_sort(names);
    return 0;
}

int pf_rm_rf(const char *path) {
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--", path, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return st;
}

char *pf_read_file(const char *path, size_t *len, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pf_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    pf_buf b = {0};
    uint8_t tmp[65536];
    for (;;) {
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            pf_seterr(err, errlen, "%s: %s", path, strerror(errno));
            close(fd);
            pf_buf_free(&b);
            return NULL;
        }
        if (r == 0)
            break;
        pf_buf_put(&b, tmp, (size_t)r);
    }
    close(fd);
    if (!b.p)
        pf_buf_put(&b, "", 0);
    if (len)
        *len = b.n;
    return (char *)b.p;
}
