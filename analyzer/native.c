/* native.c: the native half of the closure. Every dynamic ELF of the plan,
 * every traced mapped object and executed program is resolved as glibc's
 * loader resolves it (resolve.h); what resolves outside the plan is placed
 * in lib/ under a name unique in the dist; each binary then gets a patch:
 * DT_RPATH listing exactly the dist folders of its own dependencies,
 * DT_NEEDED and DT_SONAME renamed where names collided (notes facts 1, 2). */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyze.h"
#include "pyfarm/hash.h"
#include "pyfarm/resolve.h"

/* Host libraries: the glibc family (must match the host's loader in host
 * mode; bundled with --glibc bundle) and GPU/driver libraries (must match
 * the host's kernel driver). docs/user-guide.md lists them; --host-lib and
 * --bundle-lib change them. */
static const char *const GLIBC_LIBS[] = {"ld-linux*.so*",
                                         "libc.so.*",
                                         "libm.so.*",
                                         "libmvec.so.*",
                                         "libpthread.so.*",
                                         "libdl.so.*",
                                         "librt.so.*",
                                         "libutil.so.*",
                                         "libresolv.so.*",
                                         "libanl.so.*",
                                         "libBrokenLocale.so.*",
                                         "libnss_*.so.*",
                                         "libthread_db.so.*",
                                         "libc_malloc_debug.so.*",
                                         "libmemusage.so",
                                         "libpcprofile.so",
                                         "libSegFault.so",
                                         NULL};
/* Only what must match the host's kernel driver: NVIDIA's driver libraries,
 * the vendors' GLVND implementations (libGLX_<vendor>, libEGL_<vendor>; the
 * dispatch libraries libGL, libGLX, libEGL, libOpenGL are ordinary and come
 * along), and the drivers Mesa, VA-API and Vulkan open by path. libdrm and
 * libgbm are ordinary libraries that libva, libavcodec and Debian's opencv
 * link: they are bundled. */
static const char *const DRIVER_LIBS[] = {"libcuda.so*",    "libnvidia-*",    "libnvcuvid.so*",
                                          "libGLX_*.so*",   "libEGL_*.so*",   "libGLESv2_*.so*",
                                          "*_dri.so",       "*_gbm.so",       "libgallium-*.so",
                                          "*_drv_video.so", "libvulkan_*.so", NULL};

static int match_any(const char *const *pats, const char *name) {
    for (int i = 0; pats[i]; i++)
        if (fnmatch(pats[i], name, 0) == 0)
            return 1;
    return 0;
}

int pf_is_glibc_family(const char *name) {
    return match_any(GLIBC_LIBS, pf_path_basename(name));
}

int pf_is_host_lib(const pf_opts *o, const char *name) {
    const char *b = pf_path_basename(name);
    for (size_t i = 0; i < o->bundle_libs.n; i++)
        if (fnmatch(o->bundle_libs.v[i], b, 0) == 0)
            return 0;
    for (size_t i = 0; i < o->host_libs.n; i++)
        if (fnmatch(o->host_libs.v[i], b, 0) == 0)
            return 1;
    return match_any(DRIVER_LIBS, b) || (!o->bundle_glibc && match_any(GLIBC_LIBS, b));
}

int pf_is_excluded_lib(const pf_opts *o, const char *name) {
    const char *b = pf_path_basename(name);
    for (size_t i = 0; i < o->exclude_libs.n; i++)
        if (fnmatch(o->exclude_libs.v[i], b, 0) == 0)
            return 1;
    return 0;
}

/* A unique name for a second, different file wanting an occupied name:
 * libfoo.so.1 -> libfoo-1a2b3c4d.so.1 (auditwheel's scheme). */
static char *hashed_name(const char *name, const char *real) {
    char hex[65] = "00000000";
    pf_sha256_file(real, hex, NULL, 0);
    const char *dot = strstr(name, ".so");
    if (!dot)
        return pf_xasprintf("%s-%.8s", name, hex);
    return pf_xasprintf("%.*s-%.8s%s", (int)(dot - name), name, hex, dot);
}

typedef struct nctx {
    pf_plan *plan;
    const pf_opts *o;
    pf_strmap lib_names; /* name in lib/ -> real */
    pf_strv hwcaps_seen; /* glibc-hwcaps builds met (warned once each) */
} nctx;

