// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Subscriber slots and the routes of regions to their rings. Each
 * subscriber holds a slot: its ring is rings[slot], its losses drops[slot],
 * its filter and process subs[slot]. A region's route names the slots that
 * get its records and the one slot that owns (serves) it. Everything here
 * runs under regions_lock(), so a route never misses a region or a
 * subscriber that comes at the same time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "internal.h"

static int subs_read(struct mmiotrap *mt, struct mmiotrap_sub_slot *subs)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 keys[MMIOTRAP_MAX_SUBS], count = MMIOTRAP_MAX_SUBS, out;

	if (bpf_map_lookup_batch(mt->map_fd[MAP_SUBS], NULL, &out, keys, subs, &count, &opts) &&
	    errno != ENOENT)
		return -errno;
	return count == MMIOTRAP_MAX_SUBS ? 0 : -EIO;
}

/* A copy of the routes, to change and write back the difference: under the lock, they hold still. */
static struct mmiotrap_route *routes_read(struct mmiotrap *mt)
{
	struct mmiotrap_route *routes = malloc(mt->nids * sizeof(*routes));

	if (routes)
		memcpy(routes, mt->routes, mt->nids * sizeof(*routes));
	return routes;
}

/* The routes that differ from @old, in one system call. */
static int routes_write(struct mmiotrap *mt, const struct mmiotrap_route *old,
			const struct mmiotrap_route *now)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct mmiotrap_route *vals = calloc(mt->nids, sizeof(*vals));
	__u32 *keys = calloc(mt->nids, sizeof(*keys));
	__u32 id, n = 0;
	int err = 0;

	if (!vals || !keys)
		err = -ENOMEM;
	for (id = 1; !err && id < mt->nids; id++) {
		if (!memcmp(&old[id], &now[id], sizeof(now[id])))
			continue;
		keys[n] = id;
		vals[n++] = now[id];
	}
	if (!err && n && bpf_map_update_batch(mt->map_fd[MAP_ROUTES], keys, vals, &n, &opts))
		err = -errno;
	free(vals);
	free(keys);
	return err;
}

/* A slot lives while the process that took it does: a SIGKILL frees it at the next call. */
static bool alive(const struct mmiotrap_sub_slot *s)
{
	__u64 ticks;

	return (s->flags & MMIOTRAP_SUB_LIVE) && !proc_start_ticks(s->pid, &ticks) &&
	       ticks == s->start_ticks;
}

static bool wants(const struct mmiotrap_sub_slot *s, const struct mmiotrap_region *r)
{
	return (!s->vm || s->vm == r->vm) && (!s->region || s->region == r->id);
}

int route_of(struct mmiotrap *mt, const struct mmiotrap_region *r, struct mmiotrap_route *route)
{
	struct mmiotrap_sub_slot subs[MMIOTRAP_MAX_SUBS];
	int s, err;

	memset(route, 0, sizeof(*route));
	err = subs_read(mt, subs);
	for (s = 0; !err && s < MMIOTRAP_MAX_SUBS; s++) {
		if (!(subs[s].flags & MMIOTRAP_SUB_LIVE) || !wants(&subs[s], r))
			continue;
		route->readers |= 1ULL << s;
		if ((subs[s].flags & MMIOTRAP_SUB_OWNER) && !route->owner)
			route->owner = s + 1;
	}
	return err;
}

/* Slot @s in no route, its ring and its counts out of the trap's reach. */
static int forget(struct mmiotrap *mt, struct mmiotrap_route *routes, int s)
{
	struct mmiotrap_sub_slot none = {};
	__u32 key = s, id;

	for (id = 1; id < mt->nids; id++) {
		routes[id].readers &= ~(1ULL << s);
		if (routes[id].owner == (__u32)s + 1)
			routes[id].owner = 0;
	}
	if (bpf_map_update_elem(mt->map_fd[MAP_SUBS], &key, &none, 0))
		return -errno;
	bpf_map_delete_elem(mt->map_fd[MAP_RINGS], &key);
	bpf_map_delete_elem(mt->map_fd[MAP_DROPS], &key);
	return 0;
}

/* Free the slots of subscribers whose process has gone, and their routes. */
static int reap(struct mmiotrap *mt, struct mmiotrap_sub_slot *subs, struct mmiotrap_route *routes)
{
	int s, err = 0;

	for (s = 0; !err && s < MMIOTRAP_MAX_SUBS; s++) {
		if (!(subs[s].flags & MMIOTRAP_SUB_LIVE) || alive(&subs[s]))
			continue;
		pr_debug("subscriber slot %d of pid %u: its process is gone, the slot is free\n",
			 s, subs[s].pid);
		err = forget(mt, routes, s);
		memset(&subs[s], 0, sizeof(subs[s]));
	}
	return err;
}

/* A slot taken by a process that is gone. */
static bool any_dead(const struct mmiotrap_sub_slot *subs)
{
	int s;

	for (s = 0; s < MMIOTRAP_MAX_SUBS; s++)
		if ((subs[s].flags & MMIOTRAP_SUB_LIVE) && !alive(&subs[s]))
			return true;
	return false;
}

