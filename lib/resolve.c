/* resolve.c: owns the loader emulation (include/pyfarm/resolve.h): which
 * file glibc 2.36's ld.so would open for every DT_NEEDED of a load, in its
 * breadth-first order. Follows elf/dl-load.c _dl_map_object, open_path,
 * open_verify and fillin_rpath, elf/dl-deps.c for the order, and the facts
 * checked on this Debian x86-64 (LD_DEBUG=libs, ld.so --help):
 *   $LIB = lib/x86_64-linux-gnu, $PLATFORM = x86_64;
 *   every search folder is tried with these subfolders, in order:
 *   glibc-hwcaps/x86-64-v{4,3,2}/ (those the CPU supports), then the legacy
 *   hwcaps tls/x86_64/x86_64/, tls/x86_64/, tls/, x86_64/x86_64/, x86_64/,
 *   then the folder itself. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyfarm/elf.h"
#include "pyfarm/ldcache.h"
#include "pyfarm/resolve.h"
#include "pyfarm/strmap.h"

#define DST_LIB "lib/x86_64-linux-gnu"
#define DST_PLATFORM "x86_64"
#define DEFAULT_RTLD "/lib64/ld-linux-x86-64.so.2"

/* SYSTEM_DIRS of Debian's x86-64 glibc, with the trailing slash the loader
 * keeps (DF_1_NODEFLIB compares cache results against them as prefixes). */
static const char *const system_dirs[] = {"/lib/x86_64-linux-gnu/", "/usr/lib/x86_64-linux-gnu/",
                                          "/lib/", "/usr/lib/"};

static const char *const legacy_subdirs[] = {"tls/x86_64/x86_64/", "tls/x86_64/", "tls/",
                                             "x86_64/x86_64/", "x86_64/"};

/* What open_verify concluded about one candidate path. */
enum probe_status {
    PROBE_OK,     /* a loadable x86-64 ELF: the search stops here */
    PROBE_ABSENT, /* cannot be opened (or hidden, e.g. EACCES): keep searching */
    PROBE_OTHER,  /* another ELF class or machine: skipped, keep searching */
    PROBE_FATAL,  /* the loader stops the whole load with an error */
};

typedef struct probe {
    enum probe_status status;
    char *msg; /* PROBE_FATAL: the loader's reason */
    dev_t dev;
    ino_t ino;
    pf_elf_info info; /* read on first need */
    int info_state;   /* 0 unread, 1 read, -1 failed */
} probe;

struct pf_resolver {
    char *llp;
    char *root;
    int origin_as_given;
    pf_ldcache *cache;
    pf_hwcaps hw;
    pf_strv subdirs;  /* the capability subfolders, "" last */
    pf_strmap probes; /* path -> probe* : files do not change during a run */
    pf_strmap dirs;   /* folder -> (void*)1 exists, (void*)2 does not */
};

/* One object of the emulated link map. */
typedef struct obj {
    pf_strv names; /* l_libname: names it was asked for (names.v[0] first) */
    char *path;    /* l_name, NULL for a "not found" (faked) object */
    char *origin;  /* l_origin, NULL until needed / when unknown */
    probe *pr;     /* its file, NULL when faked */
    int loader;    /* l_loader: the object whose DT_NEEDED loaded it, or -1 */
    int entry;     /* index of the pf_loaded entry that created it */
    int faked, is_main, is_rtld;
} obj;

typedef struct load {
    pf_resolver *r;
    obj *v;
    size_t n, cap;
    int main; /* the executable's object */
    pf_load *out;
    int missing;
    char *fatal; /* first fatal error */
} load;

/* ---- files ---------------------------------------------------------- */

static char *host_path(const pf_resolver *r, const char *path) {
    if (!r->root)
        return pf_xstrdup(path);
    if (path[0] == '/')
        return pf_xasprintf("%s%s", r->root, path);
    return pf_xstrdup(path);
}

