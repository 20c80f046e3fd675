/* elf_patch.c: turn an edit of a binary's dynamic section (DT_RPATH,
 * DT_NEEDED, DT_SONAME) into a patch: extents over the untouched source.
 *
 * Technique (docs/decisions/004-elf-patch-appended-segment.md): every
 * existing byte stays where it is. One PT_LOAD appended after the end of the
 * file holds a new .dynstr (the old table copied, then the new strings, so
 * every old string offset stays valid), and the new .dynamic when the edited
 * array does not fit where the old one is. It needs one more program header,
 * and no existing one is given up (notes keep covering the build id):
 *  - when filler that nothing uses follows the program header table inside
 *    the segment that maps it, the table grows in place;
 *  - otherwise the whole table moves to the start of the appended segment,
 *    with PT_PHDR and e_phoff following, placed so that kernels before 5.18
 *    (AT_PHDR = first PT_LOAD's address - offset + e_phoff) and after (the
 *    PT_LOAD holding e_phoff) both find it (place_segment).
 * PT_DYNAMIC, the section headers of .dynamic and .dynstr (and their section
 * symbols), _DYNAMIC, DT_VERNEED file names (glibc matches version needs by
 * the needed name) and DT_VERDEF's base name follow, so that the file stays
 * consistent for eu-elflint. A PT_LOAD left with no writable section once
 * .dynamic has moved out is made read-only.
 *
 * Every edit of source bytes is an overlay; the overlays must be sorted,
 * disjoint and inside the source, else the edit is refused (a crafted file
 * whose headers overlap cannot produce a shifted patch). A name needed twice
 * is renamed once and the repeat dropped. Every read of the file is
 * bounds-checked and copied out (no unaligned access): this runs on
 * arbitrary files. */
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

#define PH_SIZE sizeof(Elf64_Phdr)
/* A program's read-only new segment goes above elflint's relocation reach
 * (see reloc_reach) only while that costs at most this much more padding. */
#define REACH_PAD_MAX (64u * 1024u)
/* A non-PIE executable's new segment goes below its image only if this
 * much address space stays free under it (mmap_min_addr is 64 KiB). */
#define BELOW_MIN (1u << 20)
/* Padding between the source's end and the new segment is made of copies of
 * the source (pad()), at most one source length each: a real file's padding
 * (a program's uninitialised data, an alignment) is a few of them; a crafted
 * header asking for gigabytes over a tiny file is refused, not built. */
#define PAD_COPIES_MAX 4096u
/* Repeated DT_NEEDED are found pairwise: more entries are refused. */
#define MAX_NEEDED 4096
/* Addresses beyond this are refused: no rounding below can overflow. */
#define ADDR_MAX (1ull << 56)

typedef struct img {
    const uint8_t *p;
    uint64_t size;
    Elf64_Ehdr eh;
    Elf64_Phdr *ph; /* aligned copies */
    unsigned phnum;
    Elf64_Shdr *sh; /* NULL when the file has no usable section headers */
    unsigned shnum;
    const char *path;
    char *err;
    size_t errlen;
} img;

static int fail(const img *m, const char *why) {
    pf_seterr(m->err, m->errlen, "%s: %s", m->path, why);
    return -1;
}

static int in_file(const img *m, uint64_t off, uint64_t len) {
    return off <= m->size && len <= m->size - off;
}

static int get(const img *m, uint64_t off, void *dst, size_t len) {
    if (!in_file(m, off, len))
        return 0;
    memcpy(dst, m->p + off, len);
    return 1;
}

static uint64_t round_up(uint64_t v, uint64_t a) {
    return (v + a - 1) / a * a;
}

