/* elf_read.c: owns pf_elf_read (what the loader needs to know about one ELF
 * file: interpreter, dynamic entries, version needs) and pf_glibc_vercmp.
 * libelf gives the ELF and program headers; the dynamic segment, its string
 * table and the version needs are decoded here from the file image through
 * the program headers, because section headers may be stripped and the
 * loader itself never looks at them. Every offset read from the file is
 * bounds-checked: this runs on arbitrary (possibly hostile) files. */
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pyfarm/elf.h"

/* The file image and what is needed to decode multi-byte fields. */
typedef struct image {
    const uint8_t *p;
    size_t size;
    int msb;  /* ELFDATA2MSB */
    int is64; /* ELFCLASS64 */
    GElf_Phdr *ph;
    size_t phnum;
} image;

static uint64_t rd(const image *im, uint64_t off, int width) {
    uint64_t v = 0;
    for (int i = 0; i < width; i++) {
        int shift = im->msb ? (width - 1 - i) * 8 : i * 8;
        v |= (uint64_t)im->p[off + (uint64_t)i] << shift;
    }
    return v;
}

/* 1 when [off, off+len) lies inside the file. */
static int in_file(const image *im, uint64_t off, uint64_t len) {
    return off <= im->size && len <= im->size - off;
}

/* File offset of a virtual address, through the PT_LOAD segments (the
 * loader maps the file this way; DT_STRTAB and DT_VERNEED are addresses).
 * Returns 0 and sets *off, or -1 when no segment holds it. */
static int vaddr_to_off(const image *im, uint64_t addr, uint64_t *off, uint64_t *avail) {
    for (size_t i = 0; i < im->phnum; i++) {
        const GElf_Phdr *ph = &im->ph[i];
        if (ph->p_type != PT_LOAD)
            continue;
        if (addr >= ph->p_vaddr && addr - ph->p_vaddr < ph->p_filesz) {
            *off = ph->p_offset + (addr - ph->p_vaddr);
            *avail = ph->p_filesz - (addr - ph->p_vaddr);
            return 0;
        }
    }
    return -1;
}

/* The dynamic entries that matter, collected in one pass. */
typedef struct dynvals {
    uint64_t strtab, strsz, verneed, verneednum, flags_1;
    int has_strtab, has_strsz, has_verneed, has_verdef;
    /* string-table offsets, in file order */
    uint64_t *needed;
    size_t n_needed;
    uint64_t soname, rpath, runpath;
    int has_soname, has_rpath, has_runpath;
} dynvals;

static int read_dynamic(const image *im, const GElf_Phdr *dyn, dynvals *dv) {
    uint64_t esz = im->is64 ? 16 : 8;
    int w = im->is64 ? 8 : 4;
    if (!in_file(im, dyn->p_offset, dyn->p_filesz))
        return -1;
    uint64_t n = dyn->p_filesz / esz;
    dv->needed = pf_xcalloc(n ? n : 1, sizeof *dv->needed);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t off = dyn->p_offset + i * esz;
        uint64_t tag = rd(im, off, w), val = rd(im, off + (uint64_t)w, w);
        if (tag == DT_NULL)
            break;
        switch (tag) {
        case DT_NEEDED:
            dv->needed[dv->n_needed++] = val;
            break;
        case DT_SONAME:
            dv->soname = val, dv->has_soname = 1;
            break;
        case DT_RPATH:
            dv->rpath = val, dv->has_rpath = 1;
            break;
        case DT_RUNPATH:
            dv->runpath = val, dv->has_runpath = 1;
            break;
        case DT_STRTAB:
            dv->strtab = val, dv->has_strtab = 1;
            break;
        case DT_STRSZ:
            dv->strsz = val, dv->has_strsz = 1;
            break;
        case DT_FLAGS_1:
            dv->flags_1 = val;
            break;
        case DT_VERNEED:
            dv->verneed = val, dv->has_verneed = 1;
            break;
        case DT_VERNEEDNUM:
            dv->verneednum = val;
            break;
        case DT_VERDEF:
            dv->has_verdef = 1;
            break;
        default:
            break;
        }
    }
    return 0;
}

/* The string table as a bounded view. */
typedef struct strtab {
    const char *p;
    uint64_t size;
} strtab;

/* A NUL-terminated string at off inside the table, or NULL. */
static const char *str_at(const strtab *st, uint64_t off) {
    if (off >= st->size)
        return NULL;
    const char *s = st->p + off;
    if (!memchr(s, '\0', st->size - off))
        return NULL;
    return s;
}

/* "GLIBC_2.34" -> "2.34" when it is a numbered glibc version, else NULL. */
static const char *glibc_version(const char *v) {
    if (strncmp(v, "GLIBC_", 6) != 0 || !isdigit((unsigned char)v[6]))
        return NULL;
    for (const char *p = v + 6; *p; p++)
        if (!isdigit((unsigned char)*p) && *p != '.')
            return NULL;
    return v + 6;
}