/* The checks of open_verify, in its order, on the first bytes of a file. */
static void verify_header(probe *p, const unsigned char *h, ssize_t len) {
    static const unsigned char pad[EI_NIDENT - EI_PAD] = {0};
    p->status = PROBE_FATAL;
    if (len < (ssize_t)sizeof(Elf64_Ehdr)) {
        p->msg = pf_xstrdup(len < 0 ? "cannot read file data" : "file too short");
        return;
    }
    Elf64_Ehdr ehdr; /* copied: h has no alignment guarantee */
    memcpy(&ehdr, h, sizeof ehdr);
    const Elf64_Ehdr *eh = &ehdr;
    int osabi = eh->e_ident[EI_OSABI], abiv = eh->e_ident[EI_ABIVERSION];
    if (memcmp(h, ELFMAG, SELFMAG) != 0)
        p->msg = pf_xstrdup("invalid ELF header");
    else if (eh->e_ident[EI_CLASS] != ELFCLASS64)
        p->status = PROBE_OTHER;
    else if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
        p->msg = pf_xstrdup("ELF file data encoding not little-endian");
    else if (eh->e_ident[EI_VERSION] != EV_CURRENT)
        p->msg = pf_xstrdup("ELF file version ident does not match current one");
    else if (osabi != ELFOSABI_SYSV && osabi != ELFOSABI_GNU)
        p->msg = pf_xstrdup("ELF file OS ABI invalid");
    else if (!(abiv == 0 || (osabi == ELFOSABI_GNU && abiv < 5)))
        p->msg = pf_xstrdup("ELF file ABI version invalid");
    else if (memcmp(&eh->e_ident[EI_PAD], pad, sizeof pad) != 0)
        p->msg = pf_xstrdup("nonzero padding in e_ident");
    else if (eh->e_version != EV_CURRENT)
        p->msg = pf_xstrdup("ELF file version does not match current one");
    else if (eh->e_machine != EM_X86_64)
        p->status = PROBE_OTHER;
    else if (eh->e_type != ET_DYN && eh->e_type != ET_EXEC)
        p->msg = pf_xstrdup("only ET_DYN and ET_EXEC can be loaded");
    else if (eh->e_phentsize != sizeof(Elf64_Phdr))
        p->msg = pf_xstrdup("ELF file's phentsize not the expected size");
    else
        p->status = PROBE_OK;
}

static probe *probe_path(pf_resolver *r, const char *path) {
    probe *p = pf_strmap_get(&r->probes, path);
    if (p)
        return p;
    p = pf_xcalloc(1, sizeof *p);
    char *host = host_path(r, path);
    int fd = open(host, O_RDONLY | O_CLOEXEC);
    free(host);
    if (fd < 0) {
        p->status = PROBE_ABSENT;
    } else {
        unsigned char h[sizeof(Elf64_Ehdr)];
        ssize_t len = pread(fd, h, sizeof h, 0);
        verify_header(p, h, len);
        struct stat st;
        if (fstat(fd, &st) == 0)
            p->dev = st.st_dev, p->ino = st.st_ino;
        close(fd);
    }
    pf_strmap_put(&r->probes, path, p);
    return p;
}

/* The ELF model of a probed file (read once). */
static const pf_elf_info *probe_info(pf_resolver *r, const char *path, probe *p, char **why) {
    if (p->info_state == 0) {
        char err[PF_ERRLEN];
        char *host = host_path(r, path);
        p->info_state = pf_elf_read(host, &p->info, err, sizeof err) == 1 ? 1 : -1;
        if (p->info_state < 0 && !p->msg)
            p->msg = pf_xstrdup(err);
        free(host);
    }
    if (p->info_state < 0) {
        *why = pf_xstrdup(p->msg ? p->msg : "unreadable ELF");
        return NULL;
    }
    return &p->info;
}

/* Whether a search folder exists; the loader remembers this per folder too
 * and skips the ones that do not. Relative folders are always tried. */
static int dir_exists(pf_resolver *r, const char *dir) {
    if (dir[0] != '/')
        return 1;
    void *v = pf_strmap_get(&r->dirs, dir);
    if (!v) {
        char *host = host_path(r, dir);
        struct stat st;
        v = (void *)(uintptr_t)(stat(host, &st) == 0 && S_ISDIR(st.st_mode) ? 1 : 2);
        free(host);
        pf_strmap_put(&r->dirs, dir, v);
    }
    return v == (void *)1;
}

/* ---- $ORIGIN and search paths --------------------------------------- */

/* glibc's is_dst: the length of DST `ref` at `in` (after the '$'), with
 * braces, or 0 when `in` does not start with exactly that name. */
static size_t is_dst(const char *in, const char *ref) {
    int curly = in[0] == '{';
    if (curly)
        in++;
    size_t n = strlen(ref);
    if (strncmp(in, ref, n) != 0)
        return 0;
    char c = in[n];
    if (curly ? c != '}'
              : (c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 (c >= '0' && c <= '9')))
        return 0;
    return curly ? n + 2 : n;
}

/* _dl_dst_substitute: "" when a known DST cannot be replaced (origin
 * unknown), which makes the loader drop that path. */