/* A library found in a glibc-hwcaps/LEVEL/ folder (x86-64-v2/v3/v4, picked
 * because this CPU has them) may fault on an older CPU: the baseline build
 * of the same name in the folder above glibc-hwcaps/ (where the loader looks
 * next), when there is one. Returns it (malloc'd), or NULL. */
char *pf_hwcaps_baseline(const char *path, const char **level) {
    const char *h = strstr(path, "/glibc-hwcaps/");
    if (!h)
        return NULL;
    const char *lv = h + strlen("/glibc-hwcaps/");
    const char *slash = strchr(lv, '/');
    if (!slash || strchr(slash + 1, '/'))
        return NULL;
    if (level)
        *level = lv;
    char *base = pf_xasprintf("%.*s/%s", (int)(h - path), path, slash + 1);
    struct stat st;
    if (stat(base, &st) != 0 || !S_ISREG(st.st_mode)) {
        free(base);
        return NULL;
    }
    return base;
}

static int in_hwcaps(const char *path) {
    return strstr(path, "/glibc-hwcaps/") != NULL;
}

/* Place a library that lies outside the plan into lib/. */
static pf_entry *place_lib(nctx *c, const char *path, const char *name, const char *reason) {
    const char *level = NULL;
    char *base = in_hwcaps(path) ? pf_hwcaps_baseline(path, &level) : NULL;
    if (base) {
        if (!pf_strv_contains(&c->hwcaps_seen, path)) {
            pf_strv_push(&c->hwcaps_seen, path);
            pf_plan_warn(c->plan,
                         "%s: resolved from glibc-hwcaps/%.*s (this CPU's level); the dist takes "
                         "the baseline build %s, which runs on any x86-64",
                         path, (int)strcspn(level, "/"), level, base);
        }
        pf_entry *e = place_lib(c, base, name, reason);
        free(base);
        return e;
    }
    if (in_hwcaps(path) && !pf_strv_contains(&c->hwcaps_seen, path)) {
        pf_strv_push(&c->hwcaps_seen, path);
        pf_plan_warn(c->plan,
                     "%s: only a glibc-hwcaps build exists (no baseline beside it); the dist "
                     "may fault on a CPU without that level",
                     path);
    }
    char *real = realpath(path, NULL);
    if (!real)
        return NULL;
    pf_entry *e = pf_strmap_get(&c->plan->by_real, real);
    if (e) {
        free(real);
        return e;
    }
    char *use = pf_xstrdup(name);
    const char *owner = pf_strmap_get(&c->lib_names, use);
    if (owner && strcmp(owner, real) != 0) {
        free(use);
        use = hashed_name(name, real);
    }
    char *dest = pf_xasprintf("lib/%s", use);
    e = pf_plan_add_file(c->plan, dest, path, reason, "library");
    if (e) {
        pf_strmap_put(&c->lib_names, use, e->real);
        if (strcmp(use, name) != 0)
            e->soname_new = pf_xstrdup(use);
    }
    free(dest);
    free(use);
    free(real);
    return e;
}

static int read_elf(pf_entry *e, char *err, size_t errlen) {
    if (e->elf || !e->source)
        return e->elf;
    int r = pf_elf_read(e->source, &e->info, err, errlen);
    if (r < 0)
        return -1;
    e->elf = r == 1 && e->info.has_dynamic;
    if (r == 1 && !e->elf)
        pf_elf_info_free(&e->info);
    return e->elf;
}

static int is_elf_file(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    unsigned char m[4] = {0};
    size_t n = fread(m, 1, 4, fp);
    fclose(fp);
    return n == 4 && m[0] == 0x7f && m[1] == 'E' && m[2] == 'L' && m[3] == 'F';
}

/* Data files that native code reads from absolute paths, and the variable
 * each library honours to find them elsewhere. */
typedef struct datarule {
    const char *pattern; /* fnmatch on the opened path */
    const char *var;
    int dir;           /* var names the folder (the rule's prefix) */
    const char *value; /* path inside data/ the variable points at */
} datarule;

