/* fuzz_common.h: what the libFuzzer harnesses share: the fuzz input as a
 * file that path-based readers can open (a memfd named by its
 * /proc/self/fd link, or a private temp file for SQLite, which resolves
 * symlinks), and a loud abort for a broken invariant. */
#ifndef PYFARM_FUZZ_COMMON_H
#define PYFARM_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A memfd holding data; its path in *path (static per name). */
static inline int fuzz_memfd(const char *name, const uint8_t *data, size_t size, char *path,
                             size_t pathlen) {
    static int fds[8];
    static const char *names[8];
    int i = 0;
    while (i < 8 && names[i] && names[i] != name)
        i++;
    if (i == 8)
        abort();
    if (!names[i]) {
        names[i] = name;
        fds[i] = memfd_create(name, MFD_CLOEXEC);
        if (fds[i] < 0)
            abort();
    }
    int fd = fds[i];
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
        abort();
    snprintf(path, pathlen, "/proc/self/fd/%d", fd);
    return fd;
}

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FUZZ INVARIANT BROKEN (%s:%d): %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
