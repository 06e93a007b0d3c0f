/* reqfuzz: every vCPU sends random requests - valid and invalid, every op
 * - for seconds=N (default 10), seeded (seed=S), while the host does what
 * it likes (the test compacts through the socket).
 *
 * Each vCPU owns a region and keeps a model of it (populated, pins, the
 * version of the data in each page): every request there must get the
 * status the model predicts, a page must read zeros after a populate, and
 * every page must hold what was last written. A shared region takes
 * requests from all vCPUs at once with no model (any documented status
 * goes, and nobody touches it); plugged regions belong to whoever plugged
 * them. Reports requests, status mismatches and bad pages; exits 0 when
 * there were none. */
#include "memtest.h"
#include "vmd.h"

VMD_GUEST_PURPOSE("every vCPU sends random requests, valid and invalid, for seconds=N");

#define OWN_PAGES	2048			/* 8 MiB per vCPU */
#define MAX_PLUGS	16

struct page {
	uint16_t version;	/* 0: zeros since the last populate */
	uint8_t populated;
	uint8_t pins;
};

struct cpu {
	uint64_t seed, base;
	struct page pages[OWN_PAGES];
	uint64_t plugs[MAX_PLUGS], plug_bytes[MAX_PLUGS];
	unsigned int nr_plugs;
	struct vmd_range pinned[4];	/* shared ranges this vCPU pinned, to unpin */
	uint64_t nr_pinned_pages;	/* own pages with a pin */
	uint64_t requests, mismatches, bad_pages, nonzero, huge_ok, plugged;
};

static struct cpu cpus[VMD_GUEST_MAX_VCPUS];
static uint64_t shared_base, shared_pages, deadline;
static volatile unsigned int started, done;

static uint64_t rnd(struct cpu *c, uint64_t n)
{
	return n ? vmd_rand(&c->seed) % n : 0;
}

static uint64_t page_addr(const struct cpu *c, uint64_t p)
{
	return c->base + p * VMD_PAGE_SIZE;
}

static void mismatch(struct cpu *c, const char *what, uint64_t a, int got, int want)
{
	if (c->mismatches++ < 5)
		vmd_printf("reqfuzz: vCPU %u %s at 0x%lx gave %d, the model says %d\n", vmd_cpu(), what, a,
			   got, want);
}

/* A page's data as the model has it. */
static void check_page(struct cpu *c, uint64_t p)
{
	uint64_t a = page_addr(c, p);
	const volatile uint64_t *w = (const volatile uint64_t *)(uintptr_t)a;

	if (!c->pages[p].populated)
		return;
	if (c->pages[p].version) {
		c->bad_pages += memtest_verify(a, a + VMD_PAGE_SIZE, 0, c->pages[p].version);
		return;
	}
	for (unsigned int i = 0; i < VMD_PAGE_SIZE / 8; i++) {
		if (w[i]) {
			if (c->nonzero++ < 5)
				vmd_printf("reqfuzz: vCPU %u page 0x%lx word %u is 0x%lx after populate\n",
					   vmd_cpu(), a, i, w[i]);
			return;
		}
	}
}

static void write_page(struct cpu *c, uint64_t p)
{
	if (!c->pages[p].populated)
		return;
	c->pages[p].version = (uint16_t)(c->pages[p].version % 60000 + 1);
	memtest_write(page_addr(c, p), page_addr(c, p) + VMD_PAGE_SIZE, 0, c->pages[p].version);
}

/* ---- requests on the vCPU's own region, predicted by the model ---- */

/* The status the VMM must give op on pages [p, p + n): the first page in
 * order that the op refuses decides. */
static int predict(const struct cpu *c, uint32_t op, uint64_t p, uint64_t n)
{
	for (uint64_t i = p; i < p + n; i++) {
		const struct page *pg = &c->pages[i];

		if (op == VMD_OP_DISCARD && pg->pins)
			return VMD_E_PINNED;
		if ((op == VMD_OP_PIN || op == VMD_OP_UNPIN) && !pg->populated)
			return VMD_E_NOT_POPULATED;
		if (op == VMD_OP_UNPIN && !pg->pins)
			return VMD_E_NOT_PINNED;
	}
	return VMD_OK;
}

static void apply(struct cpu *c, uint32_t op, uint64_t p, uint64_t n)
{
	for (uint64_t i = p; i < p + n; i++) {
		struct page *pg = &c->pages[i];

		if (op == VMD_OP_POPULATE && !pg->populated) {
			pg->populated = 1;
			pg->version = 0;
		} else if (op == VMD_OP_DISCARD) {
			pg->populated = 0;
		} else if (op == VMD_OP_PIN) {
			c->nr_pinned_pages += !pg->pins++;
		} else if (op == VMD_OP_UNPIN) {
			c->nr_pinned_pages -= !--pg->pins;
		}
	}
}