static const datarule RULES[] = {
    {"/usr/lib/ssl/openssl.cnf", "OPENSSL_CONF", 0, "usr/lib/ssl/openssl.cnf"},
    {"/etc/ssl/openssl.cnf", "OPENSSL_CONF", 0, "etc/ssl/openssl.cnf"},
    {"/usr/lib/x86_64-linux-gnu/ossl-modules/*", "OPENSSL_MODULES", 1,
     "usr/lib/x86_64-linux-gnu/ossl-modules"},
    {"/etc/ssl/certs/ca-certificates.crt", "SSL_CERT_FILE", 0, "etc/ssl/certs/ca-certificates.crt"},
    {"/usr/lib/ssl/cert.pem", "SSL_CERT_FILE", 0, "usr/lib/ssl/cert.pem"},
    {"/etc/fonts/fonts.conf", "FONTCONFIG_FILE", 0, "etc/fonts/fonts.conf"},
    {"/etc/fonts/*", "FONTCONFIG_PATH", 1, "etc/fonts"},
    {"/usr/share/zoneinfo/*", "TZDIR", 1, "usr/share/zoneinfo"},
    {NULL, NULL, 0, NULL}};

/* Read by the host's glibc itself, or meaningless to copy (the documented
 * host list of files, docs/user-guide.md). */
int pf_host_file(const char *p) {
    static const char *const pre[] = {"/proc/",
                                      "/sys/",
                                      "/dev/",
                                      "/tmp/",
                                      "/run/",
                                      "/etc/ld.so",
                                      "/usr/lib/locale/",
                                      "/usr/share/locale/",
                                      "/usr/lib/x86_64-linux-gnu/gconv/",
                                      "/var/",
                                      "/etc/ssl/certs/", /* the host's trust store (SSL_CERT_DIR) */
                                      NULL};
    static const char *const exact[] = {"/etc/nsswitch.conf",
                                        "/etc/passwd",
                                        "/etc/group",
                                        "/etc/hosts",
                                        "/etc/resolv.conf",
                                        "/etc/host.conf",
                                        "/etc/gai.conf",
                                        "/etc/localtime",
                                        "/etc/timezone",
                                        "/etc/mime.types",
                                        "/",
                                        NULL};
    for (int i = 0; pre[i]; i++)
        if (strncmp(p, pre[i], strlen(pre[i])) == 0)
            return 1;
    for (int i = 0; exact[i]; i++)
        if (strcmp(p, exact[i]) == 0)
            return 1;
    size_t n = strlen(p);
    return (n > 3 && strcmp(p + n - 3, ".py") == 0) || (n > 4 && strcmp(p + n - 4, ".pyc") == 0) ||
           (n > 4 && strcmp(p + n - 4, ".pth") == 0);
}

static void data_file(nctx *c, const char *path, const char *why, const pf_strv *env_roots) {
    int ruled = 0; /* a rule relocates the file even on the host list */
    for (int i = 0; RULES[i].pattern && !ruled; i++)
        ruled = fnmatch(RULES[i].pattern, path, 0) == 0;
    if (!ruled && pf_host_file(path))
        return;
    for (size_t i = 0; i < env_roots->n; i++)
        if (pf_path_is_under(path, env_roots->v[i]))
            return;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    char *real = realpath(path, NULL);
    if (!real)
        return;
    int known = pf_strmap_get(&c->plan->by_real, real) != NULL;
    for (int i = 0; RULES[i].pattern && !known; i++) {
        if (fnmatch(RULES[i].pattern, path, 0) != 0)
            continue;
        char *dest = pf_xasprintf("data%s", path);
        pf_entry *e = pf_plan_add_file(c->plan, dest, path, why, "data");
        if (e && is_elf_file(path))
            e->elf = 0; /* resolved below with the others */
        char *kv = pf_xasprintf("%s=data/%s", RULES[i].var, RULES[i].value);
        if (!pf_strv_contains(&c->plan->envvars, kv))
            pf_strv_push(&c->plan->envvars, kv);
        free(kv);
        free(dest);
        known = 1;
    }
    if (!known && !is_elf_file(path))
        pf_plan_warn(c->plan, "%s: read at run time (%s) but not relocated", path, why);
    free(real);
}

/* Objects the loader starts from: programs, and extension modules that
 * the interpreter dlopens (every other library is reached from these). */
static int is_root(const pf_entry *e) {
    const char *b = pf_path_basename(e->dest);
    return e->program || strcmp(e->origin, "lib-dynload") == 0 || strstr(b, ".cpython-") ||
           strstr(b, ".abi3.so") || strstr(b, "module.so") || strstr(b, ".pypy");
}

/* Resolve one root and record an edge for each DT_NEEDED of every object
 * of the dist in its load. strict: a missing name fails the analysis
 * (unless --allow-missing); otherwise it is a warning. */