static void note_glibc(pf_elf_info *info, const char *ver) {
    const char *num = glibc_version(ver);
    if (num && (!info->max_glibc || pf_glibc_vercmp(num, info->max_glibc) > 0)) {
        free(info->max_glibc);
        info->max_glibc = pf_xstrdup(num);
    }
}

/* Walks the Elf_Verneed chain. Its layout is the same for both classes:
 * Verneed {u16 version, u16 cnt, u32 file, u32 aux, u32 next} and
 * Vernaux {u32 hash, u16 flags, u16 other, u32 name, u32 next}. */
static int read_verneed(const image *im, const dynvals *dv, const strtab *st, pf_elf_info *info) {
    uint64_t off, avail;
    if (vaddr_to_off(im, dv->verneed, &off, &avail) != 0 || !in_file(im, off, avail))
        return -1;
    uint64_t pos = 0;
    /* DT_VERNEEDNUM bounds the chain; without it, the chain's own end does */
    uint64_t count = dv->verneednum ? dv->verneednum : 4096;
    for (uint64_t i = 0; i < count && i < 4096; i++) {
        if (pos > avail || avail - pos < 16)
            return -1;
        uint64_t vn = off + pos;
        uint64_t cnt = rd(im, vn + 2, 2), file = rd(im, vn + 4, 4);
        uint64_t aux = rd(im, vn + 8, 4), next = rd(im, vn + 12, 4);
        const char *fname = str_at(st, file);
        if (!fname)
            return -1;
        uint64_t apos = pos + aux;
        for (uint64_t j = 0; j < cnt; j++) {
            if (apos > avail || avail - apos < 16)
                return -1;
            uint64_t va = off + apos;
            const char *vname = str_at(st, rd(im, va + 8, 4));
            if (!vname)
                return -1;
            pf_strv_push_own(&info->verneed, pf_xasprintf("%s %s", fname, vname));
            note_glibc(info, vname);
            uint64_t anext = rd(im, va + 12, 4);
            if (anext == 0)
                break;
            apos += anext;
        }
        if (next == 0)
            break;
        pos += next;
    }
    return 0;
}

static int fill_strings(const image *im, const dynvals *dv, pf_elf_info *info, const char **why) {
    strtab st = {0};
    uint64_t off, avail;
    if (!dv->has_strtab || vaddr_to_off(im, dv->strtab, &off, &avail) != 0) {
        int any = dv->n_needed || dv->has_soname || dv->has_rpath || dv->has_runpath;
        if (!any && !dv->has_verneed)
            return 0; /* nothing refers to strings */
        *why = "DT_STRTAB outside every PT_LOAD";
        return -1;
    }
    uint64_t size = dv->has_strsz ? dv->strsz : avail;
    if (size > avail)
        size = avail; /* the loader maps only what the segment holds */
    if (!in_file(im, off, size)) {
        *why = "string table beyond end of file";
        return -1;
    }
    st.p = (const char *)im->p + off;
    st.size = size;
    for (size_t i = 0; i < dv->n_needed; i++) {
        const char *s = str_at(&st, dv->needed[i]);
        if (!s) {
            *why = "DT_NEEDED outside the string table";
            return -1;
        }
        pf_strv_push(&info->needed, s);
    }
    struct {
        int has;
        uint64_t off;
        char **dst;
        const char *name;
    } one[] = {{dv->has_soname, dv->soname, &info->soname, "DT_SONAME"},
               {dv->has_rpath, dv->rpath, &info->rpath, "DT_RPATH"},
               {dv->has_runpath, dv->runpath, &info->runpath, "DT_RUNPATH"}};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        if (!one[i].has)
            continue;
        const char *s = str_at(&st, one[i].off);
        if (!s) {
            *why = "dynamic string outside the string table";
            return -1;
        }
        *one[i].dst = pf_xstrdup(s);
    }
    if (dv->has_verneed && read_verneed(im, dv, &st, info) != 0) {
        *why = "corrupt DT_VERNEED";
        return -1;
    }
    return 0;
}

/* Everything after the ELF header checks: program headers, PT_INTERP,
 * PT_DYNAMIC. */
