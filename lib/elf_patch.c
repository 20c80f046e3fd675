/* elf_patch.c: turn an edit of a binary's dynamic section (DT_RPATH,
 * DT_NEEDED, DT_SONAME) into a patch: extents over the untouched source.
 *
 * Technique (shared notes, fact 6): every existing byte stays in place. A
 * new PT_LOAD appended at the end of the file holds a new .dynamic and a new
 * .dynstr (the old table plus the new strings, so every old string offset
 * stays valid for .dynsym, version records and the rest). The program header
 * of a PT_NOTE is reused for that PT_LOAD (moved so that PT_LOADs stay in
 * ascending order: glibc and the kernel size the mapping from the first and
 * last). PT_DYNAMIC, the section headers of .dynamic and .dynstr, the
 * _DYNAMIC symbol, DT_VERNEED's file names (glibc matches version needs by
 * the needed name) and DT_VERDEF's base name follow, so that the file stays
 * consistent for eu-elflint. The patch is a few overlays and one appended
 * block, whatever the file's size. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyfarm/elf.h"
#include "pyfarm/extents.h"

#define PAGE 4096u

typedef struct img {
    const uint8_t *p;
    uint64_t size;
    const Elf64_Ehdr *eh;
    const Elf64_Phdr *ph;
    const char *path;
    char *err;
    size_t errlen;
} img;

static int fail(img *m, const char *why) {
    pf_seterr(m->err, m->errlen, "%s: %s", m->path, why);
    return -1;
}

static int in_file(const img *m, uint64_t off, uint64_t len) {
    return off <= m->size && len <= m->size - off;
}

/* File offset of a virtual address inside a PT_LOAD's file bytes. */
static int vaddr_off(const img *m, uint64_t va, uint64_t len, uint64_t *off) {
    for (unsigned i = 0; i < m->eh->e_phnum; i++) {
        const Elf64_Phdr *p = &m->ph[i];
        if (p->p_type != PT_LOAD || va < p->p_vaddr || va - p->p_vaddr > p->p_filesz ||
            len > p->p_filesz - (va - p->p_vaddr))
            continue;
        *off = p->p_offset + (va - p->p_vaddr);
        return in_file(m, *off, len);
    }
    return 0;
}

static uint32_t elf_hash(const char *s) {
    uint32_t h = 0;
    for (; *s; s++) {
        h = (h << 4) + (uint8_t)*s;
        uint32_t g = h & 0xf0000000u;
        if (g)
            h ^= g >> 24;
        h &= ~g;
    }
    return h;
}

typedef struct overlays {
    pf_overlay *v;
    size_t n, cap;
    pf_strv owned; /* backing storage of overlay bytes */
} overlays;

static void ov_add(overlays *o, uint64_t off, const void *data, size_t len) {
    char *copy = pf_xmalloc(len + 1);
    memcpy(copy, data, len);
    pf_strv_push_own(&o->owned, copy);
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 16;
        o->v = pf_xrealloc(o->v, o->cap * sizeof *o->v);
    }
    o->v[o->n++] = (pf_overlay){off, len, (const uint8_t *)copy};
}

/* New strings appended to the old table; returns their offset. */
static uint64_t str_add(pf_buf *tab, const char *s) {
    uint64_t off = tab->n;
    pf_buf_put(tab, s, strlen(s) + 1);
    return off;
}

static const char *rename_of(const pf_elf_edit *e, const char *name) {
    for (size_t i = 0; i < e->n_renames; i++)
        if (strcmp(e->needed_from[i], name) == 0)
            return e->needed_to[i];
    return NULL;
}

static int check_header(img *m) {
    const uint8_t *p = m->p;
    if (m->size < sizeof(Elf64_Ehdr) || memcmp(p, ELFMAG, SELFMAG) != 0)
        return fail(m, "not an ELF file");
    if (p[EI_CLASS] != ELFCLASS64 || p[EI_DATA] != ELFDATA2LSB)
        return fail(m, "only 64-bit little-endian ELF files can be patched");
    m->eh = (const Elf64_Ehdr *)p;
    if (m->eh->e_phentsize != sizeof(Elf64_Phdr) ||
        !in_file(m, m->eh->e_phoff, (uint64_t)m->eh->e_phnum * sizeof(Elf64_Phdr)) ||
        m->eh->e_phoff % 8)
        return fail(m, "corrupt program header table");
    m->ph = (const Elf64_Phdr *)(p + m->eh->e_phoff);
    return 0;
}