static uint32_t random_mem_op(struct cpu *c)
{
	static const uint32_t ops[] = { VMD_OP_POPULATE, VMD_OP_DISCARD, VMD_OP_PIN, VMD_OP_UNPIN };

	return ops[rnd(c, 4)];
}

/* After a change: fresh pages read zeros; some get new data. */
static void settle(struct cpu *c, uint64_t p, uint64_t n)
{
	for (uint64_t i = p; i < p + n; i++) {
		check_page(c, i);
		if (rnd(c, 2))
			write_page(c, i);
	}
}

static void own_range(struct cpu *c)
{
	uint32_t op = random_mem_op(c);
	uint64_t p = rnd(c, OWN_PAGES), n = 1 + rnd(c, 32), st;
	int want;

	/* pins pile up unless unpins find them: past a few, unpin one */
	if (c->nr_pinned_pages > 64 && op == VMD_OP_PIN) {
		op = VMD_OP_UNPIN;
		while (!c->pages[p].pins)
			p = (p + 1) % OWN_PAGES;
		n = 1;
	}
	if (p + n > OWN_PAGES)
		n = OWN_PAGES - p;
	want = predict(c, op, p, n);
	st = (uint64_t)(int64_t)vmd_request(op, page_addr(c, p), n * VMD_PAGE_SIZE, 0, NULL);
	/* a populate may find the pool empty: the others churn too */
	if (op == VMD_OP_POPULATE && (int)st == VMD_E_NOMEM)
		return;
	if ((int)st != want) {
		mismatch(c, "range", page_addr(c, p), (int)st, want);
		return;
	}
	if (want == VMD_OK) {
		apply(c, op, p, n);
		settle(c, p, n);
	}
}

static void own_batch(struct cpu *c)
{
	static struct vmd_range ranges[VMD_GUEST_MAX_VCPUS][4];
	struct vmd_range *r = ranges[vmd_cpu()];
	uint64_t first[4], len[4], nr = 1 + rnd(c, 4), bad = 99, want_bad = 0;
	uint32_t op = random_mem_op(c);
	int want = VMD_OK, st;

	for (uint64_t i = 0; i < nr; i++) {
		first[i] = rnd(c, OWN_PAGES - 8);
		len[i] = 1 + rnd(c, 8);
		r[i] = (struct vmd_range){ page_addr(c, first[i]), len[i] * VMD_PAGE_SIZE };
	}
	/* overlaps are refused before anything else: in order of their
	 * starts (then of naming), the first pair that overlaps; blamed, the
	 * one named later */
	{
		uint64_t order[4];

		for (uint64_t i = 0; i < nr; i++) {
			uint64_t k = i;

			for (; k > 0 && (first[order[k - 1]] > first[i] ||
					 (first[order[k - 1]] == first[i] && order[k - 1] > i)); k--)
				order[k] = order[k - 1];
			order[k] = i;
		}
		for (uint64_t k = 1; k < nr && want == VMD_OK; k++) {
			uint64_t a = order[k - 1], b = order[k];

			if (first[b] < first[a] + len[a]) {
				want = VMD_E_INVAL;
				want_bad = a > b ? a : b;
			}
		}
	}
	for (uint64_t i = 0; i < nr && want == VMD_OK; i++) {
		want = predict(c, op, first[i], len[i]);
		want_bad = i;
	}
	st = vmd_mem_batch(op, r, nr, &bad);
	if (op == VMD_OP_POPULATE && st == VMD_E_NOMEM)
		return;
	if (st != want || (want != VMD_OK && bad != want_bad)) {
		mismatch(c, "batch", r[0].addr, st, want);
		return;
	}
	if (want == VMD_OK) {
		for (uint64_t i = 0; i < nr; i++)
			apply(c, op, first[i], len[i]);
		for (uint64_t i = 0; i < nr; i++)
			settle(c, first[i], len[i]);
	}
}

static void own_back_huge(struct cpu *c)
{
	uint64_t chunk = rnd(c, OWN_PAGES / 512), p = chunk * 512, huge;
	int want = VMD_OK, st;

	for (uint64_t i = p; i < p + 512; i++)
		if (c->pages[i].pins)
			want = VMD_E_PINNED;
	st = vmd_back_huge(page_addr(c, p), &huge, NULL);
	if (want == VMD_OK && (st == VMD_E_NOMEM || st == VMD_E_FRAGMENTED))
		return;
	if (st != want) {
		mismatch(c, "back-huge", page_addr(c, p), st, want);
		return;
	}
	if (st == VMD_OK) {
		c->huge_ok++;
		apply(c, VMD_OP_POPULATE, p, 512);
		for (uint64_t i = p; i < p + 512; i++)
			check_page(c, i);
	}
}

