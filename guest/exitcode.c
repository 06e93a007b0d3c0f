/* exitcode: exits with code=N (tests that the code comes through). */
#include "vmd.h"

int main(void)
{
	return (int)vmd_arg_u64("code", 0);
}
