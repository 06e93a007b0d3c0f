/* Guest library: requests, console, arguments, memory basics. */
#include "vmd.h"

struct vmd_info vmd_info;

extern char vmd_stacks[];
static struct vmd_request requests[VMD_GUEST_MAX_VCPUS];
static char args[1024];
static uint64_t heap_next;

unsigned int vmd_cpu(void)
{
	char here;

	return (unsigned int)((&here - vmd_stacks) / VMD_STACK_SIZE);
}

int vmd_request(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t *out)
{
	struct vmd_request *r = &requests[vmd_cpu()];

	r->op = op;
	r->status = VMD_E_UNKNOWN;
	r->arg[0] = a0;
	r->arg[1] = a1;
	r->arg[2] = a2;
	r->arg[3] = r->arg[4] = r->arg[5] = 0;
	__asm__ volatile("outl %0, %1" : : "a"((uint32_t)(uintptr_t)r), "Nd"((uint16_t)VMD_PORT)
			 : "memory");
	if (out)
		for (int i = 0; i < 6; i++)
			out[i] = r->arg[i];
	return r->status;
}

int vmd_populate(uint64_t addr, uint64_t bytes)
{
	return vmd_request(VMD_OP_POPULATE, addr, bytes, 0, NULL);
}

int vmd_discard(uint64_t addr, uint64_t bytes)
{
	return vmd_request(VMD_OP_DISCARD, addr, bytes, 0, NULL);
}

int vmd_pin(uint64_t addr, uint64_t bytes)
{
	return vmd_request(VMD_OP_PIN, addr, bytes, 0, NULL);
}

int vmd_unpin(uint64_t addr, uint64_t bytes)
{
	return vmd_request(VMD_OP_UNPIN, addr, bytes, 0, NULL);
}

int vmd_mem_batch(uint32_t op, const struct vmd_range *ranges, uint64_t count, uint64_t *bad)
{
	uint64_t out[6];
	int status = vmd_request(VMD_OP_MEM_BATCH, op, (uint64_t)(uintptr_t)ranges, count, out);

	if (bad)
		*bad = out[3];
	return status;
}

int vmd_back_huge(uint64_t addr, uint64_t *huge, uint64_t *stall_ns)
{
	uint64_t out[6];
	int status = vmd_request(VMD_OP_BACK_HUGE, addr, 0, 0, out);

	if (huge)
		*huge = out[1];
	if (stall_ns)
		*stall_ns = out[2];
	return status;
}

int vmd_plug_huge(unsigned int order, uint64_t *addr, uint64_t *huge, uint64_t *stall_ns)
{
	uint64_t out[6];
	int status = vmd_request(VMD_OP_PLUG_HUGE, order, 0, 0, out);

	if (addr)
		*addr = out[1];
	if (stall_ns)
		*stall_ns = out[2];
	if (huge)
		*huge = out[3];
	return status;
}

void vmd_report(const char *key, uint64_t value)
{
	vmd_request(VMD_OP_REPORT, (uint64_t)(uintptr_t)key, value, 0, NULL);
}

void vmd_exit(int code)
{
	vmd_request(VMD_OP_EXIT, (uint64_t)code, 0, 0, NULL);
	for (;;)
		__asm__ volatile("ud2");
}

void vmd_vcpu_done(void)
{
	vmd_request(VMD_OP_VCPU_DONE, 0, 0, 0, NULL);
	for (;;)
		__asm__ volatile("ud2");
}

void vmd_assert_fail(const char *expr, const char *file, int line)
{
	vmd_request(VMD_OP_ASSERT, (uint64_t)(uintptr_t)expr, (uint64_t)(uintptr_t)file,
		    (uint64_t)line, NULL);
	for (;;)
		__asm__ volatile("ud2");
}

__attribute__((weak)) void vmd_secondary(unsigned int cpu)
{
	(void)cpu;
}

void vmd_start(unsigned int cpu, unsigned int nr_cpus);

void vmd_start(unsigned int cpu, unsigned int nr_cpus)
{
	(void)nr_cpus;
	if (cpu) {
		vmd_secondary(cpu);
		vmd_vcpu_done();
	}
	{
		uint64_t out[6];

		vmd_request(VMD_OP_INFO, 0, 0, 0, out);
		vmd_info.mem_bytes = out[0];
		vmd_info.tsc_khz = out[1];
		/* the ones past the library's stacks stopped in _start */
		vmd_info.nr_cpus = out[2] < VMD_GUEST_MAX_VCPUS ? out[2] : VMD_GUEST_MAX_VCPUS;
		vmd_info.heap_start = out[3];
		vmd_info.host_frame = out[4];
		vmd_info.plug_bytes = out[5];
		heap_next = vmd_info.heap_start;
		vmd_request(VMD_OP_GET_ARGS, (uint64_t)(uintptr_t)args, sizeof(args), 0, NULL);
	}
	vmd_exit(main());
}

