/* assertfail: a guest assertion that fails, to show how it is reported. */
#include "vmd.h"

VMD_GUEST_PURPOSE("a guest assertion that fails, to show how it is reported");

int main(void)
{
	int two = (int)vmd_arg_u64("two", 2);

	VMD_ASSERT(two + two == 5);
	return 0;
}
