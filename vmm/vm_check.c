/* The VMM's invariants, checked on a live VM (see vm_check() in vm.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mm/compaction.h"
#include "vmm/vm.h"

/* How long a check waits for a compaction run to end: its isolated frames
 * are nobody's until then. */
#define CHECK_WAIT_MS	10000

/* Huge frames come in aligned blocks of a chunk, each mapped in order at
 * a chunk's start. */
static int check_huge_blocks(const struct vm *vm, char *msg, size_t len)
{
	const struct zone *z = &vm->pool.zone;

	for (uint32_t pfn = 0; pfn < zone_nr_frames(z); pfn += GUEST_CHUNK_FRAMES) {
		uint32_t g0;

		if (!frame_test_flag(z, pfn, FRAME_HUGE))
			continue;
		g0 = p2m_owner(&vm->p2m, pfn);
		if (g0 == PFN_NONE || g0 % GUEST_CHUNK_FRAMES) {
			snprintf(msg, len, "huge block at frame %u is not mapped at a chunk's start", pfn);
			return -EUCLEAN;
		}
		for (uint32_t i = 0; i < GUEST_CHUNK_FRAMES; i++) {
			if (!frame_test_flag(z, pfn + i, FRAME_HUGE) ||
			    p2m_lookup(&vm->p2m, g0 + i) != pfn + i) {
				snprintf(msg, len, "huge block at frame %u: frame %u is not huge or not "
					 "guest frame %u's", pfn, pfn + i, g0 + i);
				return -EUCLEAN;
			}
		}
	}
	return 0;
}

/* Every used frame is a guest frame's, or held by the huge reserve; no
 * frame is left claimed by a move (FRAME_MOVING) outside a request. */
static int check_ownership(struct vm *vm, char *msg, size_t len)
{
	const struct zone *z = &vm->pool.zone;
	uint64_t used = zone_nr_frames(z) - zone_free_frames(z), owned = vm->p2m.nr_mapped;
	uint64_t held = huge_reserve_held(&vm->reserve);

	for (uint32_t pfn = 0; pfn < zone_nr_frames(z); pfn++) {
		if (!frame_is_free(z, pfn) && frame_test_flag(z, pfn, FRAME_MOVING)) {
			snprintf(msg, len, "frame %u is still claimed by a move", pfn);
			return -EUCLEAN;
		}
	}
	if (used != owned + held) {
		snprintf(msg, len, "%lu frames used, but guest frames own %lu and the huge reserve "
			 "holds %lu: %ld frames leaked", (unsigned long)used, (unsigned long)owned,
			 (unsigned long)held, (long)(used - owned - held));
		return -EUCLEAN;
	}
	return 0;
}

/* Every free frame reads zeros: the next guest to get it must not see
 * what the last one wrote. Holes of the pool file are zeros; only the
 * frames with data behind them are read. */
static int check_free_zero(const struct vm *vm, char *msg, size_t len)
{
	const struct zone *z = &vm->pool.zone;
	uint64_t page[FRAME_SIZE / 8];
	off_t data = 0, hole;

	if (vm->pool.backing != POOL_MEMFD && vm->pool.backing != POOL_FILE)
		return 0;
	while ((data = lseek(vm->pool.fd, data, SEEK_DATA)) >= 0 && (uint64_t)data < vm->pool.size) {
		hole = lseek(vm->pool.fd, data, SEEK_HOLE);
		/* a persistent pool's file goes on past the frames (its state) */
		if (hole < 0 || (uint64_t)hole > vm->pool.size)
			hole = (off_t)vm->pool.size;
		for (uint32_t pfn = (uint32_t)(data >> FRAME_SHIFT); (off_t)pfn << FRAME_SHIFT < hole; pfn++) {
			if (!frame_is_free(z, pfn))
				continue;
			if (pread(vm->pool.fd, page, FRAME_SIZE, (off_t)pfn << FRAME_SHIFT) != FRAME_SIZE)
				continue;
			for (unsigned int i = 0; i < FRAME_SIZE / 8; i++) {
				if (page[i]) {
					snprintf(msg, len, "free frame %u holds data (word %u: 0x%lx)", pfn, i,
						 (unsigned long)page[i]);
					return -EUCLEAN;
				}
			}
		}
		data = hole;
	}
	return 0;
}

static int check_all(struct vm *vm, char *msg, size_t len)
{
	uint64_t counted;
	int err;

	err = zone_check(&vm->pool.zone, msg, len);
	if (!err)
		err = p2m_check(&vm->p2m, msg, len);
	if (!err)
		err = check_ownership(vm, msg, len);
	if (!err)
		err = check_huge_blocks(vm, msg, len);
	if (!err)
		err = check_free_zero(vm, msg, len);
	if (!err)
		err = guest_mem_check_view(&vm->gm, msg, len);
	if (!err && (counted = guest_mem_count_mappings(&vm->gm)) != guest_mem_mappings(&vm->gm)) {
		snprintf(msg, len, "guest memory is %lu mappings, the count says %lu",
			 (unsigned long)counted, (unsigned long)guest_mem_mappings(&vm->gm));
		err = -EUCLEAN;
	}
	return err;
}

int vm_check(struct vm *vm, char *msg, size_t len)
{
	struct zone *z = &vm->pool.zone;
	int err;

	/* no move, request or compaction half done: each takes one of these;
	 * and the spare sides' teardown done (only back-huge hands it more),
	 * as it changes the mappings the check reads */
	pthread_mutex_lock(&vm->huge_lock);
	guest_mem_lock(&vm->gm);
	huge_reserve_flush(&vm->reserve);
	for (unsigned int waited = 0;; waited++) {
		zone_lock(z);
		if (!compaction_running(z))
			break;
		zone_unlock(z);
		if (waited == 1) {
			snprintf(msg, len, "a compaction ran for %u ms: not checked", CHECK_WAIT_MS);
			err = -EBUSY;
			goto out;
		}
		compaction_wait_idle(z, CHECK_WAIT_MS);
	}
	err = check_all(vm, msg, len);
	zone_unlock(z);
out:
	guest_mem_unlock(&vm->gm);
	pthread_mutex_unlock(&vm->huge_lock);
	if (!err)
		snprintf(msg, len, "ok");
	return err;
}
