/* Event counters with the names /proc/vmstat gives them. They live in the
 * zone and change under zone->lock. */
#ifndef MM_VMEVENTS_H
#define MM_VMEVENTS_H

enum vm_event {
	PGMIGRATE_SUCCESS,
	PGMIGRATE_FAIL,
	COMPACTMIGRATE_SCANNED,
	COMPACTFREE_SCANNED,
	COMPACTISOLATED,
	COMPACTSTALL,
	COMPACTFAIL,
	COMPACTSUCCESS,
	KCOMPACTD_WAKE,
	KCOMPACTD_MIGRATE_SCANNED,
	KCOMPACTD_FREE_SCANNED,
	NR_VM_EVENTS
};

extern const char *const vm_event_names[NR_VM_EVENTS];

#endif