static char *dst_expand(const char *in, const char *origin) {
    pf_buf b = {0};
    while (*in) {
        if (*in != '$') {
            pf_buf_putc(&b, *in++);
            continue;
        }
        in++;
        const char *repl = NULL;
        size_t len;
        if ((len = is_dst(in, "ORIGIN")) != 0)
            repl = origin;
        else if ((len = is_dst(in, "PLATFORM")) != 0)
            repl = DST_PLATFORM;
        else if ((len = is_dst(in, "LIB")) != 0)
            repl = DST_LIB;
        if (repl) {
            pf_buf_puts(&b, repl);
            in += len;
        } else if (len) {
            pf_buf_free(&b);
            return pf_xstrdup("");
        } else {
            pf_buf_putc(&b, '$');
        }
    }
    pf_buf_putc(&b, '\0');
    return (char *)b.p;
}

/* fillin_rpath: split a path list, expand DSTs, drop what expands to
 * nothing, end each folder with exactly one '/' ("" stays "": the name
 * alone, relative to the cwd), skip repeats. */
static void expand_list(const char *list, const char *seps, const char *origin, pf_strv *out) {
    char *copy = pf_xstrdup(list), *rest = copy, *tok;
    while ((tok = strsep(&rest, seps)) != NULL) {
        char *dir;
        if (*tok) {
            dir = dst_expand(tok, origin);
            size_t len = strlen(dir);
            if (len == 0) {
                free(dir);
                continue;
            }
            while (len > 1 && dir[len - 1] == '/')
                len--;
            dir[len] = '\0';
            if (dir[len - 1] != '/') {
                char *d = pf_xasprintf("%s/", dir);
                free(dir);
                dir = d;
            }
        } else {
            dir = pf_xstrdup("");
        }
        if (pf_strv_contains(out, dir))
            free(dir);
        else
            pf_strv_push_own(out, dir);
    }
    free(copy);
}

/* The folder of an object as the loader computes it (_dl_new_object):
 * lexical, the cwd prepended to a relative name, symlinks kept. */
static char *lexical_origin(const char *realname) {
    char *full;
    if (realname[0] == '/') {
        full = pf_xstrdup(realname);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return NULL;
        size_t n = strlen(cwd);
        full = pf_xasprintf("%s%s%s", cwd, n && cwd[n - 1] == '/' ? "" : "/", realname);
    }
    char *slash = strrchr(full, '/');
    if (slash == full)
        slash[1] = '\0';
    else
        *slash = '\0';
    return full;
}

/* The executable's folder as _dl_get_origin finds it: from
 * /proc/self/exe, which the kernel has already resolved. */
static char *exec_origin(const pf_resolver *r, const char *path) {
    char *host = host_path(r, path);
    char *real = realpath(host, NULL);
    free(host);
    if (!real)
        return NULL;
    if (r->root && pf_path_is_under(real, r->root)) {
        size_t n = strlen(r->root);
        char *in = pf_xstrdup(real[n] ? real + n : "/");
        free(real);
        real = in;
    }
    char *o = lexical_origin(real);
    free(real);
    return o;
}

static const char *origin_of(load *L, int i) {
    obj *o = &L->v[i];
    if (!o->origin && o->path) {
        if (o->is_main && !L->r->origin_as_given)
            o->origin = exec_origin(L->r, o->path);
        else
            o->origin = lexical_origin(o->path);
    }
    return o->origin;
}

static const pf_elf_info *info_of(const load *L, int i) {
    const obj *o = &L->v[i];
    return o->pr && o->pr->info_state == 1 ? &o->pr->info : NULL;
}

/* DT_RPATH as the loader uses it: ignored when DT_RUNPATH exists. */
static const char *rpath_of(const load *L, int i) {
    const pf_elf_info *in = info_of(L, i);
    return in && !in->runpath && in->rpath && *in->rpath ? in->rpath : NULL;
}

static uint64_t flags_1_of(const load *L, int i) {
    const pf_elf_info *in = info_of(L, i);
    return in ? in->flags_1 : 0;
}

/* ---- the search ----------------------------------------------------- */

typedef enum { FOUND, NOT_FOUND, FATAL } search_result;

