/* hello: the smallest guest. */
#include "vmd.h"

VMD_GUEST_PURPOSE("the smallest guest: prints a line and exits");

int main(void)
{
	vmd_printf("Hello from a vmdefrag guest: %lu MiB, %lu vCPU(s), running at CPL 3\n",
		   vmd_info.mem_bytes >> 20, vmd_info.nr_cpus);
	return 0;
}