static void own_plug(struct cpu *c)
{
	unsigned int order = 8 + (unsigned int)rnd(c, 4);
	uint64_t addr = 0;
	int st = vmd_plug_huge(order, &addr, NULL, NULL);

	if (order < 9 || order > 10) {
		if (st != VMD_E_INVAL)
			mismatch(c, "plug-huge", order, st, VMD_E_INVAL);
		return;
	}
	if (st == VMD_E_NOMEM || st == VMD_E_FRAGMENTED)
		return;
	if (st != VMD_OK || c->nr_plugs == MAX_PLUGS) {
		mismatch(c, "plug-huge", order, st, VMD_OK);
		return;
	}
	c->plugs[c->nr_plugs] = addr;
	c->plug_bytes[c->nr_plugs++] = VMD_PAGE_SIZE << order;
	c->plugged++;
	memtest_write(addr, addr + (VMD_PAGE_SIZE << order), 0, 1000 + vmd_cpu());
}

/* ---- chaos: the shared region and bad arguments ---- */

static void shared_request(struct cpu *c)
{
	static struct vmd_range ranges[VMD_GUEST_MAX_VCPUS][8];
	struct vmd_range *r = ranges[vmd_cpu()];
	uint64_t p = rnd(c, shared_pages), n = 1 + rnd(c, 64), nr = 1 + rnd(c, 8);
	uint32_t op = random_mem_op(c);

	if (p + n > shared_pages)
		n = shared_pages - p;
	switch (rnd(c, 4)) {
	case 0:
		/* pins come undone a few requests later */
		if (op == VMD_OP_PIN || op == VMD_OP_UNPIN) {
			struct vmd_range *slot = &c->pinned[rnd(c, 4)];

			if (slot->bytes)
				vmd_request(VMD_OP_UNPIN, slot->addr, slot->bytes, 0, NULL);
			*slot = (struct vmd_range){ shared_base + p * VMD_PAGE_SIZE, n * VMD_PAGE_SIZE };
			if (vmd_pin(slot->addr, slot->bytes) != VMD_OK)
				slot->bytes = 0;
			break;
		}
		vmd_request(op, shared_base + p * VMD_PAGE_SIZE, n * VMD_PAGE_SIZE, 0, NULL);
		break;
	case 1:
		vmd_discard(shared_base + p * VMD_PAGE_SIZE, n * VMD_PAGE_SIZE);
		break;
	case 2:
		for (uint64_t i = 0; i < nr; i++) {
			uint64_t q = rnd(c, shared_pages - 16);

			r[i] = (struct vmd_range){ shared_base + q * VMD_PAGE_SIZE,
						   (1 + rnd(c, 16)) * VMD_PAGE_SIZE };
		}
		/* a batch's pins stay: only populates and discards here */
		vmd_mem_batch(op == VMD_OP_PIN || op == VMD_OP_UNPIN ? VMD_OP_DISCARD : op, r, nr, NULL);
		break;
	default:
		vmd_back_huge(shared_base + rnd(c, shared_pages / 512) * VMD_HUGE_SIZE, NULL, NULL);
		break;
	}
}

/* Arguments the VMM must refuse, each with its status. */
static void bad_request(struct cpu *c)
{
	uint64_t mem = vmd_info.mem_bytes, all = mem + vmd_info.plug_bytes;
	int st;

	switch (rnd(c, 8)) {
	case 0:
		st = vmd_request((uint32_t)(100 + rnd(c, 1000)), rnd(c, ~0ULL), 0, 0, NULL);
		if (st != VMD_E_UNKNOWN)
			mismatch(c, "unknown op", 0, st, VMD_E_UNKNOWN);
		break;
	case 1:
		st = vmd_request(random_mem_op(c), c->base + 1 + rnd(c, 4095), VMD_PAGE_SIZE, 0, NULL);
		if (st != VMD_E_ALIGN)
			mismatch(c, "misaligned", 0, st, VMD_E_ALIGN);
		break;
	case 2:
		st = vmd_request(random_mem_op(c), all + rnd(c, 1ULL << 40) * VMD_PAGE_SIZE, VMD_PAGE_SIZE, 0,
				 NULL);
		if (st != VMD_E_RANGE)
			mismatch(c, "outside memory", 0, st, VMD_E_RANGE);
		break;
	case 3:
		st = vmd_request(random_mem_op(c), c->base, ~0ULL & ~(VMD_PAGE_SIZE - 1), 0, NULL);
		if (st != VMD_E_END)
			mismatch(c, "past the end", 0, st, VMD_E_END);
		break;
	case 4:
		st = vmd_mem_batch(random_mem_op(c), (void *)(uintptr_t)(all - 8), 1, NULL);
		if (st != VMD_E_END)
			mismatch(c, "batch past the end", 0, st, VMD_E_END);
		break;
	case 5:
		st = vmd_request(VMD_OP_CONSOLE, rnd(c, all), VMD_CONSOLE_MAX + 1 + rnd(c, 1000), 0, NULL);
		if (st != VMD_E_INVAL)
			mismatch(c, "console", 0, st, VMD_E_INVAL);
		break;
	case 6:
		st = vmd_back_huge(c->base + VMD_PAGE_SIZE * (1 + rnd(c, 511)), NULL, NULL);
		if (st != VMD_E_ALIGN)
			mismatch(c, "back-huge misaligned", 0, st, VMD_E_ALIGN);
		break;
	default:
		st = vmd_request(VMD_OP_EXIT, 256 + rnd(c, 1000), 0, 0, NULL);
		if (st != VMD_E_INVAL)
			mismatch(c, "exit code", 0, st, VMD_E_INVAL);
		break;
	}
}