/* open_path: every folder with every capability subfolder. */
static search_result open_path(load *L, const pf_strv *dirs, const char *name, char **found) {
    pf_resolver *r = L->r;
    for (size_t d = 0; d < dirs->n; d++) {
        for (size_t s = 0; s < r->subdirs.n; s++) {
            char *dir = pf_xasprintf("%s%s", dirs->v[d], r->subdirs.v[s]);
            int exists = !*dir || dir_exists(r, dir);
            char *cand = exists ? pf_xasprintf("%s%s", dir, name) : NULL;
            free(dir);
            if (!cand)
                continue;
            probe *p = probe_path(r, cand);
            if (p->status == PROBE_OK || p->status == PROBE_FATAL) {
                *found = cand;
                return p->status == PROBE_OK ? FOUND : FATAL;
            }
            free(cand);
        }
    }
    return NOT_FOUND;
}

static search_result search_list(load *L, const char *list, const char *seps, int origin_obj,
                                 const char *name, char **found) {
    pf_strv dirs = {0};
    expand_list(list, seps, origin_obj >= 0 ? origin_of(L, origin_obj) : NULL, &dirs);
    search_result res = open_path(L, &dirs, name, found);
    pf_strv_free(&dirs);
    return res;
}

static int under_system_dir(const char *path) {
    for (size_t i = 0; i < sizeof system_dirs / sizeof system_dirs[0]; i++)
        if (strncmp(path, system_dirs[i], strlen(system_dirs[i])) == 0)
            return 1;
    return 0;
}

/* The search for a name without a slash, loader being the object whose
 * DT_NEEDED it is (or the dlopen caller). */
static search_result search(load *L, int loader, const char *name, char **found) {
    pf_resolver *r = L->r;
    search_result res = NOT_FOUND;
    const pf_elf_info *li = loader >= 0 ? info_of(L, loader) : NULL;
    if (!li || !li->runpath) {
        int did_main = 0;
        for (int l = loader; l >= 0 && res == NOT_FOUND; l = L->v[l].loader) {
            const char *rp = rpath_of(L, l);
            if (rp)
                res = search_list(L, rp, ":", l, name, found);
            did_main |= l == L->main;
        }
        if (res == NOT_FOUND && !did_main && L->main >= 0 && rpath_of(L, L->main))
            res = search_list(L, rpath_of(L, L->main), ":", L->main, name, found);
    }
    if (res == NOT_FOUND && r->llp)
        res = search_list(L, r->llp, ":;", L->main, name, found);
    if (res == NOT_FOUND && li && li->runpath && *li->runpath)
        res = search_list(L, li->runpath, ":", loader, name, found);
    int flags_obj = loader >= 0 ? loader : L->main;
    int nodeflib = flags_obj >= 0 && (flags_1_of(L, flags_obj) & DF_1_NODEFLIB);
    if (res == NOT_FOUND && r->cache) {
        const char *cached = pf_ldcache_lookup(r->cache, name, &r->hw);
        if (cached && !(nodeflib && under_system_dir(cached))) {
            probe *p = probe_path(r, cached);
            if (p->status == PROBE_OK || p->status == PROBE_FATAL) {
                *found = pf_xstrdup(cached);
                res = p->status == PROBE_OK ? FOUND : FATAL;
            }
        }
    }
    if (res == NOT_FOUND && !nodeflib) {
        pf_strv dirs = {0};
        for (size_t i = 0; i < sizeof system_dirs / sizeof system_dirs[0]; i++)
            pf_strv_push(&dirs, system_dirs[i]);
        res = open_path(L, &dirs, name, found);
        pf_strv_free(&dirs);
    }
    return res;
}

/* ---- the link map --------------------------------------------------- */

static int add_obj(load *L) {
    if (L->n == L->cap) {
        L->cap = L->cap ? L->cap * 2 : 32;
        L->v = pf_xrealloc(L->v, L->cap * sizeof *L->v);
    }
    memset(&L->v[L->n], 0, sizeof L->v[0]);
    L->v[L->n].loader = -1;
    L->v[L->n].entry = -1;
    return (int)L->n++;
}

static int add_entry(load *L, const char *name, const char *path, int parent, int reused) {
    pf_load *out = L->out;
    out->v = pf_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
    pf_loaded *e = &out->v[out->n];
    memset(e, 0, sizeof *e);
    e->name = pf_xstrdup(name);
    e->parent = parent;
    e->reused = reused;
    if (path) {
        e->path = pf_xstrdup(path);
        char *host = host_path(L->r, path);
        e->realpath = realpath(host, NULL);
        free(host);
    }
    return (int)out->n++;
}

