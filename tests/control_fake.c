/* KVM-less control backend (see control_fake.h). */
#include <stdlib.h>
#include <string.h>

#include "mm/scenario.h"
#include "tests/control_fake.h"

static struct fake *fake_of(struct control *ctl)
{
	return ctl->priv;
}

static void copy_mover(void *arg, struct migration *batch, unsigned int nr)
{
	struct pool *pool = arg;

	for (unsigned int i = 0; i < nr; i++) {
		memcpy(pool_frame(pool, batch[i].dst), pool_frame(pool, batch[i].src), FRAME_SIZE);
		batch[i].result = 0;
	}
}

static bool op_running(struct control *ctl)
{
	return fake_of(ctl)->running;
}

static void op_stop(struct control *ctl)
{
	fake_of(ctl)->running = 0;
}

static void op_cont(struct control *ctl)
{
	fake_of(ctl)->running = 1;
}

static void op_quit(struct control *ctl)
{
	fake_of(ctl)->quit = 1;
}

static void op_event(struct control *ctl, struct json_object *event)
{
	struct fake *f = fake_of(ctl);

	if (f->session.negotiated)
		qmp_send(&f->session, event);
	else
		json_object_put(event);
}

static void run_job(struct fake *f, struct compact_job *job)
{
	control_run_job(&f->ctl, job);
	if (job->session_id == f->session.id) {
		f->session.pending_replies--;
		qmp_send(&f->session, qmp_make_return(control_job_result(job), &job->id));
	}
	qmp_id_put(&job->id);
	free(job);
}

static void op_submit(struct control *ctl, struct compact_job *job)
{
	struct fake *f = fake_of(ctl);
	struct compact_job **p = &f->jobs;

	if (!f->defer_jobs) {
		run_job(f, job);
		return;
	}
	while (*p)
		p = &(*p)->next;
	job->next = NULL;
	*p = job;
}

void fake_run_jobs(struct fake *f)
{
	while (f->jobs) {
		struct compact_job *job = f->jobs;

		f->jobs = job->next;
		run_job(f, job);
	}
}

static const struct control_ops fake_ops = {
	.running = op_running,
	.stop = op_stop,
	.cont = op_cont,
	.quit = op_quit,
	.submit = op_submit,
	.event = op_event,
};

static void capture(void *arg, const char *text, size_t len)
{
	struct fake *f = arg;

	if (f->out_len + len + 1 > f->out_cap) {
		f->out_cap = (f->out_len + len + 1) * 2;
		f->out = realloc(f->out, f->out_cap);
	}
	memcpy(f->out + f->out_len, text, len);
	f->out_len += len;
	f->out[f->out_len] = '\0';
}

void fake_init(struct fake *f)
{
	fake_init_scenario(f, "random");
}

void fake_init_scenario(struct fake *f, const char *scenario)
{
	fake_init_pool(f, scenario, 8192);
}

void fake_init_pool(struct fake *f, const char *scenario, uint32_t nr_frames)
{
	struct scenario sc;

	memset(f, 0, sizeof(*f));
	pool_create(&f->pool, POOL_ANON, nr_frames, NULL);
	p2m_init(&f->p2m, &f->pool.zone, nr_frames);
	if (scenario) {
		scenario_init(&sc, &f->pool.zone, &f->p2m);
		scenario_generate(&sc, scenario, 1);
		scenario_destroy(&sc);
	}
	compactor_init(&f->compactor, &f->pool.zone, &f->p2m, copy_mover, &f->pool);
	kcompactd_init(&f->kcompactd, &f->compactor);
	f->ctl.pool = &f->pool;
	f->ctl.p2m = &f->p2m;
	f->ctl.compactor = &f->compactor;
	f->compactor.watch = control_watch;
	f->compactor.watch_arg = &f->ctl;
	f->ctl.kcompactd = &f->kcompactd;
	f->ctl.ops = &fake_ops;
	f->ctl.priv = f;
	f->running = 1;
	fake_new_session(f);
}

void fake_new_session(struct fake *f)
{
	static uint64_t ids;

	if (f->session.tok)
		qmp_session_destroy(&f->session);
	f->out_len = 0;
	qmp_session_init(&f->session, &f->ctl, ++ids, capture, f);
	qmp_send_greeting(&f->session);
}

const char *fake_talk(struct fake *f, const char *text)
{
	f->out_len = 0;
	if (f->out)
		f->out[0] = '\0';
	qmp_session_feed(&f->session, text, strlen(text));
	return f->out ? f->out : "";
}

void fake_destroy(struct fake *f)
{
	while (f->jobs) {
		struct compact_job *job = f->jobs;

		f->jobs = job->next;
		qmp_id_put(&job->id);
		free(job);
	}
	qmp_session_destroy(&f->session);
	p2m_destroy(&f->p2m);
	pool_destroy(&f->pool);
	free(f->out);
}
