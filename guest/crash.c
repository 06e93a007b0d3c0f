/* crash: dies in the way mode= says - ud2 (an exception with no IDT: a
 * triple fault), unmapped (a read beyond guest memory), discarded (a read
 * of a page the guest gave back). */
#include "vmd.h"

VMD_GUEST_PURPOSE("dies as mode= says: ud2, unmapped or discarded");

int main(void)
{
	const char *mode = vmd_arg("mode");

	if (!mode || !strncmp(mode, "ud2", 3)) {
		__asm__ volatile("ud2");
	} else if (!strncmp(mode, "unmapped", 8)) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(vmd_info.mem_bytes + 4096);

		(void)*p;
	} else if (!strncmp(mode, "discarded", 9)) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)vmd_heap_end();

		VMD_ASSERT(vmd_discard(vmd_heap_end(), 4096) == VMD_OK);
		(void)*p;
	}
	vmd_printf("crash: still alive\n");
	return 0;
}
