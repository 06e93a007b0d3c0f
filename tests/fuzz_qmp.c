/* Fuzz target for the control socket's request parser and dispatcher:
 * any bytes from a client go through a QMP session over a real pool and
 * compactor (no KVM). libFuzzer entry point; tests/fuzz_driver.c runs it
 * without libFuzzer for the smoke run in make check. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tests/control_fake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake f;
	static int ready;
	size_t half = size / 2;

	if (!ready) {
		fake_init(&f);
		ready = 1;
	}
	fake_new_session(&f);
	/* half the time the session is already negotiated */
	if (size && data[0] & 1)
		qmp_session_feed(&f.session, "{\"execute\":\"qmp_capabilities\"}", 30);
	/* in two pieces, as a socket may deliver it */
	qmp_session_feed(&f.session, (const char *)data, half);
	qmp_session_feed(&f.session, (const char *)data + half, size - half);
	return 0;
}