static int cmp_overlay(const void *a, const void *b) {
    const pf_overlay *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* The output: the source with the overlays, zeros up to the new segment,
 * the new dynamic array, the old string table as a copy from the source
 * (a large library's .dynstr is megabytes of symbol names: it must not
 * become literal bytes), then the new strings. */
static uint8_t *build_blob(const img *m, overlays *ov, uint64_t seg_off, const Elf64_Dyn *dyn,
                           size_t dyn_bytes, uint64_t strtab_off, uint64_t strsz, const pf_buf *tab,
                           size_t *blob_len) {
    qsort(ov->v, ov->n, sizeof *ov->v, cmp_overlay);
    pf_patch_builder b;
    pf_pb_init(&b);
    uint64_t pos = 0;
    for (size_t i = 0; i < ov->n; i++) {
        if (ov->v[i].off > pos)
            pf_pb_copy(&b, pos, ov->v[i].off - pos);
        pf_pb_lit(&b, ov->v[i].data, ov->v[i].len);
        pos = ov->v[i].off + ov->v[i].len;
    }
    if (pos < m->size)
        pf_pb_copy(&b, pos, m->size - pos);
    if (seg_off > m->size) {
        uint8_t zeros[PAGE] = {0};
        pf_pb_lit(&b, zeros, seg_off - m->size);
    }
    pf_pb_lit(&b, dyn, dyn_bytes);
    pf_pb_copy(&b, strtab_off, strsz);
    pf_pb_lit(&b, tab->p + strsz, tab->n - strsz);
    return pf_pb_finish(&b, blob_len);
}

int pf_elf_patch(const char *path, const pf_elf_edit *edit, uint8_t **blob, size_t *blob_len,
                 uint64_t *out_size, char *err, size_t errlen) {
    *blob = NULL;
    *blob_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pf_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        pf_seterr(err, errlen, "%s: empty or unreadable", path);
        close(fd);
        return -1;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        pf_seterr(err, errlen, "%s: mmap: %s", path, strerror(errno));
        return -1;
    }
    img m = {.p = map, .size = (uint64_t)st.st_size, .path = path, .err = err, .errlen = errlen};
    *out_size = m.size;
    int rc = -1;
    overlays ov = {0};
    pf_buf tab = {0};
    Elf64_Dyn *dyn_new = NULL;
    Elf64_Phdr *ph_new = NULL;
    if (check_header(&m) != 0)
        goto out;

    /* the dynamic section as the loader sees it */
    int dyn_i = -1, note_i = -1, last_load = -1;
    uint64_t vend = 0;
    for (int i = 0; i < m.eh->e_phnum; i++) {
        const Elf64_Phdr *p = &m.ph[i];
        if (p->p_type == PT_DYNAMIC)
            dyn_i = i;
        else if (p->p_type == PT_NOTE && note_i < 0)
            note_i = i;
        else if (p->p_type == PT_LOAD) {
            last_load = i;
            if (p->p_vaddr + p->p_memsz > vend)
                vend = p->p_vaddr + p->p_memsz;
        }
    }
    if (dyn_i < 0) {
        fail(&m, "no dynamic section (a static executable) to patch");
        goto out;
    }
    const Elf64_Phdr *pd = &m.ph[dyn_i];
    if (!in_file(&m, pd->p_offset, pd->p_filesz) || pd->p_offset % 8) {
        fail(&m, "corrupt PT_DYNAMIC");
        goto out;
    }
    const Elf64_Dyn *dyn = (const Elf64_Dyn *)(m.p + pd->p_offset);
    size_t ndyn = 0, maxdyn = pd->p_filesz / sizeof(Elf64_Dyn);
    uint64_t strtab_va = 0, strsz = 0, verneed_va = 0, verneednum = 0, verdef_va = 0, verdefnum = 0;
    const char *old_rpath = NULL, *old_runpath = NULL, *old_soname = NULL;
    while (ndyn < maxdyn && dyn[ndyn].d_tag != DT_NULL) {
        const Elf64_Dyn *d = &dyn[ndyn++];
        switch (d->d_tag) {
        case DT_STRTAB:
            strtab_va = d->d_un.d_ptr;
            break;
        case DT_STRSZ:
            strsz = d->d_un.d_val;
            break;
        case DT_VERNEED:
            verneed_va = d->d_un.d_ptr;
            break;
        case DT_VERNEEDNUM:
            verneednum = d->d_un.d_val;
            break;
        case DT_VERDEF:
            verdef_va = d->d_un.d_ptr;
            break;
        case DT_VERDEFNUM:
            verdefnum = d->d_un.d_val;
            break;
        default:
            break;
        }
    }
    uint64_t strtab_off;
    if (!strtab_va || !strsz || !vaddr_off(&m, strtab_va, strsz, &strtab_off)) {
        fail(&m, "corrupt DT_STRTAB");
        goto out;
    }
    const char *strtab = (const char *)m.p + strtab_off;
    if (strtab[strsz - 1] != 0) {
        fail(&m, "string table not terminated");
        goto out;
    }
#define STR(v) ((v) < strsz ? strtab + (v) : NULL)
    int renames = 0;
    for (size_t i = 0; i < ndyn; i++) {
        const char *s = STR(dyn[i].d_un.d_val);
        if (dyn[i].d_tag == DT_RPATH)
            old_rpath = s;
        else if (dyn[i].d_tag == DT_RUNPATH)
            old_runpath = s;
        else if (dyn[i].d_tag == DT_SONAME)
            old_soname = s;
        else if (dyn[i].d_tag == DT_NEEDED && s && rename_of(edit, s))
            renames++;
    }
    /* nothing to change? */
    int rpath_change = edit->set_rpath &&
                       (old_runpath || (*edit->rpath ? !old_rpath || strcmp(old_rpath, edit->rpath)
                                                     : old_rpath != NULL));
    int soname_change = edit->soname && old_soname && strcmp(old_soname, edit->soname) != 0;
    if (!rpath_change && !soname_change && !renames) {
        rc = 0;
        goto out;
    }
    if (note_i < 0) {
        fail(&m, "no spare program header (PT_NOTE) for the patch");
        goto out;
    }

    /* new string table: the old one, then ours */
    pf_buf_put(&tab, strtab, strsz);
    uint64_t rpath_off = edit->set_rpath && *edit->rpath ? str_add(&tab, edit->rpath) : 0;
    uint64_t soname_off = soname_change ? str_add(&tab, edit->soname) : 0;
    /* new dynamic array: room for everything plus a DT_RPATH and spares */
    size_t cap = ndyn + 8, nd = 0;
    dyn_new = pf_xcalloc(cap, sizeof *dyn_new);
    uint64_t seg_off = (m.size + PAGE - 1) & ~(uint64_t)(PAGE - 1);
    uint64_t seg_va = (vend + PAGE - 1) & ~(uint64_t)(PAGE - 1);
    size_t dyn_bytes = cap * sizeof(Elf64_Dyn);
    uint64_t newtab_va = seg_va + dyn_bytes;
    pf_strv renamed_from = {0};
    pf_strv renamed_off = {0};
    for (size_t i = 0; i < ndyn; i++) {
        Elf64_Dyn d = dyn[i];
        const char *s = STR(d.d_un.d_val);
        if (d.d_tag == DT_RPATH || d.d_tag == DT_RUNPATH) {
            if (edit->set_rpath)
                continue; /* replaced below */
        } else if (d.d_tag == DT_STRTAB) {
            d.d_un.d_ptr = newtab_va;
        } else if (d.d_tag == DT_SONAME && soname_change) {
            d.d_un.d_val = soname_off;
        } else if (d.d_tag == DT_NEEDED && s && rename_of(edit, s)) {
            uint64_t off = str_add(&tab, rename_of(edit, s));
            pf_strv_push(&renamed_from, s);
            pf_strv_push_own(&renamed_off, pf_xasprintf("%llu", (unsigned long long)off));
            d.d_un.d_val = off;
        }
        dyn_new[nd++] = d;
    }
    if (edit->set_rpath && *edit->rpath)
        dyn_new[nd++] = (Elf64_Dyn){.d_tag = DT_RPATH, .d_un.d_val = rpath_off};
    for (size_t i = 0; i < nd; i++)
        if (dyn_new[i].d_tag == DT_STRSZ)
            dyn_new[i].d_un.d_val = tab.n;
    /* the rest stays DT_NULL: the terminator and spare slots */

    uint64_t seg_len = dyn_bytes + tab.n;
    *out_size = seg_off + seg_len;

    /* program headers: PT_NOTE becomes the new PT_LOAD, placed after the
     * last PT_LOAD; PT_DYNAMIC points at the new array */
    size_t phn = m.eh->e_phnum;
    ph_new = pf_xmalloc(phn * sizeof *ph_new);
    Elf64_Phdr load = {.p_type = PT_LOAD,
                       .p_flags = PF_R | PF_W,
                       .p_offset = seg_off,
                       .p_vaddr = seg_va,
                       .p_paddr = seg_va,
                       .p_filesz = seg_len,
                       .p_memsz = seg_len,
                       .p_align = PAGE};
    size_t k = 0;
    for (size_t i = 0; i < phn; i++) {
        if ((int)i == note_i)
            continue;
        Elf64_Phdr p = m.ph[i];
        if ((int)i == dyn_i) {
            p.p_offset = seg_off;
            p.p_vaddr = p.p_paddr = seg_va;
            p.p_filesz = p.p_memsz = dyn_bytes;
        }
        ph_new[k++] = p;
        if ((int)i == last_load)
            ph_new[k++] = load;
    }
    ov_add(&ov, m.eh->e_phoff, ph_new, phn * sizeof *ph_new);

    /* version needs name files by their DT_NEEDED string */
    uint64_t vo;
    if (renamed_from.n && verneed_va && verneednum &&
        vaddr_off(&m, verneed_va, sizeof(Elf64_Verneed), &vo)) {
        for (uint64_t i = 0; i < verneednum; i++) {
            if (!in_file(&m, vo, sizeof(Elf64_Verneed)))
                break;
            const Elf64_Verneed *vn = (const Elf64_Verneed *)(m.p + vo);
            const char *file = STR(vn->vn_file);
            for (size_t j = 0; file && j < renamed_from.n; j++)
                if (strcmp(file, renamed_from.v[j]) == 0) {
                    uint32_t nv = (uint32_t)strtoull(renamed_off.v[j], NULL, 10);
                    ov_add(&ov, vo + offsetof(Elf64_Verneed, vn_file), &nv, sizeof nv);
                }
            if (!vn->vn_next)
                break;
            vo += vn->vn_next;
        }
    }
    /* the base version definition names the SONAME */
    if (soname_change && verdef_va && verdefnum &&
        vaddr_off(&m, verdef_va, sizeof(Elf64_Verdef), &vo)) {
        const Elf64_Verdef *vd = (const Elf64_Verdef *)(m.p + vo);
        uint64_t ao = vo + vd->vd_aux;
        if ((vd->vd_flags & VER_FLG_BASE) && in_file(&m, ao, sizeof(Elf64_Verdaux))) {
            uint32_t h = elf_hash(edit->soname), nn = (uint32_t)soname_off;
            ov_add(&ov, vo + offsetof(Elf64_Verdef, vd_hash), &h, sizeof h);
            ov_add(&ov, ao + offsetof(Elf64_Verdaux, vda_name), &nn, sizeof nn);
        }
    }

    /* section headers and _DYNAMIC, when the file has them */
    const Elf64_Ehdr *eh = m.eh;
    if (eh->e_shoff && eh->e_shentsize == sizeof(Elf64_Shdr) &&
        in_file(&m, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr))) {
        const Elf64_Shdr *sh = (const Elf64_Shdr *)(m.p + eh->e_shoff);
        for (unsigned i = 0; i < eh->e_shnum; i++) {
            Elf64_Shdr s = sh[i];
            int changed = 0;
            if (s.sh_type == SHT_DYNAMIC) {
                s.sh_offset = seg_off;
                s.sh_addr = seg_va;
                s.sh_size = dyn_bytes;
                changed = 1;
            } else if (s.sh_type == SHT_STRTAB && (s.sh_flags & SHF_ALLOC) &&
                       s.sh_addr == strtab_va) {
                s.sh_offset = seg_off + dyn_bytes;
                s.sh_addr = newtab_va;
                s.sh_size = tab.n;
                changed = 1;
            }
            if (changed)
                ov_add(&ov, eh->e_shoff + (uint64_t)i * sizeof(Elf64_Shdr), &s, sizeof s);
            if ((s.sh_type == SHT_SYMTAB || s.sh_type == SHT_DYNSYM) && s.sh_link < eh->e_shnum &&
                s.sh_entsize == sizeof(Elf64_Sym) && in_file(&m, s.sh_offset, s.sh_size)) {
                const Elf64_Shdr *ss = &sh[s.sh_link];
                if (!in_file(&m, ss->sh_offset, ss->sh_size) || !ss->sh_size)
                    continue;
                const char *names = (const char *)m.p + ss->sh_offset;
                const Elf64_Sym *sym = (const Elf64_Sym *)(m.p + s.sh_offset);
                for (uint64_t j = 0; j < s.sh_size / sizeof(Elf64_Sym); j++)
                    if (sym[j].st_name < ss->sh_size &&
                        strncmp(names + sym[j].st_name, "_DYNAMIC", ss->sh_size - sym[j].st_name) ==
                            0) {
                        uint64_t v = seg_va;
                        ov_add(&ov,
                               s.sh_offset + j * sizeof(Elf64_Sym) + offsetof(Elf64_Sym, st_value),
                               &v, sizeof v);
                    }
            }
        }
    }
    *blob = build_blob(&m, &ov, seg_off, dyn_new, dyn_bytes, strtab_off, strsz, &tab, blob_len);
    rc = 0;
    pf_strv_free(&renamed_from);
    pf_strv_free(&renamed_off);
out:
    free(dyn_new);
    free(ph_new);
    free(ov.v);
    pf_strv_free(&ov.owned);
    pf_buf_free(&tab);
    munmap(map, (size_t)st.st_size);
    if (rc != 0) {
        free(*blob);
        *blob = NULL;
    }
    return rc;
}