void *vmd_alloc(uint64_t bytes)
{
	void *p = (void *)(uintptr_t)heap_next;

	heap_next += (bytes + 4095) & ~4095ULL;
	VMD_ASSERT(heap_next <= vmd_info.mem_bytes);
	return p;
}

uint64_t vmd_heap_end(void)
{
	return (heap_next + 0x1fffff) & ~0x1fffffULL;
}

/* ---- arguments ---- */

const char *vmd_arg(const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = args; *p;) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=')
			return p + klen + 1;
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

/* key's value, 0 when absent: a number with an optional K, M or G (*shift
 * set to 10, 20 or 30, *out not shifted); any other value ends the guest
 * with exit code 2, as a bad option: a run must not go on with a value
 * nobody asked for. */
static int arg_number(const char *key, uint64_t *out, unsigned int *shift)
{
	const char *v = vmd_arg(key), *p = v;
	uint64_t n = 0;
	int ok;

	if (!v)
		return 0;
	ok = *p >= '0' && *p <= '9';

	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10)
			ok = 0;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*shift = 0;
	switch (*p) {
	case 'K': case 'k': *shift = 10; p++; break;
	case 'M': case 'm': *shift = 20; p++; break;
	case 'G': case 'g': *shift = 30; p++; break;
	}
	if (!ok || (*p && *p != ' ') || n > UINT64_MAX >> *shift) {
		char text[48];
		size_t len = 0;

		while (v[len] && v[len] != ' ' && len < sizeof(text) - 1) {
			text[len] = v[len];
			len++;
		}
		text[len] = 0;
		vmd_printf("vmd: argument %s=%s: not a number (digits, then K, M or G)\n", key, text);
		vmd_exit(2);
	}
	*out = n;
	return 1;
}

uint64_t vmd_arg_u64(const char *key, uint64_t def)
{
	unsigned int shift;
	uint64_t n;

	return arg_number(key, &n, &shift) ? n << shift : def;
}

uint64_t vmd_arg_mib(const char *key, uint64_t def)
{
	unsigned int shift;
	uint64_t n;

	if (!arg_number(key, &n, &shift))
		return def;
	/* a bare number is MiB already; a suffix gives the unit */
	return shift ? (n << shift) >> 20 : n;
}

/* ---- console ---- */

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, uint64_t v, unsigned int base, int neg, int width, char pad)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	while (width-- > n)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
}

int vmd_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		int width = 0, longs = 0;
		char pad = ' ';

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			longs++;
			fmt++;
		}
		switch (*fmt) {
		case 'd': {
			int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);

			put_num(&o, v < 0 ? (uint64_t)-v : (uint64_t)v, 10, v < 0, width, pad);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);

			put_num(&o, v, *fmt == 'x' ? 16 : 10, 0, width, pad);
			break;
		}
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, 0, width, pad);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);

			for (int n = (int)strlen(s); n < width; n++)
				put(&o, ' ');
			while (*s)
				put(&o, *s++);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case '%':
			put(&o, '%');
			break;
		default:
			put(&o, '?');
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int vmd_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vmd_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int vmd_printf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vmd_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	vmd_request(VMD_OP_CONSOLE, (uint64_t)(uintptr_t)buf,
		    (uint64_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1), 0, NULL);
	return n;
}

void vmd_puts(const char *s)
{
	vmd_request(VMD_OP_CONSOLE, (uint64_t)(uintptr_t)s, strlen(s), 0, NULL);
}

/* ---- basics ---- */

void vmd_sort_u64(uint64_t *v, uint64_t n)
{
	for (uint64_t gap = n / 2; gap; gap /= 2)
		for (uint64_t i = gap; i < n; i++)
			for (uint64_t j = i; j >= gap && v[j - gap] > v[j]; j -= gap) {
				uint64_t t = v[j];

				v[j] = v[j - gap];
				v[j - gap] = t;
			}
}

void *memset(void *s, int c, size_t n)
{
	unsigned char *p = s;

	while (n--)
		*p++ = (unsigned char)c;
	return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			return 0;
	}
	return 0;
}