static int resolve_root(nctx *c, pf_resolver *rs, pf_entry *e, const char *main_exe,
                        pf_strmap *edges, pf_strmap *seen, int strict, char *err, size_t errlen) {
    pf_plan *plan = c->plan;
    const pf_opts *o = c->o;
    pf_load ld = {0};
    if (pf_resolve(rs, e->source, e->program ? NULL : main_exe, &ld, err, errlen) < 0)
        return -1;
    int r = 0;
    pf_strmap_put(seen, e->real, (void *)1);
    for (size_t j = 0; j < ld.n && r == 0; j++) {
        pf_loaded *L = &ld.v[j];
        if (L->realpath)
            pf_strmap_put(seen, L->realpath, (void *)1);
        if (L->parent < 0)
            continue;
        pf_loaded *P = &ld.v[L->parent];
        const char *preal = P->realpath ? P->realpath : P->path;
        if (!preal)
            continue;
        pf_entry *pe = pf_strmap_get(&plan->by_real, preal);
        if (!pe)
            continue; /* a host library's own needs */
        char *key = pf_xasprintf("%s\t%s", pe->real, L->name);
        if (pf_strmap_get(edges, key)) {
            free(key);
            continue;
        }
        if (!L->path) {
            if (!pf_is_host_lib(o, L->name)) {
                if (strict && !o->allow_missing) {
                    pf_seterr(err, errlen, "%s: needed by %s (%s) resolves nowhere", L->name,
                              pe->source, pe->reason);
                    r = -1;
                } else {
                    pf_plan_warn(plan, "%s: needed by %s, not found; left out", L->name,
                                 pe->source);
                }
            }
            pf_strmap_put(edges, key, pf_xstrdup(""));
        } else if (pf_is_host_lib(o, L->name) || pf_is_host_lib(o, L->path) ||
                   pf_is_excluded_lib(o, L->name)) {
            pf_strmap_put(edges, key, pf_xstrdup(""));
        } else {
            char *why = pf_xasprintf("needed by %s as %s", pe->dest, L->name);
            pf_entry *t = place_lib(c, L->path, L->name, why);
            free(why);
            pf_strmap_put(edges, key, pf_xstrdup(t ? t->real : ""));
            if (t)
                read_elf(t, NULL, 0);
        }
        free(key);
    }
    pf_load_free(&ld);
    return r;
}

static char *rpath_for(pf_entry *e) {
    pf_buf b = {0};
    char *dir = pf_path_dirname(e->dest);
    for (size_t i = 0; i < e->dep_dirs.n; i++) {
        char *rel = pf_path_relative(dir, e->dep_dirs.v[i]);
        if (b.n)
            pf_buf_putc(&b, ':');
        if (strcmp(rel, ".") == 0)
            pf_buf_puts(&b, "$ORIGIN");
        else
            pf_buf_printf(&b, "$ORIGIN/%s", rel);
        free(rel);
    }
    free(dir);
    if (!b.p)
        pf_buf_puts(&b, "");
    return (char *)b.p;
}

static void add_dep_dir(pf_entry *e, const char *dest) {
    char *d = pf_path_dirname(dest);
    if (!pf_strv_contains(&e->dep_dirs, d))
        pf_strv_push(&e->dep_dirs, d);
    free(d);
}

/* Hermetic mode: the loader and what glibc loads by itself come along;
 * every program moves to libexec/ and a static launcher takes its place. */
/* glibc dlopens libgcc_s.so.1 by name, itself, for the forced unwinding of
 * pthread_exit and pthread_cancel (and for backtrace): CPython's daemon
 * threads exit that way at finalization, after the tracer's last look, so no
 * trace shows it. A dist with its own glibc carries the libgcc_s beside that
 * libc, under the name glibc asks for, unless a dependency brought it. */
static void bundle_libgcc_s(nctx *c) {
    if (pf_strmap_get(&c->lib_names, "libgcc_s.so.1"))
        return;
    const pf_entry *libc = pf_strmap_get(&c->plan->by_dest, "lib/libc.so.6");
    if (!libc || !libc->source)
        return;
    char *dir = pf_path_dirname(libc->source);
    char *path = pf_path_join(dir, "libgcc_s.so.1");
    if (access(path, R_OK) == 0 &&
        !place_lib(c, path, "libgcc_s.so.1", "dlopened by glibc for pthread_exit unwinding"))
        pf_plan_warn(c->plan, "%s: cannot be bundled; threads that exit may abort the app", path);
    free(path);
    free(dir);
}