/* _dl_name_match_p plus the SONAME check of _dl_map_object. */
static int match_loaded(load *L, const char *name) {
    for (size_t i = 0; i < L->n; i++) {
        obj *o = &L->v[i];
        if (o->faked)
            continue;
        if (pf_strv_contains(&o->names, name) || (o->path && strcmp(o->path, name) == 0))
            return (int)i;
        const pf_elf_info *in = info_of(L, (int)i);
        if (in && in->soname && strcmp(in->soname, name) == 0) {
            pf_strv_push(&o->names, name);
            return (int)i;
        }
    }
    return -1;
}

/* The same file already loaded under another path (_dl_file_id_match_p).
 * The loader's own map has no file id in glibc 2.36: a DT_NEEDED naming
 * it by another path loads it a second time (seen with ld.so --list). */
static int match_file(load *L, const probe *p) {
    for (size_t i = 0; i < L->n; i++) {
        const obj *o = &L->v[i];
        if (!o->faked && !o->is_rtld && o->pr && o->pr->dev == p->dev && o->pr->ino == p->ino)
            return (int)i;
    }
    return -1;
}

static void set_fatal(load *L, const char *name, const char *msg) {
    if (!L->fatal)
        L->fatal = pf_xasprintf("%s: %s", name, msg);
}

/* _dl_map_object for one name: returns the object index, -1 for a fatal
 * error. parent_entry is the entry of the needing object (-1 for roots);
 * callmap marks a dlopen (the new object gets no l_loader). The entry
 * records raw, the DT_NEEDED string as written in the file. */
static int map_object(load *L, int loader, const char *name, const char *raw, int parent_entry,
                      int callmap) {
    int i = match_loaded(L, name);
    if (i >= 0) {
        add_entry(L, raw, L->v[i].path, parent_entry, 1);
        return i;
    }
    char *path = NULL;
    search_result res;
    if (!strchr(name, '/')) {
        res = search(L, loader, name, &path);
    } else {
        path = loader >= 0 ? dst_expand(name, origin_of(L, loader)) : pf_xstrdup(name);
        probe *p = *path ? probe_path(L->r, path) : NULL;
        res = !p                         ? NOT_FOUND
              : p->status == PROBE_OK    ? FOUND
              : p->status == PROBE_FATAL ? FATAL
                                         : NOT_FOUND;
    }
    probe *p = res == NOT_FOUND ? NULL : probe_path(L->r, path);
    if (res == FATAL) {
        set_fatal(L, path, p->msg);
        free(path);
        return -1;
    }
    if (res == FOUND && (i = match_file(L, p)) >= 0) {
        pf_strv_push(&L->v[i].names, name);
        add_entry(L, raw, L->v[i].path, parent_entry, 1);
        free(path);
        return i;
    }
    char *why = NULL;
    if (res == FOUND && !probe_info(L->r, path, p, &why)) {
        set_fatal(L, path, why);
        free(why);
        free(path);
        return -1;
    }
    i = add_obj(L);
    obj *o = &L->v[i];
    pf_strv_push(&o->names, name);
    o->loader = callmap ? -1 : loader;
    if (res == FOUND) {
        o->path = path;
        o->pr = p;
    } else {
        o->faked = 1;
        L->missing = 1;
        free(path);
    }
    o->entry = add_entry(L, raw, o->path, parent_entry, 0);
    return i;
}

/* _dl_map_object_deps: breadth first from object `from` on. */
static int map_deps(load *L, size_t from) {
    for (size_t i = from; i < L->n; i++) {
        const pf_elf_info *in = info_of(L, (int)i);
        if (L->v[i].faked || L->v[i].is_rtld || !in)
            continue;
        for (size_t k = 0; k < in->needed.n; k++) {
            /* dl-deps.c expands DSTs in a DT_NEEDED before _dl_map_object
             * sees it: the expanded name is matched and remembered.
             * (Copied first: L->v may move while mapping.) */
            const char *raw = in->needed.v[k];
            char *name = strchr(raw, '$') ? dst_expand(raw, origin_of(L, (int)i)) : pf_xstrdup(raw);
            int parent_entry = L->v[i].entry;
            int r = *name ? map_object(L, (int)i, name, raw, parent_entry, 0) : -1;
            if (!*name)
                set_fatal(L, raw, "empty dynamic string token substitution");
            free(name);
            if (r < 0)
                return -1;
            in = info_of(L, (int)i);
        }
    }
    return 0;
}

/* The loader itself is in every process before any DT_NEEDED is mapped:
 * found by the program's PT_INTERP name or by its SONAME. */
