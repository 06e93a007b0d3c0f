/* exitcode: exits with code=N (tests that the code comes through). */
#include "vmd.h"

VMD_GUEST_PURPOSE("exits with code=N");

int main(void)
{
	return (int)vmd_arg_u64("code", 0);
}
