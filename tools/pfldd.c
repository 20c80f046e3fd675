/* pfldd.c: the resolver's command line, in ld.so --list's format so that
 * its answers can be compared with the real loader line by line.
 *
 *   pfldd [--ld-library-path P] [--exec] [--inhibit-cache] [--ld-so-cache C]
 *         [--dlopen-from EXE] FILE...
 *       each FILE's load as `ld.so --list FILE` (or, with LD_TRACE_LOADED_OBJECTS,
 *       as ldd) prints it: "\tname => path (0x0)", "\tname => not found",
 *       "\tpath (0x0)" for names that are paths; the loader's own line last.
 *       Several FILEs: a "FILE:" line before each. --exec: $ORIGIN of FILE
 *       from its realpath, as when it is exec'd (ld.so --list keeps the
 *       path as given). --dlopen-from: FILE dlopen'd by EXE's process.
 *   pfldd --info FILE...      the ELF model, one "key: value" per line
 *   pfldd --dump-cache [CACHE] ld.so.cache entries, like ldconfig -p
 *
 *   pfldd --help | --version
 *
 * Exit status (include/pyfarm/cli.h): 0, 1 when a name was not found, 2 on
 * usage errors and unreadable files. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyfarm/cli.h"
#include "pyfarm/elf.h"
#include "pyfarm/ldcache.h"
#include "pyfarm/resolve.h"

#define DEFAULT_RTLD "/lib64/ld-linux-x86-64.so.2"

static const char USAGE[] = "usage: pfldd [--ld-library-path P] [--exec] [--inhibit-cache] "
                            "[--ld-so-cache C] [--dlopen-from EXE] FILE...\n"
                            "       pfldd --info FILE...\n"
                            "       pfldd --dump-cache [CACHE]\n"
                            "       pfldd --help | --version\n";

static void usage(void) {
    fputs(USAGE, stderr);
    exit(PF_EXIT_USAGE);
}

static void print_list(const char *key, const pf_strv *sv) {
    for (size_t i = 0; i < sv->n; i++)
        printf("%s: %s\n", key, sv->v[i]);
}

static int cmd_info(int argc, char **argv) {
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        pf_elf_info in = {0};
        char err[PF_ERRLEN];
        int r = pf_elf_read(argv[i], &in, err, sizeof err);
        if (argc > 1)
            printf("%s:\n", argv[i]);
        if (r <= 0) {
            if (r == 0)
                fprintf(stderr, "pfldd: %s: not an ELF file\n", argv[i]);
            else
                fprintf(stderr, "pfldd: %s\n", err);
            rc = 2;
            continue;
        }
        printf("class: %d\nmachine: %d\ntype: %d\npie: %d\n", in.elfclass == ELFCLASS64 ? 64 : 32,
               in.machine, in.type, in.is_pie);
        if (in.interp)
            printf("interp: %s\n", in.interp);
        if (in.soname)
            printf("soname: %s\n", in.soname);
        print_list("needed", &in.needed);
        if (in.rpath)
            printf("rpath: %s\n", in.rpath);
        if (in.runpath)
            printf("runpath: %s\n", in.runpath);
        printf("flags_1: 0x%llx\n", (unsigned long long)in.flags_1);
        if (in.max_glibc)
            printf("max_glibc: %s\n", in.max_glibc);
        print_list("verneed", &in.verneed);
        printf("verdef: %d\n", in.has_verdef);
        pf_elf_info_free(&in);
    }
    return rc;
}

static int cmd_dump_cache(const char *path) {
    char err[PF_ERRLEN];
    pf_ldcache *c = pf_ldcache_open(path ? path : "/etc/ld.so.cache", err, sizeof err);
    if (!c) {
        fprintf(stderr, "pfldd: %s\n", err);
        return 2;
    }
    for (size_t i = 0; i < pf_ldcache_count(c); i++) {
        pf_ldcache_ent e;
        if (pf_ldcache_get(c, i, &e) != 0)
            continue;
        printf("\t%s (0x%04x", e.key, (unsigned)e.flags);
        if (e.hwcaps)
            printf(", hwcap: \"%s\"", e.hwcaps);
        else if (e.hwcap)
            printf(", hwcap: 0x%016llx", (unsigned long long)e.hwcap);
        printf(") => %s\n", e.value);
    }
    pf_ldcache_free(c);
    return 0;
}

/* The lines ld.so --list prints for one load: every object the load
 * created (not the roots), then the loader. */