/* File offset of a virtual address inside a PT_LOAD's file bytes. */
static int vaddr_off(const img *m, uint64_t va, uint64_t len, uint64_t *off) {
    for (unsigned i = 0; i < m->phnum; i++) {
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

/* ---- overlays: replacements of source bytes ---- */

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

static void ov_free(overlays *o) {
    free(o->v);
    pf_strv_free(&o->owned);
}

static int cmp_overlay(const void *a, const void *b) {
    const pf_overlay *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Sorted, disjoint, inside the source: else the file's headers overlap each
 * other (crafted or corrupt) and composing the patch would shift bytes. */
static int ov_check(const img *m, overlays *o) {
    qsort(o->v, o->n, sizeof *o->v, cmp_overlay);
    for (size_t i = 0; i < o->n; i++) {
        const pf_overlay *v = &o->v[i];
        if (!v->len || !in_file(m, v->off, v->len)) {
            pf_seterr(m->err, m->errlen,
                      "%s: refused: an edit at offset %llu (%llu bytes) lies outside the file",
                      m->path, (unsigned long long)v->off, (unsigned long long)v->len);
            return -1;
        }
        if (i && o->v[i - 1].off + o->v[i - 1].len > v->off) {
            pf_seterr(m->err, m->errlen,
                      "%s: refused: edits at offsets %llu and %llu overlap (headers or "
                      "version records share bytes: a crafted or corrupt file)",
                      m->path, (unsigned long long)o->v[i - 1].off, (unsigned long long)v->off);
            return -1;
        }
    }
    return 0;
}

/* ---- reading the source ---- */

static int load_headers(img *m) {
    if (m->size < sizeof(Elf64_Ehdr) || memcmp(m->p, ELFMAG, SELFMAG) != 0)
        return fail(m, "not an ELF file");
    if (m->p[EI_CLASS] != ELFCLASS64 || m->p[EI_DATA] != ELFDATA2LSB)
        return fail(m, "only 64-bit little-endian ELF files can be patched");
    memcpy(&m->eh, m->p, sizeof m->eh);
    const Elf64_Ehdr *eh = &m->eh;
    if (eh->e_phentsize != PH_SIZE || eh->e_phnum == 0 || eh->e_phnum >= PN_XNUM ||
        eh->e_phoff < sizeof(Elf64_Ehdr) ||
        !in_file(m, eh->e_phoff, (uint64_t)eh->e_phnum * PH_SIZE))
        return fail(m, "corrupt program header table");
    m->phnum = eh->e_phnum;
    m->ph = pf_xmalloc(m->phnum * PH_SIZE);
    memcpy(m->ph, m->p + eh->e_phoff, m->phnum * PH_SIZE);
    for (unsigned i = 0; i < m->phnum; i++)
        if (m->ph[i].p_type == PT_LOAD &&
            (m->ph[i].p_vaddr >= ADDR_MAX || m->ph[i].p_memsz >= ADDR_MAX ||
             m->ph[i].p_filesz > m->ph[i].p_memsz))
            return fail(m, "corrupt PT_LOAD");
    /* section headers are optional (the loader never reads them), but a
     * table named and not inside the file would, once bytes are appended,
     * read as whatever the patch put there: refused, like extended
     * numbering (e_shnum 0 with a table), which no linked object needs */
    if (eh->e_shoff && (!eh->e_shnum || eh->e_shentsize != sizeof(Elf64_Shdr) ||
                        !in_file(m, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr))))
        return fail(m, "section header table not inside the file");
    if (eh->e_shoff) {
        m->shnum = eh->e_shnum;
        m->sh = pf_xmalloc(m->shnum * sizeof(Elf64_Shdr));
        memcpy(m->sh, m->p + eh->e_shoff, m->shnum * sizeof(Elf64_Shdr));
    }
    return 0;
}

/* The dynamic section as the loader sees it. */
typedef struct dynsec {
    int ph_i; /* PT_DYNAMIC's index */
    Elf64_Dyn *d;
    size_t n; /* entries before DT_NULL */
    uint64_t strtab_va, strsz, strtab_off;
    uint64_t verneed_va, verneednum, verdef_va, verdefnum;
    const char *strtab;
    const char *rpath, *runpath, *soname;
    size_t n_needed;
} dynsec;

static const char *dstr(const dynsec *ds, uint64_t off) {
    return off < ds->strsz ? ds->strtab + off : NULL;
}

static void scan_dyn(dynsec *ds) {
    for (size_t i = 0; i < ds->n; i++) {
        const Elf64_Dyn *d = &ds->d[i];
        switch (d->d_tag) {
        case DT_STRTAB:
            ds->strtab_va = d->d_un.d_ptr;
            break;
        case DT_STRSZ:
            ds->strsz = d->d_un.d_val;
            break;
        case DT_VERNEED:
            ds->verneed_va = d->d_un.d_ptr;
            break;
        case DT_VERNEEDNUM:
            ds->verneednum = d->d_un.d_val;
            break;
        case DT_VERDEF:
            ds->verdef_va = d->d_un.d_ptr;
            break;
        case DT_VERDEFNUM:
            ds->verdefnum = d->d_un.d_val;
            break;
        default:
            break;
        }
    }
}

static int read_dynamic(const img *m, dynsec *ds) {
    ds->ph_i = -1;
    for (unsigned i = 0; i < m->phnum && ds->ph_i < 0; i++)
        if (m->ph[i].p_type == PT_DYNAMIC)
            ds->ph_i = (int)i;
    if (ds->ph_i < 0)
        return fail(m, "no dynamic section (a static executable) to patch");
    const Elf64_Phdr *pd = &m->ph[ds->ph_i];
    if (!in_file(m, pd->p_offset, pd->p_filesz))
        return fail(m, "corrupt PT_DYNAMIC");
    size_t max = pd->p_filesz / sizeof(Elf64_Dyn);
    ds->d = pf_xcalloc(max ? max : 1, sizeof *ds->d);
    memcpy(ds->d, m->p + pd->p_offset, max * sizeof *ds->d);
    while (ds->n < max && ds->d[ds->n].d_tag != DT_NULL)
        ds->n++;
    scan_dyn(ds);
    if (!ds->strtab_va || !ds->strsz || !vaddr_off(m, ds->strtab_va, ds->strsz, &ds->strtab_off))
        return fail(m, "corrupt DT_STRTAB");
    ds->strtab = (const char *)m->p + ds->strtab_off;
    if (ds->strtab[ds->strsz - 1] != 0)
        return fail(m, "string table not terminated");
    for (size_t i = 0; i < ds->n; i++) {
        const char *s = dstr(ds, ds->d[i].d_un.d_val);
        if (ds->d[i].d_tag == DT_RPATH)
            ds->rpath = s;
        else if (ds->d[i].d_tag == DT_RUNPATH)
            ds->runpath = s;
        else if (ds->d[i].d_tag == DT_SONAME)
            ds->soname = s;
        else if (ds->d[i].d_tag == DT_NEEDED)
            ds->n_needed++;
    }
    /* repeats are found pairwise: keep that quadratic work small */
    if (ds->n_needed > MAX_NEEDED)
        return fail(m, "more than 4096 DT_NEEDED entries");
    return 0;
}

/* The dynamic loader itself (or a static PIE): started as a program, no
 * interpreter, needs no library. */
static int loads_nothing(const img *m, const dynsec *ds) {
    for (unsigned i = 0; i < m->phnum; i++)
        if (m->ph[i].p_type == PT_INTERP)
            return 0;
    return m->eh.e_type == ET_DYN && m->eh.e_entry != 0 && ds->n_needed == 0;
}

/* ---- the new dynamic array and string table ---- */

static const char *rename_of(const pf_elf_edit *e, const char *name) {
    for (size_t i = 0; i < e->n_renames; i++)
        if (strcmp(e->needed_from[i], name) == 0)
            return strcmp(e->needed_to[i], name) != 0 ? e->needed_to[i] : NULL;
    return NULL;
}

typedef struct newdyn {
    pf_buf tab; /* the whole new string table: the old one, then ours */
    Elf64_Dyn *d;
    size_t n;            /* entries before the DT_NULL terminator */
    size_t cap;          /* entries, DT_NULL padding included */
    uint64_t soname_off; /* 0 when the SONAME does not change */
    pf_strv ren_from;    /* distinct renamed names... */
    uint64_t *ren_off;   /* ...and the offset of each new name in tab */
} newdyn;

static void newdyn_free(newdyn *nd) {
    pf_buf_free(&nd->tab);
    free(nd->d);
    pf_strv_free(&nd->ren_from);
    free(nd->ren_off);
}

static uint64_t str_add(pf_buf *tab, const char *s) {
    uint64_t off = tab->n;
    pf_buf_put(tab, s, strlen(s) + 1);
    return off;
}

/* The new name's offset for a renamed DT_NEEDED: one string per distinct
 * name, so a name needed twice is renamed once, consistently. */
static uint64_t rename_off(newdyn *nd, const char *from, const char *to) {
    for (size_t i = 0; i < nd->ren_from.n; i++)
        if (strcmp(nd->ren_from.v[i], from) == 0)
            return nd->ren_off[i];
    nd->ren_off = pf_xrealloc(nd->ren_off, (nd->ren_from.n + 1) * sizeof *nd->ren_off);
    nd->ren_off[nd->ren_from.n] = str_add(&nd->tab, to);
    pf_strv_push(&nd->ren_from, from);
    return nd->ren_off[nd->ren_from.n - 1];
}

static const char *renamed_as(const newdyn *nd, const char *from, uint64_t *off) {
    for (size_t i = 0; i < nd->ren_from.n; i++)
        if (strcmp(nd->ren_from.v[i], from) == 0) {
            *off = nd->ren_off[i];
            return (const char *)nd->tab.p + nd->ren_off[i];
        }
    return NULL;
}

/* 1 when this DT_NEEDED's final name was already needed earlier: the loader
 * loads a name once, so the repeat is dropped. */
static int needed_repeat(const newdyn *nd, size_t k, uint64_t off) {
    const char *s = (const char *)nd->tab.p + off;
    for (size_t i = 0; i < k; i++)
        if (nd->d[i].d_tag == DT_NEEDED && nd->d[i].d_un.d_val < nd->tab.n &&
            strcmp((const char *)nd->tab.p + nd->d[i].d_un.d_val, s) == 0)
            return 1;
    return 0;
}

/* Builds the new dynamic array (DT_STRTAB still to be set) and string table.
 * Returns 1 when something changes, 0 when not, -1 on a bad edit. */
static int plan_dynamic(const img *m, const dynsec *ds, const pf_elf_edit *e, newdyn *nd) {
    if (e->set_rpath && !e->rpath)
        return fail(m, "bad edit: no rpath given");
    if (e->n_renames && (!e->needed_from || !e->needed_to))
        return fail(m, "bad edit: rename lists missing");
    for (size_t i = 0; i < e->n_renames; i++)
        if (!e->needed_from[i] || !e->needed_to[i] || !*e->needed_to[i])
            return fail(m, "bad edit: empty rename");
    int rpath_change =
        e->set_rpath && (ds->runpath || (*e->rpath ? !ds->rpath || strcmp(ds->rpath, e->rpath)
                                                   : ds->rpath != NULL));
    int soname_change = e->soname && *e->soname && ds->soname && strcmp(ds->soname, e->soname);
    int renames = 0;
    for (size_t i = 0; i < ds->n; i++) {
        const char *s = dstr(ds, ds->d[i].d_un.d_val);
        if (ds->d[i].d_tag == DT_NEEDED && s && rename_of(e, s))
            renames++;
    }
    if (!rpath_change && !soname_change && !renames)
        return 0;
    if (soname_change && strncmp(ds->soname, "libc.so.", 8) == 0)
        return fail(m, "refused: libc keeps its SONAME (glibc's loader finds libc by it)");
    if (loads_nothing(m, ds) && ((rpath_change && *e->rpath) || soname_change))
        return fail(m, "refused: the dynamic loader (or a static PIE) keeps its SONAME and gets "
                       "no search path (glibc's loader finds itself by that name, and asserts "
                       "that it has no RPATH)");
    pf_buf_put(&nd->tab, ds->strtab, ds->strsz);
    uint64_t rpath_off = e->set_rpath && *e->rpath ? str_add(&nd->tab, e->rpath) : 0;
    nd->soname_off = soname_change ? str_add(&nd->tab, e->soname) : 0;
    nd->cap = ds->n + 8; /* a DT_RPATH, the terminator and spare slots */
    nd->d = pf_xcalloc(nd->cap, sizeof *nd->d);
    size_t k = 0;
    for (size_t i = 0; i < ds->n; i++) {
        Elf64_Dyn d = ds->d[i];
        const char *s = dstr(ds, d.d_un.d_val);
        if ((d.d_tag == DT_RPATH || d.d_tag == DT_RUNPATH) && e->set_rpath)
            continue; /* replaced below */
        if (d.d_tag == DT_SONAME && soname_change)
            d.d_un.d_val = nd->soname_off;
        if (d.d_tag == DT_NEEDED && s && rename_of(e, s))
            d.d_un.d_val = rename_off(nd, s, rename_of(e, s));
        if (d.d_tag == DT_NEEDED && d.d_un.d_val < nd->tab.n && needed_repeat(nd, k, d.d_un.d_val))
            continue;
        nd->d[k++] = d;
    }
    if (e->set_rpath && *e->rpath)
        nd->d[k++] = (Elf64_Dyn){.d_tag = DT_RPATH, .d_un.d_val = rpath_off};
    for (size_t i = 0; i < k; i++)
        if (nd->d[i].d_tag == DT_STRSZ)
            nd->d[i].d_un.d_val = nd->tab.n;
    nd->n = k;
    return 1;
}

/* ---- where the new bytes go ---- */

typedef struct layout {
    uint64_t align;
    int in_place;  /* the table grows into slack at its old offset */
    int dyn_stays; /* the new dynamic array fits where the old one is */
    int below;     /* the new segment lies below the first PT_LOAD (ET_EXEC) */
    unsigned phn;  /* program headers after the patch */
    uint64_t ph_off, ph_va;
    uint64_t seg_off, seg_va, seg_len;
    uint64_t dyn_off, dyn_va, dyn_bytes;
    uint64_t tab_off, tab_va;
} layout;

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
    return alen && blen && a < b + blen && b < a + alen;
}

/* The PT_LOAD whose file bytes hold [off, off+len), or -1. */
static int load_holding(const img *m, uint64_t off, uint64_t len) {
    for (unsigned i = 0; i < m->phnum; i++) {
        const Elf64_Phdr *p = &m->ph[i];
        if (p->p_type == PT_LOAD && off >= p->p_offset && off - p->p_offset <= p->p_filesz &&
            len <= p->p_filesz - (off - p->p_offset))
            return (int)i;
    }
    return -1;
}

/* One more header fits after the table: one repeated filler byte, mapped with the table,
 * used by no section, no other segment and no header table. Only decided
 * with section headers present (without them, zeros may be data). */
static int slack_after_table(const img *m) {
    uint64_t at = m->eh.e_phoff + (uint64_t)m->phnum * PH_SIZE;
    if (!m->sh || !in_file(m, at, PH_SIZE))
        return 0;
    for (uint64_t i = 0; i < PH_SIZE; i++) /* zeros, or patchelf's fill ('X', 'Z') */
        if (m->p[at + i] != m->p[at])
            return 0;
    if (load_holding(m, m->eh.e_phoff, (uint64_t)(m->phnum + 1) * PH_SIZE) < 0)
        return 0;
    for (unsigned i = 0; i < m->phnum; i++)
        if (m->ph[i].p_type != PT_LOAD && m->ph[i].p_type != PT_PHDR &&
            overlaps(at, PH_SIZE, m->ph[i].p_offset, m->ph[i].p_filesz))
            return 0;
    for (unsigned i = 0; i < m->shnum; i++)
        if (m->sh[i].sh_type != SHT_NOBITS && m->sh[i].sh_type != SHT_NULL &&
            overlaps(at, PH_SIZE, m->sh[i].sh_offset, m->sh[i].sh_size))
            return 0;
    return !overlaps(at, PH_SIZE, m->eh.e_shoff, (uint64_t)m->shnum * sizeof(Elf64_Shdr));
}

/* A file the kernel may start as a program (an executable, a runnable
 * library such as libc.so.6, the dynamic loader itself): its program
 * headers must stay at the load address plus e_phoff for kernels < 5.18. */
static int may_run(const img *m, const dynsec *ds) {
    if (m->eh.e_type == ET_EXEC)
        return 1;
    for (unsigned i = 0; i < m->phnum; i++)
        if (m->ph[i].p_type == PT_INTERP)
            return 1;
    return loads_nothing(m, ds);
}

static uint64_t loads_end(const img *m) {
    uint64_t vend = 0;
    for (unsigned i = 0; i < m->phnum; i++)
        if (m->ph[i].p_type == PT_LOAD && m->ph[i].p_vaddr + m->ph[i].p_memsz > vend)
            vend = m->ph[i].p_vaddr + m->ph[i].p_memsz;
    return vend;
}

/* The highest address a relocation "touches" in eu-elflint's eyes: its
 * offset plus its symbol's size. elflint reports a relocation as modifying
 * a read-only segment when that range reaches one (a false positive for a
 * jump slot against a large function), so a read-only segment is placed
 * above it. 0 without section headers (elflint cannot look then). */
static uint64_t reloc_reach(const img *m) {
    uint64_t reach = 0;
    for (unsigned i = 0; m->sh && i < m->shnum; i++) {
        const Elf64_Shdr *r = &m->sh[i];
        int rela = r->sh_type == SHT_RELA;
        size_t esz = rela ? sizeof(Elf64_Rela) : sizeof(Elf64_Rel);
        if ((r->sh_type != SHT_RELA && r->sh_type != SHT_REL) || !(r->sh_flags & SHF_ALLOC) ||
            r->sh_entsize != esz || !in_file(m, r->sh_offset, r->sh_size) || r->sh_link >= m->shnum)
            continue;
        const Elf64_Shdr *sy = &m->sh[r->sh_link];
        uint64_t nsym =
            in_file(m, sy->sh_offset, sy->sh_size) && sy->sh_entsize == sizeof(Elf64_Sym)
                ? sy->sh_size / sizeof(Elf64_Sym)
                : 0;
        for (uint64_t j = 0; j < r->sh_size / esz; j++) {
            Elf64_Rel rel; /* r_offset and r_info lead both forms */
            memcpy(&rel, m->p + r->sh_offset + j * esz, sizeof rel);
            uint64_t k = ELF64_R_SYM(rel.r_info), size = 0;
            if (k && k < nsym)
                memcpy(&size,
                       m->p + sy->sh_offset + k * sizeof(Elf64_Sym) + offsetof(Elf64_Sym, st_size),
                       sizeof size);
            if (rel.r_offset < ADDR_MAX && size < ADDR_MAX && rel.r_offset + size > reach)
                reach = rel.r_offset + size;
        }
    }
    return reach;
}

/* The new segment's file bytes go after the end of the file. Its address:
 *  - for a non-PIE executable, below the first PT_LOAD (its addresses are
 *    fixed, and there is room under them): the new segment becomes the first
 *    PT_LOAD, so kernels before 5.18, which give AT_PHDR = first PT_LOAD's
 *    address - its offset + e_phoff, find the table at its start;
 *  - else at or above min_va. For a file that may run as a program (and for
 *    a library when that costs no padding), its address minus its offset
 *    equals the first PT_LOAD's, so that the table keeps sitting at load
 *    address plus e_phoff.
 * Returns the padding that costs. */
static uint64_t place_segment(const img *m, const dynsec *ds, uint64_t min_va, layout *L) {
    const Elf64_Phdr *first = NULL;
    for (unsigned i = 0; i < m->phnum && !first; i++)
        if (m->ph[i].p_type == PT_LOAD)
            first = &m->ph[i];
    uint64_t end = round_up(m->size, L->align), lo = round_up(min_va, L->align);
    L->seg_off = end;
    L->seg_va = lo;
    L->below = 0;
    if (L->in_place || !first)
        return 0;
    uint64_t base = first->p_vaddr / L->align * L->align, need = round_up(L->seg_len, L->align);
    if (m->eh.e_type == ET_EXEC && base >= need + BELOW_MIN) {
        L->seg_va = base - need;
        L->below = 1;
        return 0;
    }
    if (first->p_vaddr < first->p_offset || (first->p_vaddr - first->p_offset) % L->align)
        return 0;
    uint64_t delta = first->p_vaddr - first->p_offset;
    uint64_t off = lo - delta > end ? lo - delta : end;
    if (!may_run(m, ds) && off != end) /* ld.so finds it by PT_PHDR or its PT_LOAD */
        return 0;
    L->seg_off = off;
    L->seg_va = off + delta;
    return off - end;
}

/* Offsets and addresses inside the new segment, once it is placed. */
static void fill_layout(const img *m, const dynsec *ds, layout *L) {
    const Elf64_Phdr *pd = &m->ph[ds->ph_i];
    uint64_t ph_bytes = (uint64_t)L->phn * PH_SIZE;
    if (L->in_place) {
        L->ph_off = m->eh.e_phoff;
        int li = load_holding(m, L->ph_off, ph_bytes);
        L->ph_va = m->ph[li].p_vaddr + (L->ph_off - m->ph[li].p_offset);
    } else {
        L->ph_off = L->seg_off;
        L->ph_va = L->seg_va;
    }
    uint64_t at = L->in_place ? 0 : ph_bytes;
    if (L->dyn_stays) { /* only the string table goes into the new segment */
        L->dyn_off = pd->p_offset;
        L->dyn_va = pd->p_vaddr;
        L->tab_off = L->seg_off + at;
        L->tab_va = L->seg_va + at;
    } else {
        L->dyn_off = L->seg_off + at;
        L->dyn_va = L->seg_va + at;
        L->tab_off = L->dyn_off + L->dyn_bytes;
        L->tab_va = L->dyn_va + L->dyn_bytes;
    }
}

static void size_segment(const img *m, const dynsec *ds, const newdyn *nd, layout *L) {
    const Elf64_Phdr *pd = &m->ph[ds->ph_i];
    uint64_t at = L->in_place ? 0 : (uint64_t)L->phn * PH_SIZE;
    L->dyn_bytes = L->dyn_stays ? pd->p_filesz / sizeof(Elf64_Dyn) * sizeof(Elf64_Dyn)
                                : nd->cap * sizeof(Elf64_Dyn);
    L->seg_len = at + (L->dyn_stays ? 0 : L->dyn_bytes) + nd->tab.n;
}

/* Where the table, the dynamic array and the string table go. The dynamic
 * array stays where it is when it fits (the new segment is then read-only:
 * it holds no .dynamic, which ld.so writes), else it moves into the new,
 * writable, segment. */
static void plan_layout(const img *m, const dynsec *ds, const newdyn *nd, layout *L) {
    /* x86 pages are 4 KiB; elsewhere 64 KiB covers every page size */
    L->align = m->eh.e_machine == EM_X86_64 ? 4096 : 65536;
    L->phn = m->phnum + 1;
    L->in_place = slack_after_table(m);
    uint64_t vend = loads_end(m);
    const Elf64_Phdr *pd = &m->ph[ds->ph_i];
    L->dyn_stays = (nd->n + 1) * sizeof(Elf64_Dyn) <= pd->p_filesz;
    size_segment(m, ds, nd, L);
    if (L->dyn_stays) {
        uint64_t pad0 = place_segment(m, ds, vend, L), reach = L->below ? 0 : reloc_reach(m);
        if (reach >= vend && place_segment(m, ds, reach + 1, L) > pad0 + REACH_PAD_MAX)
            L->dyn_stays = 0; /* too far for a program's padding: writable, as usual */
    }
    if (!L->dyn_stays) {
        size_segment(m, ds, nd, L);
        place_segment(m, ds, vend, L);
    }
    fill_layout(m, ds, L);
}

/* ---- edits of existing structures ---- */

/* Writable: a PT_LOAD holding the old .dynamic keeps PF_W only while some
 * other writable section lies in it (section headers tell). */
static int keeps_writable(const img *m, const Elf64_Phdr *p, uint64_t old_dyn_va) {
    if (!m->sh || old_dyn_va < p->p_vaddr || old_dyn_va - p->p_vaddr >= p->p_memsz)
        return 1;
    for (unsigned i = 0; i < m->shnum; i++) {
        const Elf64_Shdr *s = &m->sh[i];
        if ((s->sh_flags & (SHF_ALLOC | SHF_WRITE)) != (SHF_ALLOC | SHF_WRITE) ||
            s->sh_type == SHT_DYNAMIC)
            continue;
        if (s->sh_addr >= p->p_vaddr && s->sh_addr - p->p_vaddr < p->p_memsz)
            return 1;
    }
    return 0;
}

/* The edited copy of one existing program header. */
static Elf64_Phdr edited_phdr(const img *m, const dynsec *ds, const layout *L, unsigned i) {
    Elf64_Phdr p = m->ph[i];
    if ((int)i == ds->ph_i && !L->dyn_stays) {
        p.p_offset = L->dyn_off;
        p.p_vaddr = p.p_paddr = L->dyn_va;
        p.p_filesz = p.p_memsz = L->dyn_bytes;
    } else if (p.p_type == PT_PHDR) {
        p.p_offset = L->ph_off;
        p.p_vaddr = p.p_paddr = L->ph_va;
        p.p_filesz = p.p_memsz = (uint64_t)L->phn * PH_SIZE;
    } else if (p.p_type == PT_LOAD && (p.p_flags & PF_W) && !L->dyn_stays &&
               !keeps_writable(m, &p, m->ph[ds->ph_i].p_vaddr)) {
        p.p_flags &= ~(Elf64_Word)PF_W;
    }
    return p;
}

/* The new table: the old headers, edited, with the new PT_LOAD before the
 * first PT_LOAD (below) or after the last, so that PT_LOADs stay in
 * ascending address order (glibc and the kernel size the mapping from the
 * first and the last). */
static Elf64_Phdr *new_phdrs(const img *m, const dynsec *ds, const layout *L) {
    Elf64_Phdr *ph = pf_xmalloc(L->phn * PH_SIZE);
    int first_load = -1, last_load = -1;
    for (unsigned i = 0; i < m->phnum; i++)
        if (m->ph[i].p_type == PT_LOAD) {
            last_load = (int)i;
            if (first_load < 0)
                first_load = (int)i;
        }
    int at = L->below ? first_load : last_load;
    Elf64_Phdr load = {.p_type = PT_LOAD,
                       /* .dynamic must be writable: ld.so relocates it */
                       .p_flags = L->dyn_stays ? PF_R : PF_R | PF_W,
                       .p_offset = L->seg_off,
                       .p_vaddr = L->seg_va,
                       .p_paddr = L->seg_va,
                       .p_filesz = L->seg_len,
                       .p_memsz = L->seg_len,
                       .p_align = L->align};
    unsigned k = 0;
    for (unsigned i = 0; i < m->phnum; i++) {
        if ((int)i == at && L->below)
            ph[k++] = load;
        ph[k++] = edited_phdr(m, ds, L, i);
        if ((int)i == at && !L->below)
            ph[k++] = load;
    }
    return ph;
}

/* Version needs name files by their DT_NEEDED string. */
static void edit_verneed(const img *m, const dynsec *ds, const newdyn *nd, overlays *ov) {
    uint64_t vo;
    if (!nd->ren_from.n || !ds->verneed_va || !ds->verneednum ||
        !vaddr_off(m, ds->verneed_va, sizeof(Elf64_Verneed), &vo))
        return;
    for (uint64_t i = 0; i < ds->verneednum && i < 65536; i++) {
        Elf64_Verneed vn;
        if (!get(m, vo, &vn, sizeof vn))
            return;
        const char *file = dstr(ds, vn.vn_file);
        uint64_t off;
        if (file && renamed_as(nd, file, &off)) {
            uint32_t nv = (uint32_t)off;
            ov_add(ov, vo + offsetof(Elf64_Verneed, vn_file), &nv, sizeof nv);
        }
        if (!vn.vn_next)
            return;
        vo += vn.vn_next;
    }
}

/* The base version definition names the SONAME. */
static void edit_verdef(const img *m, const dynsec *ds, const newdyn *nd, const char *soname,
                        overlays *ov) {
    uint64_t vo;
    Elf64_Verdef vd;
    Elf64_Verdaux va;
    if (!nd->soname_off || !ds->verdef_va || !ds->verdefnum ||
        !vaddr_off(m, ds->verdef_va, sizeof vd, &vo) || !get(m, vo, &vd, sizeof vd) ||
        !(vd.vd_flags & VER_FLG_BASE) || !get(m, vo + vd.vd_aux, &va, sizeof va))
        return;
    uint32_t h = elf_hash(soname), name = (uint32_t)nd->soname_off;
    ov_add(ov, vo + offsetof(Elf64_Verdef, vd_hash), &h, sizeof h);
    ov_add(ov, vo + vd.vd_aux + offsetof(Elf64_Verdaux, vda_name), &name, sizeof name);
}

/* Where a moved section went: old address -> new address, per index. */
typedef struct moved {
    unsigned *idx;
    uint64_t *old_va, *new_va;
    size_t n;
} moved;

static void moved_free(moved *mv) {
    free(mv->idx);
    free(mv->old_va);
    free(mv->new_va);
}

static void edit_section_headers(const img *m, const dynsec *ds, const newdyn *nd, const layout *L,
                                 overlays *ov, moved *mv) {
    mv->idx = pf_xcalloc(m->shnum, sizeof *mv->idx);
    mv->old_va = pf_xcalloc(m->shnum, sizeof *mv->old_va);
    mv->new_va = pf_xcalloc(m->shnum, sizeof *mv->new_va);
    for (unsigned i = 0; i < m->shnum; i++) {
        Elf64_Shdr s = m->sh[i];
        uint64_t old = s.sh_addr;
        if (s.sh_type == SHT_DYNAMIC && !L->dyn_stays) {
            s.sh_offset = L->dyn_off;
            s.sh_addr = L->dyn_va;
            s.sh_size = L->dyn_bytes;
        } else if (s.sh_type == SHT_STRTAB && (s.sh_flags & SHF_ALLOC) &&
                   s.sh_addr == ds->strtab_va) {
            s.sh_offset = L->tab_off;
            s.sh_addr = L->tab_va;
            s.sh_size = nd->tab.n;
        } else {
            continue;
        }
        ov_add(ov, m->eh.e_shoff + (uint64_t)i * sizeof s, &s, sizeof s);
        mv->idx[mv->n] = i;
        mv->old_va[mv->n] = old;
        mv->new_va[mv->n++] = s.sh_addr;
    }
}

/* _DYNAMIC, and section symbols of the moved sections, follow them. */
static void edit_symbols(const img *m, const layout *L, const moved *mv, unsigned symsec,
                         overlays *ov) {
    const Elf64_Shdr *s = &m->sh[symsec];
    if (s->sh_link >= m->shnum || s->sh_entsize != sizeof(Elf64_Sym) ||
        !in_file(m, s->sh_offset, s->sh_size))
        return;
    const Elf64_Shdr *names = &m->sh[s->sh_link];
    if (!names->sh_size || !in_file(m, names->sh_offset, names->sh_size))
        return;
    const char *str = (const char *)m->p + names->sh_offset;
    for (uint64_t j = 0; j < s->sh_size / sizeof(Elf64_Sym); j++) {
        Elf64_Sym sym;
        uint64_t at = s->sh_offset + j * sizeof sym;
        memcpy(&sym, m->p + at, sizeof sym);
        uint64_t v = sym.st_value, nv = v;
        if (!L->dyn_stays && sym.st_name < names->sh_size &&
            names->sh_size - sym.st_name >= sizeof "_DYNAMIC" &&
            memcmp(str + sym.st_name, "_DYNAMIC", sizeof "_DYNAMIC") == 0)
            nv = L->dyn_va;
        else if (ELF64_ST_TYPE(sym.st_info) == STT_SECTION)
            for (size_t k = 0; k < mv->n; k++)
                if (sym.st_shndx == mv->idx[k] && v == mv->old_va[k])
                    nv = mv->new_va[k];
        if (nv != v)
            ov_add(ov, at + offsetof(Elf64_Sym, st_value), &nv, sizeof nv);
    }
}

static void edit_sections(const img *m, const dynsec *ds, const newdyn *nd, const layout *L,
                          overlays *ov) {
    if (!m->sh)
        return;
    moved mv = {0};
    edit_section_headers(m, ds, nd, L, ov, &mv);
    for (unsigned i = 0; i < m->shnum; i++)
        if (m->sh[i].sh_type == SHT_SYMTAB || m->sh[i].sh_type == SHT_DYNSYM)
            edit_symbols(m, L, &mv, i, ov);
    moved_free(&mv);
}

/* ---- the output ---- */

/* Bytes between the end of the source and the new segment are never
 * mapped: copies of the source fill them (a few extents, not literal
 * zeros). */
static void pad(pf_patch_builder *b, const img *m, uint64_t len) {
    while (len) {
        uint64_t k = len < m->size ? len : m->size;
        pf_pb_copy(b, 0, k);
        len -= k;
    }
}

/* The source with the overlays, padding up to the new segment, the moved
 * program headers, the new dynamic array, the old string table as a copy
 * from the source (a large library's .dynstr is megabytes of symbol names:
 * it must not become literal bytes), then the new strings. */
static uint8_t *build_blob(const img *m, const overlays *ov, const layout *L, const Elf64_Phdr *ph,
                           const dynsec *ds, const newdyn *nd, size_t *blob_len) {
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
    pad(&b, m, L->seg_off - m->size);
    if (!L->in_place)
        pf_pb_lit(&b, ph, (uint64_t)L->phn * PH_SIZE);
    if (!L->dyn_stays)
        pf_pb_lit(&b, nd->d, L->dyn_bytes);
    pf_pb_copy(&b, ds->strtab_off, ds->strsz);
    pf_pb_lit(&b, nd->tab.p + ds->strsz, nd->tab.n - ds->strsz);
    return pf_pb_finish(&b, blob_len);
}

/* Every overlay of the source, then their check. */
static int collect_overlays(const img *m, const dynsec *ds, const newdyn *nd, const layout *L,
                            const Elf64_Phdr *ph, const char *soname, overlays *ov) {
    Elf64_Ehdr eh = m->eh;
    eh.e_phoff = L->ph_off;
    eh.e_phnum = (Elf64_Half)L->phn;
    ov_add(ov, 0, &eh, sizeof eh);
    if (L->in_place) /* else the old table stays, unchanged and unused */
        ov_add(ov, L->ph_off, ph, (uint64_t)L->phn * PH_SIZE);
    if (L->dyn_stays)
        ov_add(ov, L->dyn_off, nd->d, L->dyn_bytes);
    edit_verneed(m, ds, nd, ov);
    edit_verdef(m, ds, nd, soname, ov);
    edit_sections(m, ds, nd, L, ov);
    return ov_check(m, ov);
}

static int map_source(const char *path, img *m, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        pf_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        pf_seterr(err, errlen, "%s: not a readable regular file, or empty", path);
        close(fd);
        return -1;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        pf_seterr(err, errlen, "%s: mmap: %s", path, strerror(errno));
        return -1;
    }
    m->p = map;
    m->size = (uint64_t)st.st_size;
    return 0;
}

