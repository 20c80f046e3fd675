/* fuzz_elf_patch.c: lib/elf_patch.c, composed and compared against a
 * reference. Input: a flags byte (bit 0 set the rpath, bit 1 set the
 * soname), a rename count byte (mod 4), NUL-terminated strings (rpath,
 * soname, then from/to pairs), then the ELF file. When the patcher accepts
 * the edit, its blob must decode, the composed output must have the
 * declared size, and the output read back with lib/elf_read.c must be the
 * input with exactly the edit applied: every DT_NEEDED renamed (repeated
 * names may be deduplicated), the rpath set (DT_RUNPATH gone) or both
 * removed for "", the soname changed where there was one. That semantic
 * comparison is made for inputs whose program headers the loader would
 * take (PT_LOADs with filesz <= memsz, sorted and disjoint, PT_DYNAMIC
 * inside one); for the others only the blob, its size and the composition
 * are checked, and refusing them is right. */
#include <gelf.h>
#include <string.h>

#include "fuzz_common.h"
#include "pyfarm/elf.h"
#include "pyfarm/extents.h"

#define MAX_OUT (32u << 20)

static const char *take(const uint8_t **p, const uint8_t *end) {
    const uint8_t *z = memchr(*p, 0, (size_t)(end - *p));
    if (!z)
        return NULL;
    const char *s = (const char *)*p;
    *p = z + 1;
    return s;
}

static const char *renamed(const pf_elf_edit *e, const char *name) {
    for (size_t i = 0; i < e->n_renames; i++)
        if (strcmp(e->needed_from[i], name) == 0)
            return e->needed_to[i];
    return name;
}