static void print_load(const pf_load *ld, const char *file) {
    pf_elf_info in = {0};
    int dyn = pf_elf_read(file, &in, NULL, 0) == 1 && in.has_dynamic && in.needed.n;
    if (!dyn) {
        printf("\tstatically linked\n");
        pf_elf_info_free(&in);
        return;
    }
    for (size_t i = 0; i < ld->n; i++) {
        const pf_loaded *e = &ld->v[i];
        if (e->parent < 0 || e->reused)
            continue;
        if (!e->path)
            printf("\t%s => not found\n", e->name);
        else if (strcmp(e->name, e->path) == 0 || (strchr(e->name, '/') && strchr(e->name, '$')))
            /* a path (DSTs expanded, as the loader remembers it) */
            printf("\t%s (0x0)\n", e->path);
        else
            printf("\t%s => %s (0x0)\n", e->name, e->path);
    }
    const char *rtld = in.interp ? in.interp : DEFAULT_RTLD;
    if (strcmp(rtld, DEFAULT_RTLD) == 0)
        printf("\t%s (0x0)\n", rtld);
    else
        printf("\t%s => %s (0x0)\n", rtld, DEFAULT_RTLD);
    pf_elf_info_free(&in);
}

int main(int argc, char **argv) {
    pf_resolver_opts o = {.origin_as_given = 1};
    const char *dlopen_from = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return PF_EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0)
            return pf_cli_version("pfldd");
        if (strcmp(argv[i], "--info") == 0)
            return argc - i - 1 > 0 ? cmd_info(argc - i - 1, argv + i + 1) : (usage(), 2);
        if (strcmp(argv[i], "--dump-cache") == 0)
            return cmd_dump_cache(i + 1 < argc ? argv[i + 1] : NULL);
        if (strcmp(argv[i], "--ld-library-path") == 0 && i + 1 < argc)
            o.ld_library_path = argv[++i];
        else if (strcmp(argv[i], "--dlopen-from") == 0 && i + 1 < argc)
            dlopen_from = argv[++i];
        else if (strcmp(argv[i], "--exec") == 0)
            o.origin_as_given = 0;
        else if (strcmp(argv[i], "--inhibit-cache") == 0)
            o.inhibit_cache = 1;
        else if (strcmp(argv[i], "--ld-so-cache") == 0 && i + 1 < argc)
            o.ld_so_cache = argv[++i];
        else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else
            usage();
    }
    if (i >= argc)
        usage();
    if (dlopen_from)
        o.origin_as_given = 0; /* a process that dlopens was exec'd */
    char err[PF_ERRLEN];
    pf_resolver *r = pf_resolver_new(&o, err, sizeof err);
    if (!r) {
        fprintf(stderr, "pfldd: %s\n", err);
        return 2;
    }
    int rc = 0, many = argc - i > 1;
    for (; i < argc; i++) {
        pf_load ld = {0};
        if (many)
            printf("%s:\n", argv[i]);
        int k = pf_resolve(r, argv[i], dlopen_from, &ld, err, sizeof err);
        if (k < 0) {
            printf("\terror: %s\n", err);
            rc = 2;
        } else {
            print_load(&ld, dlopen_from ? dlopen_from : argv[i]);
            if (k == 1 && rc == 0)
                rc = 1;
        }
        fflush(stdout);
        pf_load_free(&ld);
    }
    pf_resolver_free(r);
    return rc;
}
