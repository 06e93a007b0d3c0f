/* Ending a worker thread: every long-lived thread here (kcompactd, the
 * huge reserve's, back-huge's copier, the control socket's compaction
 * worker) waits on a condition for work or for a stop flag. */
#ifndef LIB_THREAD_H
#define LIB_THREAD_H

#include <pthread.h>
#include <stdbool.h>

/* Sets *stop under lock, wakes the thread (and anyone else waiting on
 * cond: they re-check) and waits for it to end. */
static inline void thread_stop(pthread_t thread, pthread_mutex_t *lock, pthread_cond_t *cond,
			       bool *stop)
{
	pthread_mutex_lock(lock);
	*stop = true;
	pthread_cond_broadcast(cond);
	pthread_mutex_unlock(lock);
	pthread_join(thread, NULL);
}

#endif
