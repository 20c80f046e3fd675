/* elfpatch_cli.c: a test driver for the ELF patcher. Computes the patch of
 * IN for the given edit, then writes OUT by decoding the blob and reading it
 * with pf_patch_pread: the same path pfmount and pfexport take.
 *   elfpatch_cli IN OUT [--rpath R] [--soname S] [--rename OLD=NEW]... [--stats] */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyfarm/elf.h"
#include "pyfarm/extents.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: elfpatch_cli IN OUT [--rpath R] [--soname S] [--rename A=B]... "
                        "[--stats]\n");
        return 2;
    }
    pf_elf_edit ed = {0};
    const char *from[64], *to[64];
    int stats = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--rpath") && i + 1 < argc) {
            ed.rpath = argv[++i];
            ed.set_rpath = 1;
        } else if (!strcmp(argv[i], "--soname") && i + 1 < argc) {
            ed.soname = argv[++i];
        } else if (!strcmp(argv[i], "--rename") && i + 1 < argc && ed.n_renames < 64) {
            char *eq = strchr(argv[++i], '=');
            if (!eq)
                return 2;
            *eq = 0;
            from[ed.n_renames] = argv[i];
            to[ed.n_renames++] = eq + 1;
        } else if (!strcmp(argv[i], "--stats")) {
            stats = 1;
        } else {
            fprintf(stderr, "elfpatch_cli: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    ed.needed_from = from;
    ed.needed_to = to;
    char err[PF_ERRLEN];
    uint8_t *blob = NULL;
    size_t blen = 0;
    uint64_t size = 0;
    if (pf_elf_patch(argv[1], &ed, &blob, &blen, &size, err, sizeof err) != 0) {
        fprintf(stderr, "elfpatch_cli: %s\n", err);
        return 1;
    }
    struct stat st;
    stat(argv[1], &st);
    int in = open(argv[1], O_RDONLY);
    int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, st.st_mode & 0777);
    if (in < 0 || out < 0) {
        perror("open");
        return 1;
    }
    if (!blob) { /* nothing to change: a plain copy */
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n)
                return 1;
        if (stats)
            printf("unchanged %lld\n", (long long)st.st_size);
        return 0;
    }
    pf_patch p;
    if (pf_patch_decode(blob, blen, &p, err, sizeof err) != 0) {
        fprintf(stderr, "elfpatch_cli: %s\n", err);
        return 1;
    }
    char *buf = malloc(1 << 20);
    for (uint64_t off = 0; off < p.size;) {
        ssize_t n = pf_patch_pread(&p, in, buf, 1 << 20, off);
        if (n <= 0 || write(out, buf, (size_t)n) != n) {
            fprintf(stderr, "elfpatch_cli: read failed at %llu\n", (unsigned long long)off);
            return 1;
        }
        off += (uint64_t)n;
    }
    if (stats)
        printf("patched %lld -> %llu bytes, patch %zu bytes in %zu extents\n",
               (long long)st.st_size, (unsigned long long)p.size, blen, p.n);
    free(buf);
    free(blob);
    pf_patch_free(&p);
    close(in);
    close(out);
    return 0;
}
