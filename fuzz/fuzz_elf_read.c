/* fuzz_elf_read.c: lib/elf_read.c on arbitrary bytes: never a crash, and a
 * parsed file's model is self-consistent. */
#include <string.h>

#include "fuzz_common.h"
#include "pyfarm/elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64], err[1024];
    fuzz_memfd("elf", data, size, path, sizeof path);
    pf_elf_info info;
    memset(&info, 0, sizeof info);
    int r = pf_elf_read(path, &info, err, sizeof err);
    FUZZ_CHECK(r >= -1 && r <= 1, "r=%d", r);
    if (r == 1) {
        for (size_t i = 0; i < info.needed.n; i++)
            FUZZ_CHECK(info.needed.v[i] != NULL, "needed[%zu] NULL", i);
        if (info.max_glibc)
            FUZZ_CHECK(pf_glibc_vercmp(info.max_glibc, info.max_glibc) == 0, "vercmp");
        pf_elf_info_free(&info);
    } else {
        FUZZ_CHECK(err[0] != 0 || r == 0, "an error without a message");
    }
    return 0;
}
