/* bridge.c -- requests in, snapshots out (see bridge.h). */
#include "api/bridge.h"

#include "lib/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct jv_bridge {
	pthread_mutex_t lock;
	int efd;
	int published;
	struct jv_engine_view view;
	struct jv_bridge_requests req;
	size_t cap_cancel;
};

static void reset_requests(struct jv_bridge_requests *r)
{
	memset(r, 0, sizeof *r);
	r->pause = -1;
}

struct jv_bridge *jv_bridge_new(void)
{
	struct jv_bridge *b = jv_calloc(1, sizeof *b);
	b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->efd < 0) {
		free(b);
		return NULL;
	}
	pthread_mutex_init(&b->lock, NULL);
	reset_requests(&b->req);
	return b;
}

void jv_bridge_free(struct jv_bridge *b)
{
	if (!b)
		return;
	close(b->efd);
	free(b->req.cancel);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

int jv_bridge_fd(const struct jv_bridge *b) { return b->efd; }

static void wake(struct jv_bridge *b)
{
	uint64_t one = 1;
	ssize_t r = write(b->efd, &one, sizeof one);
	(void)r; /* a full counter still wakes the loop */
}

void jv_bridge_publish(struct jv_bridge *b, const struct jv_engine_view *v)
{
	pthread_mutex_lock(&b->lock);
	b->view = *v;
	b->published = 1;
	pthread_mutex_unlock(&b->lock);
}

void jv_bridge_take(struct jv_bridge *b, struct jv_bridge_requests *out)
{
	uint64_t v;
	ssize_t r = read(b->efd, &v, sizeof v);
	(void)r;
	pthread_mutex_lock(&b->lock);
	*out = b->req;
	reset_requests(&b->req);
	b->cap_cancel = 0;
	pthread_mutex_unlock(&b->lock);
}

int jv_bridge_view(struct jv_bridge *b, struct jv_engine_view *out)
{
	pthread_mutex_lock(&b->lock);
	int ok = b->published;
	if (ok)
		*out = b->view;
	pthread_mutex_unlock(&b->lock);
	return ok ? 0 : -1;
}

void jv_bridge_pause(struct jv_bridge *b, int paused)
{
	pthread_mutex_lock(&b->lock);
	b->req.pause = paused ? 1 : 0;
	pthread_mutex_unlock(&b->lock);
	wake(b);
}

void jv_bridge_retune(struct jv_bridge *b, int batch_size, int max_concurrent)
{
	pthread_mutex_lock(&b->lock);
	if (batch_size > 0)
		b->req.batch_size = batch_size;
	if (max_concurrent > 0)
		b->req.max_concurrent = max_concurrent;
	pthread_mutex_unlock(&b->lock);
	wake(b);
}

void jv_bridge_trigger(struct jv_bridge *b)
{
	pthread_mutex_lock(&b->lock);
	b->req.trigger = 1;
	pthread_mutex_unlock(&b->lock);
	wake(b);
}

void jv_bridge_cancel(struct jv_bridge *b, int64_t job_id)
{
	pthread_mutex_lock(&b->lock);
	if (b->req.n_cancel == b->cap_cancel) {
		b->cap_cancel = b->cap_cancel ? 2 * b->cap_cancel : 8;
		b->req.cancel = jv_realloc(b->req.cancel, b->cap_cancel * sizeof *b->req.cancel);
	}
	b->req.cancel[b->req.n_cancel++] = job_id;
	pthread_mutex_unlock(&b->lock);
	wake(b);
}
