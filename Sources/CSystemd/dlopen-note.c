// The binary's optional run-time dependency on libsystemd, declared as an ELF note in the freedesktop.org
// "dlopen metadata" format (https://systemd.io/ELF_DLOPEN_METADATA/, as systemd's own binaries carry it), so
// packagers and tools can see what dlopen() may load: `readelf --notes` shows it as type 0x407c0c0a, owner FDO.
#include <stdint.h>

#define CME_DLOPEN_JSON \
    "[{\"feature\":\"systemd\",\"description\":\"sd_notify (READY, STATUS, WATCHDOG), socket activation and " \
    "the journal\",\"priority\":\"recommended\",\"soname\":[\"libsystemd.so.0\"]}]"

struct cme_dlopen_note {
    uint32_t name_size;
    uint32_t desc_size;
    uint32_t type;
    char name[4];
    char desc[(sizeof(CME_DLOPEN_JSON) + 3) & ~3];
};

__attribute__((section(".note.dlopen"), used, retain, aligned(4)))
static const struct cme_dlopen_note cme_dlopen_note = {
    .name_size = 4,
    .desc_size = sizeof(CME_DLOPEN_JSON),
    .type = 0x407c0c0a,
    .name = "FDO",
    .desc = CME_DLOPEN_JSON,
};