static int hermetic(nctx *c, pf_proc *ep, char *err, size_t errlen) {
    pf_plan *plan = c->plan;
    pf_elf_info inf = {0};
    if (pf_elf_read(ep->exe, &inf, err, errlen) != 1 || !inf.interp) {
        pf_seterr(err, errlen, "%s: no PT_INTERP to bundle", ep->exe);
        pf_elf_info_free(&inf);
        return -1;
    }
    pf_entry *ld = place_lib(c, inf.interp, pf_path_basename(inf.interp), "the dist's loader");
    pf_elf_info_free(&inf);
    if (!ld) {
        pf_seterr(err, errlen, "the loader cannot be bundled");
        return -1;
    }
    /* gconv modules (iconv) and the C.UTF-8 locale: glibc opens them itself */
    static const struct {
        const char *src, *dest, *var;
    } extra[] = {{"/usr/lib/x86_64-linux-gnu/gconv", "lib/gconv", "GCONV_PATH"},
                 {"/usr/lib/locale/C.utf8", "lib/locale/C.utf8", "LOCPATH"}};
    for (size_t k = 0; k < 2; k++) {
        struct stat st;
        if (stat(extra[k].src, &st) != 0)
            continue;
        pf_strv files = {0};
        char *cmd = pf_xasprintf("find '%s' -type f", extra[k].src);
        FILE *fp = popen(cmd, "r");
        char line[4096];
        while (fp && fgets(line, sizeof line, fp)) {
            line[strcspn(line, "\n")] = 0;
            pf_strv_push(&files, line);
        }
        if (fp)
            pclose(fp);
        free(cmd);
        for (size_t i = 0; i < files.n; i++) {
            char *rel = pf_path_relative(extra[k].src, files.v[i]);
            char *dest = pf_path_join(extra[k].dest, rel);
            pf_entry *e = pf_plan_add_file(plan, dest, files.v[i], "read by glibc itself", "glibc");
            if (e)
                e->nopatch = 1; /* gconv modules are loaded by libc: dependencies are
                                   in lib/, found through --library-path */
            free(rel);
            free(dest);
        }
        pf_strv_free(&files);
        const char *val = k == 1 ? "lib/locale" : extra[k].dest;
        char *kv = pf_xasprintf("%s=%s", extra[k].var, val);
        if (!pf_strv_contains(&plan->envvars, kv))
            pf_strv_push(&plan->envvars, kv);
        free(kv);
    }
    bundle_libgcc_s(c);
    for (size_t i = 0; i < plan->n; i++) {
        pf_entry *e = plan->v[i];
        if (e->type == 'f' && e->source && pf_is_glibc_family(e->dest))
            e->nopatch = 1;
    }
    /* programs go to libexec/, launchers stand in their place */
    size_t n = plan->n;
    for (size_t i = 0; i < n; i++) {
        pf_entry *e = plan->v[i];
        if (!e->program || !e->elf)
            continue;
        char *old = pf_xstrdup(e->dest), *dest = pf_path_join("libexec", e->dest);
        pf_plan_move(plan, e, dest);
        pf_plan_add_file(plan, old, c->o->launcher, "launcher of the program", "launcher");
        free(old);
        free(dest);
    }
    return 0;
}

/* A glibc-hwcaps/ folder that came along inside a package or the app
 * would be searched first by the dist's loader too (it looks below every
 * RPATH folder): its builds leave when their baseline is in the dist. */
static void drop_hwcaps_copies(nctx *c) {
    pf_plan *plan = c->plan;
    for (size_t i = plan->n; i-- > 0;) {
        pf_entry *e = plan->v[i];
        if (e->type != 'f' || !e->source || !in_hwcaps(e->dest))
            continue;
        char *base = pf_hwcaps_baseline(e->source, NULL);
        char *breal = base ? realpath(base, NULL) : NULL;
        if (breal && pf_strmap_get(&plan->by_real, breal)) {
            if (!pf_strv_contains(&c->hwcaps_seen, e->source))
                pf_plan_warn(plan,
                             "%s: a glibc-hwcaps build; left out, the dist takes the baseline "
                             "build %s, which runs on any x86-64",
                             e->source, base);
            pf_plan_remove(plan, i);
        }
        free(breal);
        free(base);
    }
}

