/* balloon: writes every page after the image, then discards mb=SIZE of
 * it (free page reporting), so the host can see its memory come back. */
#include "vmd.h"

VMD_GUEST_PURPOSE("writes its memory, then discards mb=SIZE of it (free page reporting)");

int main(void)
{
	uint64_t start = vmd_heap_end(), end = vmd_info.mem_bytes;
	uint64_t bytes = vmd_arg_mib("mb", 0) << 20;

	for (uint64_t a = start; a < end; a += VMD_PAGE_SIZE)
		*(volatile uint64_t *)(uintptr_t)a = a;
	if (bytes > end - start)
		bytes = end - start;
	if (bytes)
		VMD_ASSERT(vmd_discard(start, bytes) == VMD_OK);
	vmd_printf("balloon: wrote %lu MiB, discarded %lu MiB\n", (end - start) >> 20, bytes >> 20);
	return 0;
}