int pf_elf_patch(const char *path, const pf_elf_edit *edit, uint8_t **blob, size_t *blob_len,
                 uint64_t *out_size, char *err, size_t errlen) {
    *blob = NULL;
    *blob_len = 0;
    *out_size = 0;
    img m = {.path = path, .err = err, .errlen = errlen};
    if (map_source(path, &m, err, errlen) != 0)
        return -1;
    *out_size = m.size;
    dynsec ds = {0};
    newdyn nd = {0};
    overlays ov = {0};
    Elf64_Phdr *ph = NULL;
    int rc = -1;
    if (load_headers(&m) != 0 || read_dynamic(&m, &ds) != 0)
        goto out;
    int change = plan_dynamic(&m, &ds, edit, &nd);
    if (change <= 0) {
        rc = change;
        goto out;
    }
    layout L = {0};
    plan_layout(&m, &ds, &nd, &L);
    if ((L.seg_off - m.size) / m.size >= PAD_COPIES_MAX) {
        fail(&m, "the new segment would lie too far past the end of the file (memory size "
                 "out of proportion to the file)");
        goto out;
    }
    if (L.dyn_bytes / sizeof(Elf64_Dyn) > nd.cap) { /* the old array's size, DT_NULL-padded */
        size_t cap = L.dyn_bytes / sizeof(Elf64_Dyn);
        nd.d = pf_xrealloc(nd.d, cap * sizeof *nd.d);
        memset(nd.d + nd.cap, 0, (cap - nd.cap) * sizeof *nd.d);
        nd.cap = cap;
    }
    for (size_t i = 0; i < nd.cap; i++)
        if (nd.d[i].d_tag == DT_STRTAB)
            nd.d[i].d_un.d_ptr = L.tab_va;
    ph = new_phdrs(&m, &ds, &L);
    if (collect_overlays(&m, &ds, &nd, &L, ph, edit->soname, &ov) != 0)
        goto out;
    *blob = build_blob(&m, &ov, &L, ph, &ds, &nd, blob_len);
    *out_size = L.seg_off + L.seg_len;
    rc = 0;
out:
    free(ph);
    ov_free(&ov);
    newdyn_free(&nd);
    free(ds.d);
    free(m.ph);
    free(m.sh);
    munmap((void *)m.p, (size_t)m.size);
    if (rc != 0) {
        free(*blob);
        *blob = NULL;
        *blob_len = 0;
    }
    return rc;
}