static int patch_entry(pf_entry *e, char *err, size_t errlen) {
    if (e->nopatch)
        return 0;
    char *rp = rpath_for(e);
    pf_elf_edit ed = {0};
    ed.set_rpath = e->dep_dirs.n || e->info.rpath || e->info.runpath;
    ed.rpath = rp;
    ed.soname = e->soname_new && e->info.soname ? e->soname_new : NULL;
    ed.needed_from = (const char *const *)e->need_from.v;
    ed.needed_to = (const char *const *)e->need_to.v;
    ed.n_renames = e->need_from.n;
    int r = 0;
    if (ed.set_rpath || ed.soname || ed.n_renames) {
        r = pf_elf_patch(e->source, &ed, &e->patch, &e->patch_len, &e->size, err, errlen);
    }
    free(rp);
    return r;
}

int pf_plan_native(pf_plan *plan, pf_facts *f, pf_proc **procs, size_t nprocs, const pf_opts *o,
                   char *err, size_t errlen) {
    nctx c = {.plan = plan, .o = o};
    pf_proc *ep = procs[0];
    pf_resolver_opts ro = {.ld_library_path = pf_proc_info(ep, "ld_library_path")};
    if (ro.ld_library_path && !*ro.ld_library_path)
        ro.ld_library_path = NULL;
    pf_resolver *rs = pf_resolver_new(&ro, err, errlen);
    if (!rs)
        return -1;
    char *pyreal = realpath(ep->exe, NULL);
    pf_strv env_roots = {0};
    const char *prefixes[] = {"prefix", "base_prefix", "exec_prefix", "base_exec_prefix"};
    for (size_t k = 0; k < 4; k++) {
        const char *v = pf_proc_info(ep, prefixes[k]);
        if (v && strcmp(v, "/usr") && strcmp(v, "/usr/local") && strcmp(v, "/") &&
            !pf_strv_contains(&env_roots, v))
            pf_strv_push(&env_roots, v);
    }
    if (pf_proc_info(ep, "stdlib"))
        pf_strv_push(&env_roots, pf_proc_info(ep, "stdlib"));
    for (size_t i = 0; i < ep->syspath.n; i++)
        if (ep->syspath.v[i][0] == '/')
            pf_strv_push(&env_roots, ep->syspath.v[i]);

    /* the processes whose native facts count: the env's, and the non-Python
     * processes of the same runs (programs the app ran) */
    pf_strv runs = {0};
    for (size_t i = 0; i < nprocs; i++) {
        char k[32];
        snprintf(k, sizeof k, "%lld", (long long)procs[i]->run_id);
        if (!pf_strv_contains(&runs, k))
            pf_strv_push(&runs, k);
    }
    int r = 0;
    for (size_t i = 0; i < f->n && r == 0; i++) {
        pf_proc *p = f->v[i];
        char k[32];
        snprintf(k, sizeof k, "%lld", (long long)p->run_id);
        int mine = 0;
        for (size_t j = 0; j < nprocs; j++)
            mine |= procs[j] == p;
        if (!mine && (p->python || !pf_strv_contains(&runs, k)))
            continue;
        for (size_t j = 0; j < p->objects.n; j++) {
            const char *ob = p->objects.v[j];
            if (pf_is_host_lib(o, ob) || pf_is_excluded_lib(o, ob) ||
                strstr(pf_path_basename(ob), "pfpreload") || (pyreal && strcmp(ob, pyreal) == 0))
                continue;
            char *real = realpath(ob, NULL);
            if (!real)
                continue;
            pf_entry *known = pf_strmap_get(&plan->by_real, real);
            if (known)
                known->mapped = 1;
            if (!known && is_elf_file(real)) {
                char *why = pf_xasprintf("mapped in process %d", p->pid);
                int ruled = 0;
                for (int q = 0; RULES[q].pattern; q++)
                    if (fnmatch(RULES[q].pattern, ob, 0) == 0)
                        ruled = 1;
                if (ruled) {
                    data_file(&c, ob, why, &env_roots);
                } else {
                    pf_elf_info inf = {0};
                    const char *nm = pf_path_basename(ob);
                    if (pf_elf_read(real, &inf, NULL, 0) == 1 && inf.soname)
                        nm = inf.soname;
                    pf_entry *pl = place_lib(&c, ob, nm, why);
                    if (pl)
                        pl->mapped = 1;
                    pf_elf_info_free(&inf);
                }
                free(why);
            }
            free(real);
        }
        for (size_t j = 0; j < p->programs.n; j++) {
            const char *pg = p->programs.v[j];
            char *real = realpath(pg, NULL);
            if (!real || access(real, X_OK) != 0 || (pyreal && strcmp(real, pyreal) == 0) ||
                pf_strmap_get(&plan->by_real, real)) {
                free(real);
                continue;
            }
            int other_env = 0; /* another environment's interpreter: not this dist's */
            for (size_t q = 0; q < f->n && !other_env; q++)
                other_env = f->v[q]->python && f->v[q]->exe && strcmp(f->v[q]->exe, real) == 0;
            if (other_env) {
                pf_plan_warn(plan,
                             "%s: executed (process %d) is another Python environment's "
                             "interpreter; not bundled",
                             pg, p->pid);
                free(real);
                continue;
            }
            if (!is_elf_file(real)) {
                pf_plan_warn(plan, "%s: executed (process %d) but is a script; not bundled", pg,
                             p->pid);
                free(real);
                continue;
            }
            char *dest = pf_xasprintf("bin/%s", pf_path_basename(pg));
            char *why = pf_xasprintf("executed by process %d", p->pid);
            pf_entry *e = pf_plan_add_file(plan, dest, pg, why, "program");
            if (e)
                e->program = 1;
            free(dest);
            free(why);
            free(real);
        }
        for (size_t j = 0; j < p->files.n; j++) {
            char *why = pf_xasprintf("opened by process %d", p->pid);
            data_file(&c, p->files.v[j], why, &env_roots);
            free(why);
        }
    }
    for (size_t i = 0; i < o->include_libs.n; i++) {
        if (!place_lib(&c, o->include_libs.v[i], pf_path_basename(o->include_libs.v[i]),
                       "--include-lib")) {
            pf_seterr(err, errlen, "%s: --include-lib: no such file", o->include_libs.v[i]);
            r = -1;
        }
    }

    /* Resolve in the contexts the loader sees: programs and extension
     * modules dlopen'd by the interpreter first; a library's own DT_NEEDED
     * are resolved within the load that brought it (DT_RPATH inherits along
     * the loader chain). Then objects a traced process mapped that no load
     * reached (ctypes, dlopen by path); last, libraries of the dist nothing
     * reached, alone, where a missing name is only a warning. */
    pf_strmap edges = {0}; /* "from-real\tname" -> to-real (or "" for host/missing) */
    pf_strmap seen = {0};  /* realpaths that appeared in some load */
    for (int pass = 0; pass < 3 && r == 0; pass++) {
        for (size_t i = 0; i < plan->n && r == 0; i++) {
            pf_entry *e = plan->v[i];
            if (e->type != 'f' || !e->source)
                continue;
            int k = read_elf(e, err, errlen);
            if (k < 0) {
                r = -1;
                break;
            }
            if (!k || pf_strmap_get(&seen, e->real) || (pass == 0 && !is_root(e)) ||
                (pass == 1 && !e->mapped))
                continue;
            r = resolve_root(&c, rs, e, ep->exe, &edges, &seen, pass < 2, err, errlen);
        }
    }
    pf_strmap_free(&seen);
    if (r != 0)
        goto out;
    drop_hwcaps_copies(&c);

    if (o->bundle_glibc && (r = hermetic(&c, ep, err, errlen)) != 0)
        goto out;

    /* Load names: every dependency target is loaded by its file name in the
     * dist, and its SONAME is made equal to it, so that glibc's match of
     * already-loaded objects by name (notes fact 2) can only find the
     * intended file. A second, different file with a name already taken
     * (two vendored copies in two packages, say) is loaded through a renamed
     * copy in lib/. Edges are taken in sorted order: the same catalog for the
     * same trace. */
    pf_strv keys = {0};
    for (size_t i = 0; i < edges.cap; i++)
        if (edges.keys[i])
            pf_strv_push(&keys, edges.keys[i]);
    pf_strv_sort(&keys);
    pf_strmap owner = {0};  /* load name -> realpath of the file that has it */
    pf_strmap copies = {0}; /* realpath -> renamed copy in lib/ */
    pf_strv copied = {0};   /* realpaths that got a copy, in order */
    for (size_t i = 0; i < keys.n; i++) {
        const char *to = pf_strmap_get(&edges, keys.v[i]);
        char *tab = strchr(keys.v[i], '\t');
        char *from = pf_xstrndup(keys.v[i], (size_t)(tab - keys.v[i]));
        const char *name = tab + 1;
        pf_entry *fe = pf_strmap_get(&plan->by_real, from);
        pf_entry *te = *to ? pf_strmap_get(&plan->by_real, to) : NULL;
        free(from);
        if (fe && !te) /* taken from the host, or missing */
            pf_strv_push_own(&plan->deps, pf_xasprintf("%s\t%s\t\t\t%s", fe->dest, name,
                                                       *to ? "missing" : "host"));
        if (!fe || !te)
            continue;
        const char *ln = pf_path_basename(te->dest);
        const char *own = pf_strmap_get(&owner, ln);
        if (!own) {
            pf_strmap_put(&owner, ln, te->real);
        } else if (strcmp(own, te->real) != 0) {
            pf_entry *cp = pf_strmap_get(&copies, te->real);
            if (!cp) {
                char *hn = hashed_name(ln, te->real);
                char *dest = pf_xasprintf("lib/%s", hn);
                char *why = pf_xasprintf("renamed copy of %s (another file is %s)", te->dest, ln);
                cp = pf_plan_add_file(plan, dest, te->source, why, "library");
                if (cp) {
                    cp->soname_new = pf_xstrdup(hn);
                    read_elf(cp, NULL, 0);
                    pf_strmap_put(&copies, te->real, cp);
                    pf_strv_push(&copied, te->real);
                    pf_strmap_put(&owner, pf_path_basename(cp->dest), te->real);
                }
                free(hn);
                free(dest);
                free(why);
            }
            if (cp) {
                te = cp;
                ln = pf_path_basename(te->dest);
            }
        }
        pf_strv_push_own(&plan->deps,
                         pf_xasprintf("%s\t%s\t%s\t%s\tdist", fe->dest, name, te->dest, te->real));
        read_elf(te, NULL, 0);
        if (strcmp(ln, name) != 0 && !pf_strv_contains(&fe->need_from, name)) {
            pf_strv_push(&fe->need_from, name);
            pf_strv_push(&fe->need_to, ln);
        }
        if (te->elf && te->info.soname && strcmp(te->info.soname, ln) != 0 && !te->soname_new)
            te->soname_new = pf_xstrdup(ln);
        add_dep_dir(fe, te->dest);
    }
    /* a renamed copy needs what its original needs */
    for (size_t i = 0; i < copied.n; i++) {
        pf_entry *orig = pf_strmap_get(&plan->by_real, copied.v[i]);
        pf_entry *cp = pf_strmap_get(&copies, copied.v[i]);
        for (size_t k = 0; orig && k < orig->dep_dirs.n; k++)
            if (!pf_strv_contains(&cp->dep_dirs, orig->dep_dirs.v[k]))
                pf_strv_push(&cp->dep_dirs, orig->dep_dirs.v[k]);
        for (size_t k = 0; orig && k < orig->need_from.n; k++) {
            pf_strv_push(&cp->need_from, orig->need_from.v[k]);
            pf_strv_push(&cp->need_to, orig->need_to.v[k]);
        }
    }
    pf_strv_free(&keys);
    pf_strv_free(&copied);
    pf_strmap_free(&owner);
    pf_strmap_free(&copies);
    /* the interpreter finds every lib/ name (ctypes and dlopen by name) */
    pf_entry *py = pf_strmap_get(&plan->by_dest, plan->python_dest);
    if (py)
        add_dep_dir(py, "lib/x");

    for (size_t i = 0; i < plan->n && r == 0; i++) {
        pf_entry *e = plan->v[i];
        if (!e->elf)
            continue;
        if (patch_entry(e, err, errlen) != 0)
            r = -1;
        if (e->info.max_glibc &&
            (!plan->max_glibc || pf_glibc_vercmp(e->info.max_glibc, plan->max_glibc) > 0)) {
            free(plan->max_glibc);
            plan->max_glibc = pf_xstrdup(e->info.max_glibc);
        }
    }
out:
    pf_strmap_free_with(&edges, free);
    pf_strmap_free(&c.lib_names); /* values are borrowed from entries */
    pf_strv_free(&c.hwcaps_seen);
    pf_strv_free(&env_roots);
    pf_strv_free(&runs);
    free(pyreal);
    pf_resolver_free(rs);
    return r;
}