static void add_rtld(load *L, const char *interp) {
    const char *path = interp ? interp : DEFAULT_RTLD;
    probe *p = probe_path(L->r, path);
    char *why = NULL;
    if (p->status != PROBE_OK || !probe_info(L->r, path, p, &why)) {
        free(why);
        return;
    }
    int i = add_obj(L);
    obj *o = &L->v[i];
    o->is_rtld = 1;
    o->path = pf_xstrdup(path);
    o->pr = p;
    pf_strv_push(&o->names, path);
}

/* Loads the program at `path`: its object, the loader, its closure. */
static int load_program(load *L, const char *path) {
    probe *p = probe_path(L->r, path);
    char *why = NULL;
    if (p->status != PROBE_OK) {
        set_fatal(L, path,
                  p->status == PROBE_FATAL   ? p->msg
                  : p->status == PROBE_OTHER ? "wrong ELF class or machine"
                                             : strerror(ENOENT));
        return -1;
    }
    if (!probe_info(L->r, path, p, &why)) {
        set_fatal(L, path, why);
        free(why);
        return -1;
    }
    int m = add_obj(L);
    L->main = m;
    L->v[m].is_main = 1;
    L->v[m].path = pf_xstrdup(path);
    L->v[m].pr = p;
    pf_strv_push(&L->v[m].names, path);
    L->v[m].entry = add_entry(L, path, path, -1, 0);
    add_rtld(L, p->info.interp);
    return map_deps(L, 0);
}

int pf_resolve(pf_resolver *r, const char *path, const char *main, pf_load *out, char *err,
               size_t errlen) {
    load L = {.r = r, .main = -1, .out = out};
    memset(out, 0, sizeof *out);
    int rc = load_program(&L, main ? main : path);
    if (rc == 0 && main) {
        size_t from = L.n;
        rc = map_object(&L, L.main, path, path, -1, 1) < 0 ? -1 : map_deps(&L, from);
    }
    if (rc != 0)
        pf_seterr(err, errlen, "%s", L.fatal ? L.fatal : "load failed");
    for (size_t i = 0; i < L.n; i++) {
        pf_strv_free(&L.v[i].names);
        free(L.v[i].path);
        free(L.v[i].origin);
    }
    free(L.v);
    free(L.fatal);
    return rc != 0 ? -1 : L.missing ? 1 : 0;
}

void pf_load_free(pf_load *l) {
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].path);
        free(l->v[i].realpath);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* ---- the resolver --------------------------------------------------- */

pf_resolver *pf_resolver_new(const pf_resolver_opts *opts, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    pf_resolver *r = pf_xcalloc(1, sizeof *r);
    pf_resolver_opts none = {0};
    if (!opts)
        opts = &none;
    if (opts->ld_library_path && *opts->ld_library_path)
        r->llp = pf_xstrdup(opts->ld_library_path);
    if (opts->root && *opts->root && strcmp(opts->root, "/") != 0)
        r->root = pf_xstrdup(opts->root);
    r->origin_as_given = opts->origin_as_given;
    pf_hwcaps_detect(&r->hw);
    for (size_t i = 0; i < r->hw.n; i++)
        pf_strv_push_own(&r->subdirs, pf_xasprintf("glibc-hwcaps/%s/", r->hw.names[i]));
    for (size_t i = 0; i < sizeof legacy_subdirs / sizeof legacy_subdirs[0]; i++)
        pf_strv_push(&r->subdirs, legacy_subdirs[i]);
    pf_strv_push(&r->subdirs, "");
    if (!opts->inhibit_cache) {
        /* a missing or unusable cache is not an error: the loader ignores it */
        char ignored[PF_ERRLEN];
        char *cpath =
            opts->ld_so_cache ? pf_xstrdup(opts->ld_so_cache) : host_path(r, "/etc/ld.so.cache");
        r->cache = pf_ldcache_open(cpath, ignored, sizeof ignored);
        free(cpath);
    }
    return r;
}

void pf_resolver_free(pf_resolver *r) {
    if (!r)
        return;
    for (size_t i = 0; i < r->probes.cap; i++) {
        probe *p = r->probes.keys && r->probes.keys[i] ? r->probes.vals[i] : NULL;
        if (!p)
            continue;
        free(p->msg);
        pf_elf_info_free(&p->info);
        free(p);
    }
    pf_strmap_free(&r->probes);
    pf_strmap_free(&r->dirs);
    pf_strv_free(&r->subdirs);
    pf_ldcache_free(r->cache);
    free(r->llp);
    free(r->root);
    free(r);
}