static int parse(Elf *elf, image *im, pf_elf_info *info, const char **why) {
    GElf_Ehdr eh;
    if (!gelf_getehdr(elf, &eh)) {
        *why = "bad ELF header";
        return -1;
    }
    info->elfclass = gelf_getclass(elf);
    info->machine = eh.e_machine;
    info->osabi = eh.e_ident[EI_OSABI];
    info->type = eh.e_type;
    size_t phnum;
    if (elf_getphdrnum(elf, &phnum) != 0) {
        *why = "bad program headers";
        return -1;
    }
    im->ph = pf_xcalloc(phnum ? phnum : 1, sizeof *im->ph);
    for (size_t i = 0; i < phnum; i++)
        if (!gelf_getphdr(elf, (int)i, &im->ph[im->phnum++])) {
            *why = "bad program header";
            return -1;
        }
    const GElf_Phdr *dyn = NULL;
    for (size_t i = 0; i < im->phnum; i++) {
        const GElf_Phdr *ph = &im->ph[i];
        if (ph->p_type == PT_INTERP && !info->interp) {
            if (!in_file(im, ph->p_offset, ph->p_filesz) || ph->p_filesz == 0) {
                *why = "PT_INTERP beyond end of file";
                return -1;
            }
            info->interp = pf_xstrndup((const char *)im->p + ph->p_offset, ph->p_filesz);
        } else if (ph->p_type == PT_DYNAMIC && !dyn) {
            dyn = ph;
        }
    }
    if (!dyn)
        return 0;
    info->has_dynamic = 1;
    dynvals dv = {0};
    int r = read_dynamic(im, dyn, &dv);
    if (r != 0)
        *why = "PT_DYNAMIC beyond end of file";
    else
        r = fill_strings(im, &dv, info, why);
    info->flags_1 = dv.flags_1;
    info->has_verdef = dv.has_verdef;
    info->is_pie = eh.e_type == ET_DYN && (info->interp || (dv.flags_1 & DF_1_PIE));
    free(dv.needed);
    return r;
}

/* The magic check is done by hand first: most files pyfarm looks at are
 * not ELF, and that costs one short read. */
static int is_elf_magic(int fd, unsigned char *ident, ssize_t *got) {
    *got = pread(fd, ident, EI_NIDENT, 0);
    return *got >= SELFMAG && memcmp(ident, ELFMAG, SELFMAG) == 0;
}

int pf_elf_read(const char *path, pf_elf_info *info, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pf_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    unsigned char ident[EI_NIDENT];
    ssize_t got;
    if (!is_elf_magic(fd, ident, &got)) {
        close(fd);
        if (got < 0) {
            pf_seterr(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    const char *why = NULL;
    if (got < EI_NIDENT)
        why = "truncated ELF identification";
    else if (ident[EI_CLASS] != ELFCLASS32 && ident[EI_CLASS] != ELFCLASS64)
        why = "invalid ELF class";
    else if (ident[EI_DATA] != ELFDATA2LSB && ident[EI_DATA] != ELFDATA2MSB)
        why = "invalid ELF data encoding";
    if (why) {
        close(fd);
        pf_seterr(err, errlen, "%s: %s", path, why);
        return -1;
    }
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    pf_elf_info tmp = {0};
    image im = {0};
    int r = -1;
    if (!elf || elf_kind(elf) != ELF_K_ELF) {
        why = elf ? "not an ELF object" : elf_errmsg(-1);
    } else {
        im.p = (const uint8_t *)elf_rawfile(elf, &im.size);
        im.msb = ident[EI_DATA] == ELFDATA2MSB;
        im.is64 = ident[EI_CLASS] == ELFCLASS64;
        if (!im.p)
            why = "cannot read file image";
        else
            r = parse(elf, &im, &tmp, &why);
    }
    free(im.ph);
    if (elf)
        elf_end(elf);
    close(fd);
    if (r != 0) {
        pf_elf_info_free(&tmp);
        pf_seterr(err, errlen, "%s: %s", path, why ? why : "corrupt ELF");
        return -1;
    }
    *info = tmp;
    return 1;
}

void pf_elf_info_free(pf_elf_info *info) {
    if (!info)
        return;
    free(info->interp);
    free(info->soname);
    free(info->rpath);
    free(info->runpath);
    free(info->max_glibc);
    pf_strv_free(&info->needed);
    pf_strv_free(&info->verneed);
    memset(info, 0, sizeof *info);
}

/* Numeric, component by component; "GLIBC_" prefixes are ignored so that
 * either form compares. NULL sorts before any version. */
int pf_glibc_vercmp(const char *a, const char *b) {
    if (!a || !b)
        return (a != NULL) - (b != NULL);
    if (strncmp(a, "GLIBC_", 6) == 0)
        a += 6;
    if (strncmp(b, "GLIBC_", 6) == 0)
        b += 6;
    while (*a || *b) {
        unsigned long x = 0, y = 0;
        while (isdigit((unsigned char)*a) && x < 1000000)
            x = x * 10 + (unsigned long)(*a++ - '0');
        while (isdigit((unsigned char)*b) && y < 1000000)
            y = y * 10 + (unsigned long)(*b++ - '0');
        if (x != y)
            return x < y ? -1 : 1;
        /* skip the separator (or anything unexpected) */
        if (*a)
            a++;
        if (*b)
            b++;
    }
    return 0;
}