int subs_reap(struct mmiotrap *mt)
{
	struct mmiotrap_sub_slot subs[MMIOTRAP_MAX_SUBS];
	struct mmiotrap_route *routes, *old;
	int err;

	/* The routes are read only when there is something to reclaim. */
	err = subs_read(mt, subs);
	if (err || !any_dead(subs))
		return err;
	routes = routes_read(mt);
	old = routes_read(mt);
	err = routes && old ? reap(mt, subs, routes) : -ENOMEM;
	if (!err)
		err = routes_write(mt, old, routes);
	free(routes);
	free(old);
	return err;
}

/* A region the new subscriber would own that a live one owns already. */
static int owned_by_other(struct mmiotrap *mt, const struct mmiotrap_region *tab,
			  const struct mmiotrap_route *routes,
			  const struct mmiotrap_sub_slot *subs, const struct mmiotrap_sub_slot *want)
{
	__u32 id, o;

	for (id = 1; id < mt->nids; id++) {
		o = routes[id].owner;
		if (!tab[id].len || !o || !wants(want, &tab[id]))
			continue;
		pr_warn("region %u (%s) has an owner: the subscriber of pid %u\n", id,
			*tab[id].name ? tab[id].name : "-", subs[o - 1].pid);
		return -EBUSY;
	}
	return 0;
}

static int take(struct mmiotrap *mt, int s, const struct mmiotrap_sub_slot *want,
		int ring_fd, int drops_fd)
{
	__u32 key = s;

	if (bpf_map_update_elem(mt->map_fd[MAP_RINGS], &key, &ring_fd, 0) ||
	    bpf_map_update_elem(mt->map_fd[MAP_DROPS], &key, &drops_fd, 0) ||
	    bpf_map_update_elem(mt->map_fd[MAP_SUBS], &key, want, 0))
		return -errno;
	return 0;
}

int sub_slot_claim(struct mmiotrap *mt, struct mmiotrap_sub_slot *want, int ring_fd, int drops_fd)
{
	struct mmiotrap_sub_slot subs[MMIOTRAP_MAX_SUBS];
	struct mmiotrap_route *routes = NULL, *old = NULL;
	struct mmiotrap_region *tab = NULL;
	int s, err;
	__u32 id;

	err = proc_start_ticks(want->pid, &want->start_ticks);
	if (!err)
		err = subs_read(mt, subs);
	if (err)
		return err;
	tab = table_read(mt);
	routes = routes_read(mt);
	old = routes_read(mt);
	err = tab && routes && old ? reap(mt, subs, routes) : -ENOMEM;
	for (s = 0; !err && s < MMIOTRAP_MAX_SUBS; s++)
		if (!(subs[s].flags & MMIOTRAP_SUB_LIVE))
			break;
	if (!err && s == MMIOTRAP_MAX_SUBS) {
		pr_warn("%d subscribers at most, and there are as many\n", MMIOTRAP_MAX_SUBS);
		err = -EUSERS;
	}
	want->flags |= MMIOTRAP_SUB_LIVE;
	if (!err && (want->flags & MMIOTRAP_SUB_OWNER))
		err = owned_by_other(mt, tab, routes, subs, want);
	/* Its ring first, its routes last: a record finds a ring to go to. */
	if (!err)
		err = take(mt, s, want, ring_fd, drops_fd);
	for (id = 1; !err && id < mt->nids; id++) {
		if (!tab[id].len || !wants(want, &tab[id]))
			continue;
		routes[id].readers |= 1ULL << s;
		if (want->flags & MMIOTRAP_SUB_OWNER)
			routes[id].owner = s + 1;
	}
	if (!err) {
		err = routes_write(mt, old, routes);
		if (err && !forget(mt, routes, s))
			routes_write(mt, old, routes);
	}
	free(tab);
	free(routes);
	free(old);
	return err ? err : s;
}

void sub_slot_release(struct mmiotrap *mt, int s)
{
	struct mmiotrap_route *routes = routes_read(mt), *old = routes_read(mt);

	if (routes && old && !forget(mt, routes, s))
		routes_write(mt, old, routes);
	free(routes);
	free(old);
}

int mmiotrap_subscribers(struct mmiotrap *mt, struct mmiotrap_subscriber *out, int max)
{
	struct mmiotrap_sub_slot subs[MMIOTRAP_MAX_SUBS];
	int s, n = 0, err;

	if (!mt || (max && !out))
		return -EINVAL;
	err = subs_read(mt, subs);
	if (err)
		return err;
	for (s = 0; s < MMIOTRAP_MAX_SUBS; s++) {
		if (!alive(&subs[s]))
			continue;
		if (n < max)
			out[n] = (struct mmiotrap_subscriber){
				.slot = s, .pid = subs[s].pid, .vm = subs[s].vm,
				.region = subs[s].region,
				.owner = subs[s].flags & MMIOTRAP_SUB_OWNER,
				.batched = subs[s].flags & MMIOTRAP_SUB_BATCHED,
			};
		n++;
	}
	return n;
}