static void run(struct cpu *c)
{
	while (vmd_rdtsc() < deadline) {
		uint64_t what = rnd(c, 100);

		if (what < 35)
			own_range(c);
		else if (what < 50)
			own_batch(c);
		else if (what < 53)
			own_back_huge(c);
		else if (what < 55)
			own_plug(c);
		else if (what < 80)
			shared_request(c);
		else
			bad_request(c);
		c->requests++;
		check_page(c, rnd(c, OWN_PAGES));
	}
	for (unsigned int i = 0; i < 4; i++)
		if (c->pinned[i].bytes)
			vmd_request(VMD_OP_UNPIN, c->pinned[i].addr, c->pinned[i].bytes, 0, NULL);
	for (uint64_t p = 0; p < OWN_PAGES; p++)
		check_page(c, p);
	for (unsigned int i = 0; i < c->nr_plugs; i++)
		c->bad_pages += memtest_verify(c->plugs[i], c->plugs[i] + c->plug_bytes[i], 0,
					       1000 + vmd_cpu());
	__atomic_add_fetch(&done, 1, __ATOMIC_SEQ_CST);
}

static void init_cpu(unsigned int id)
{
	struct cpu *c = &cpus[id];

	c->seed = vmd_arg_u64("seed", 1) * 0x9E3779B97F4A7C15ULL + id + 1;
	c->base = vmd_heap_end() + (uint64_t)id * OWN_PAGES * VMD_PAGE_SIZE;
	for (uint64_t p = 0; p < OWN_PAGES; p++) {
		c->pages[p].populated = 1;
		write_page(c, p);
	}
}

void vmd_secondary(unsigned int cpu)
{
	while (!started)
		__asm__ volatile("pause");
	init_cpu(cpu);
	run(&cpus[cpu]);
}

int main(void)
{
	unsigned int n = (unsigned int)vmd_info.nr_cpus;
	uint64_t total[6] = { 0 };

	VMD_ASSERT(n <= VMD_GUEST_MAX_VCPUS);
	shared_base = vmd_heap_end() + (uint64_t)n * OWN_PAGES * VMD_PAGE_SIZE;
	VMD_ASSERT(shared_base + 8 * VMD_HUGE_SIZE <= vmd_info.mem_bytes);
	shared_pages = (vmd_info.mem_bytes - shared_base) / VMD_PAGE_SIZE;
	deadline = vmd_rdtsc() + vmd_arg_u64("seconds", 10) * (vmd_info.tsc_khz ? vmd_info.tsc_khz : 2000000) *
		   1000;
	started = 1;
	init_cpu(0);
	run(&cpus[0]);
	while (done < n)
		__asm__ volatile("pause");
	for (unsigned int i = 0; i < n; i++) {
		total[0] += cpus[i].requests;
		total[1] += cpus[i].mismatches;
		total[2] += cpus[i].bad_pages;
		total[3] += cpus[i].nonzero;
		total[4] += cpus[i].huge_ok;
		total[5] += cpus[i].plugged;
	}
	vmd_report("reqfuzz_requests", total[0]);
	vmd_report("reqfuzz_back_huge_ok", total[4]);
	vmd_report("reqfuzz_plugged", total[5]);
	vmd_report("reqfuzz_mismatches", total[1]);
	vmd_report("reqfuzz_bad_pages", total[2]);
	vmd_report("reqfuzz_nonzero_after_populate", total[3]);
	return total[1] || total[2] || total[3] ? 1 : 0;
}