static int same(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* out.needed is in.needed renamed, possibly without repeats. */
static void check_needed(const pf_elf_info *in, const pf_elf_info *out, const pf_elf_edit *e) {
    size_t j = 0, dups = 0;
    for (size_t i = 0; i < in->needed.n; i++) {
        const char *want = renamed(e, in->needed.v[i]);
        if (j < out->needed.n && strcmp(out->needed.v[j], want) == 0) {
            j++;
            continue;
        }
        int seen = 0; /* a repeat the patcher may drop */
        for (size_t k = 0; k < j && !seen; k++)
            seen = strcmp(out->needed.v[k], want) == 0;
        FUZZ_CHECK(seen, "DT_NEEDED[%zu] %s: expected %s, got %s", i, in->needed.v[i], want,
                   j < out->needed.n ? out->needed.v[j] : "(none)");
        dups++;
    }
    FUZZ_CHECK(j == out->needed.n, "%zu DT_NEEDED out, %zu expected", out->needed.n, j);
}

static void check_output(const pf_elf_info *in, const uint8_t *bytes, uint64_t size,
                         const pf_elf_edit *e) {
    char path[64], err[1024];
    fuzz_memfd("out", bytes, (size_t)size, path, sizeof path);
    pf_elf_info out;
    memset(&out, 0, sizeof out);
    int r = pf_elf_read(path, &out, err, sizeof err);
    FUZZ_CHECK(r == 1, "patched output does not read back: %s", err);
    check_needed(in, &out, e);
    if (e->set_rpath && e->rpath[0]) {
        FUZZ_CHECK(same(out.rpath, e->rpath) && !out.runpath, "rpath %s runpath %s, wanted %s",
                   out.rpath ? out.rpath : "-", out.runpath ? out.runpath : "-", e->rpath);
    } else if (e->set_rpath) {
        FUZZ_CHECK(!out.rpath && !out.runpath, "rpath/runpath not removed");
    } else {
        FUZZ_CHECK(same(out.rpath, in->rpath) && same(out.runpath, in->runpath), "rpath changed");
    }
    if (e->soname && *e->soname && in->soname) /* "" keeps the SONAME (elf.h) */
        FUZZ_CHECK(same(out.soname, e->soname), "soname %s, wanted %s",
                   out.soname ? out.soname : "-", e->soname);
    else
        FUZZ_CHECK(same(out.soname, in->soname), "soname changed");
    pf_elf_info_free(&out);
}

/* Program headers as glibc's loader would accept them. */
static int loader_sane(const uint8_t *p, size_t n) {
    if (elf_version(EV_CURRENT) == EV_NONE)
        return 0;
    Elf *e = elf_memory((char *)p, n);
    size_t phnum = 0;
    int ok = e && elf_kind(e) == ELF_K_ELF && elf_getphdrnum(e, &phnum) == 0 && phnum < 64;
    uint64_t last_end = 0;
    GElf_Phdr dyn = {0};
    GElf_Phdr loads[64];
    size_t nl = 0;
    for (size_t i = 0; ok && i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(e, (int)i, &ph)) {
            ok = 0;
            break;
        }
        if (ph.p_type == PT_DYNAMIC)
            dyn = ph;
        if (ph.p_type != PT_LOAD)
            continue;
        ok = ph.p_filesz <= ph.p_memsz && ph.p_vaddr >= last_end && ph.p_offset <= n &&
             ph.p_filesz <= n - ph.p_offset;
        last_end = ph.p_vaddr + ph.p_memsz;
        loads[nl++] = ph;
    }
    int inside = 0;
    ok = ok && dyn.p_filesz && dyn.p_filesz % sizeof(Elf64_Dyn) == 0;
    for (size_t i = 0; ok && i < nl; i++)
        inside |= dyn.p_vaddr >= loads[i].p_vaddr &&
                  dyn.p_vaddr + dyn.p_filesz <= loads[i].p_vaddr + loads[i].p_filesz &&
                  dyn.p_offset - loads[i].p_offset == dyn.p_vaddr - loads[i].p_vaddr;
    if (e)
        elf_end(e);
    return ok && inside;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    const uint8_t *p = data + 2, *end = data + size;
    const char *rpath = take(&p, end), *soname = rpath ? take(&p, end) : NULL;
    const char *from[4], *to[4];
    pf_elf_edit e = {0};
    if (!soname)
        return 0;
    for (unsigned i = 0; i < data[1] % 4u; i++) {
        from[i] = take(&p, end);
        to[i] = from[i] ? take(&p, end) : NULL;
        if (!to[i])
            return 0;
        e.n_renames++;
    }
    e.set_rpath = data[0] & 1;
    e.rpath = rpath;
    e.soname = data[0] & 2 ? soname : NULL;
    e.needed_from = from;
    e.needed_to = to;
    char path[64], err[1024];
    int src = fuzz_memfd("in", p, (size_t)(end - p), path, sizeof path);
    pf_elf_info in;
    memset(&in, 0, sizeof in);
    int readable = pf_elf_read(path, &in, err, sizeof err) == 1;
    int sane = readable && loader_sane(p, (size_t)(end - p));
    uint8_t *blob = NULL;
    size_t blen = 0;
    uint64_t out_size = 0;
    int r = pf_elf_patch(path, &e, &blob, &blen, &out_size, err, sizeof err);
    if (r == 0 && blob) {
        pf_patch pt;
        FUZZ_CHECK(pf_patch_decode(blob, blen, &pt, err, sizeof err) == 0, "blob: %s", err);
        FUZZ_CHECK(pt.size == out_size, "patch size %llu, declared %llu",
                   (unsigned long long)pt.size, (unsigned long long)out_size);
        if (out_size <= MAX_OUT) {
            uint8_t *out = malloc(out_size ? out_size : 1);
            ssize_t k = pf_patch_pread(&pt, src, out, out_size, 0);
            FUZZ_CHECK(k == (ssize_t)out_size, "composed %zd of %llu", k,
                       (unsigned long long)out_size);
            if (sane)
                check_output(&in, out, out_size, &e);
            free(out);
        }
        pf_patch_free(&pt);
    } else if (r != 0) {
        FUZZ_CHECK(err[0], "refused without a message");
    }
    free(blob);
    if (readable)
        pf_elf_info_free(&in);
    return 0;
}
