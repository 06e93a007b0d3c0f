/* bfs: Graph500's kernel 2. A Kronecker (R-MAT) graph of 2^scale
 * vertices and 16 x 2^scale edges (A, B, C = 0.57, 0.19, 0.19; vertex
 * numbers scrambled so neighbours are not near), made undirected in CSR
 * form, then a breadth-first search from each of roots=N (default 8)
 * random vertices with edges. scale= defaults to the largest whose data
 * fits in mb=SIZE (default 768 MiB). The figure of merit is traversed
 * edges per second (the edges inside each search's component, harmonic
 * mean over the roots, as Graph500 reports), score_x1000 = MTEPS x 1000.
 * Every search's tree is validated as Graph500 asks: the root is its own
 * parent; each tree edge is a graph edge and goes one level down; every
 * graph edge joins two reached vertices at most one level apart, or two
 * unreached ones. Exits 1 on a wrong tree (corrupt=1 gives a vertex a
 * wrong parent first, to show it does). Reports bfs_scale, bfs_edges,
 * bfs_roots. Arguments: mb, scale, roots, prep, seed. */
#include "vmd.h"
#include "workload.h"

VMD_GUEST_PURPOSE("Graph500-style BFS on an R-MAT graph over mb=SIZE: traversed edges per second, validated");

#define EDGE_FACTOR	16
#define NONE		0xffffffffU

struct graph {
	uint32_t scale, nv;
	uint64_t ne;			/* generated edges (each one direction) */
	uint32_t (*edges)[2];		/* the generated list, kept for validation */
	uint64_t *start;		/* CSR: v's neighbours are adj[start[v]..start[v + 1]) */
	uint32_t *adj;
	uint32_t *parent, *queue, *depth;
};

/* Bytes a graph of this scale needs. */
static uint64_t graph_bytes(uint32_t scale)
{
	uint64_t nv = 1ULL << scale, ne = nv * EDGE_FACTOR;

	return ne * 8 + ne * 2 * 4 + (nv + 1) * 8 + nv * 4 * 3;
}

/* One R-MAT edge: a quadrant per bit, with probabilities A, B, C, D. */
static void rmat_edge(uint32_t scale, uint64_t *rng, uint32_t *u, uint32_t *v)
{
	const uint32_t a = (uint32_t)(0.57 * 4294967296.0), ab = (uint32_t)(0.76 * 4294967296.0),
		       abc = (uint32_t)(0.95 * 4294967296.0);

	*u = *v = 0;
	for (uint32_t bit = 0; bit < scale; bit++) {
		uint32_t r = (uint32_t)(vmd_rand(rng) >> 32);

		*u = *u << 1 | (r >= ab);
		*v = *v << 1 | ((r >= a && r < ab) || r >= abc);
	}
}

/* A bijection on [0, 2^scale): neighbours in R-MAT's numbering are
 * scattered over the vertex arrays, as Graph500's permutation does. */
static uint32_t scramble(uint32_t v, uint32_t scale)
{
	uint64_t mask = (1ULL << scale) - 1, x = v;

	x = (x * 0x9E3779B1ULL + 0x7F4A7C15ULL) & mask;
	x ^= x >> (scale / 2 + 1);
	return (uint32_t)((x * 0x85EBCA6BULL) & mask);
}

static void build(struct graph *g, uint64_t base, uint64_t seed)
{
	uint64_t rng = seed * 0x2545F4914F6CDD1DULL + 1, sum = 0;

	g->edges = (uint32_t (*)[2])(uintptr_t)base;
	g->adj = (uint32_t *)(g->edges + g->ne);
	g->start = (uint64_t *)(g->adj + g->ne * 2);
	g->parent = (uint32_t *)(g->start + g->nv + 1);
	g->queue = g->parent + g->nv;
	g->depth = g->queue + g->nv;
	for (uint32_t v = 0; v <= g->nv; v++)
		g->start[v] = 0;
	for (uint64_t e = 0; e < g->ne; e++) {
		uint32_t u, v;

		rmat_edge(g->scale, &rng, &u, &v);
		u = scramble(u, g->scale);
		v = scramble(v, g->scale);
		g->edges[e][0] = u;
		g->edges[e][1] = v;
		if (u != v) {
			g->start[u + 1]++;
			g->start[v + 1]++;
		}
	}
	for (uint32_t v = 0; v < g->nv; v++) {
		sum += g->start[v + 1];
		g->start[v + 1] = sum;
	}
	/* fill: the queue array counts how many of each vertex's are in */
	for (uint32_t v = 0; v < g->nv; v++)
		g->queue[v] = 0;
	for (uint64_t e = 0; e < g->ne; e++) {
		uint32_t u = g->edges[e][0], v = g->edges[e][1];

		if (u == v)
			continue;
		g->adj[g->start[u] + g->queue[u]++] = v;
		g->adj[g->start[v] + g->queue[v]++] = u;
	}
}

/* One search from root; returns the edges inside its component (each
 * undirected edge once). */
static uint64_t search(struct graph *g, uint32_t root)
{
	uint64_t head = 0, tail = 0, degrees = 0;

	for (uint32_t v = 0; v < g->nv; v++)
		g->parent[v] = NONE;
	g->parent[root] = root;
	g->queue[tail++] = root;
	while (head < tail) {
		uint32_t u = g->queue[head++];

		degrees += g->start[u + 1] - g->start[u];
		for (uint64_t i = g->start[u]; i < g->start[u + 1]; i++) {
			uint32_t v = g->adj[i];

			if (g->parent[v] == NONE) {
				g->parent[v] = u;
				g->queue[tail++] = v;
			}
		}
	}
	return degrees / 2;
}

/* A test of the validation: a reached vertex given a parent that is
 * not its neighbour (or, if every vertex is, its grandparent's level). */
static void corrupt(struct graph *g, uint32_t root)
{
	for (uint32_t v = 0; v < g->nv; v++)
		if (v != root && g->parent[v] != NONE && g->parent[v] != root) {
			g->parent[v] = root == 0 ? 1 : 0;
			if (g->parent[v] == v)
				g->parent[v] = root;
			return;
		}
}

static int has_edge(const struct graph *g, uint32_t u, uint32_t v)
{
	for (uint64_t i = g->start[u]; i < g->start[u + 1]; i++)
		if (g->adj[i] == v)
			return 1;
	return 0;
}

/* Graph500's checks of one search's parent array; 0 if it is a BFS tree. */
static int validate(struct graph *g, uint32_t root)
{
	if (g->parent[root] != root)
		return vmd_printf("bfs: root %u is not its own parent\n", root), 1;
	for (uint32_t v = 0; v < g->nv; v++)
		if (g->parent[v] != NONE && g->parent[v] >= g->nv)
			return vmd_printf("bfs: vertex %u's parent %u is no vertex\n", v, g->parent[v]), 1;
	/* depths from the tree alone: walk up to a vertex whose depth is
	 * known, then down again; a walk longer than nv is a cycle */
	for (uint32_t v = 0; v < g->nv; v++)
		g->depth[v] = NONE;
	g->depth[root] = 0;
	for (uint32_t v = 0; v < g->nv; v++) {
		uint32_t u = v, steps = 0, d;

		if (g->parent[v] == NONE || g->depth[v] != NONE)
			continue;
		while (g->depth[u] == NONE) {
			u = g->parent[u];
			if (u == NONE || ++steps > g->nv)
				return vmd_printf("bfs: vertex %u's parents never reach the root\n", v), 1;
		}
		d = g->depth[u] + steps;
		for (u = v; g->depth[u] == NONE; u = g->parent[u])
			g->depth[u] = d--;
	}
	for (uint32_t v = 0; v < g->nv; v++) {
		uint32_t p = g->parent[v];

		if (p == NONE || v == root)
			continue;
		if (g->depth[v] != g->depth[p] + 1 || !has_edge(g, v, p))
			return vmd_printf("bfs: tree edge %u-%u is not a graph edge one level down\n", v, p), 1;
	}
	for (uint64_t e = 0; e < g->ne; e++) {
		uint32_t u = g->edges[e][0], v = g->edges[e][1], du = g->depth[u], dv = g->depth[v];

		if ((du == NONE) != (dv == NONE) || (du != NONE && (du > dv + 1 || dv > du + 1)))
			return vmd_printf("bfs: edge %u-%u joins levels %d and %d\n", u, v, (int)du, (int)dv), 1;
	}
	return 0;
}

int main(void)
{
	uint64_t bytes, base = workload_span(768, &bytes), seed = vmd_arg_u64("seed", 1);
	uint64_t roots = vmd_arg_u64("roots", 8), rng = seed * 0x9E3779B97F4A7C15ULL + 7, inv_sum = 0;
	struct graph g = { 0 };

	g.scale = (uint32_t)vmd_arg_u64("scale", 0);
	if (!g.scale)
		for (g.scale = 10; graph_bytes(g.scale + 1) <= bytes; g.scale++)
			;
	VMD_ASSERT(g.scale >= 10 && g.scale <= 30 && graph_bytes(g.scale) <= bytes && roots >= 1);
	g.nv = 1U << g.scale;
	g.ne = (uint64_t)g.nv * EDGE_FACTOR;
	build(&g, base, seed);
	for (uint64_t r = 0; r < roots; r++) {
		uint32_t root;
		uint64_t t0, edges, us;

		do
			root = (uint32_t)(vmd_rand(&rng) & (g.nv - 1));
		while (g.start[root + 1] == g.start[root]);
		t0 = vmd_rdtsc();
		edges = search(&g, root);
		us = workload_us(vmd_rdtsc() - t0);
		if (vmd_arg_u64("corrupt", 0))
			corrupt(&g, root);
		if (validate(&g, root))
			return 1;
		/* harmonic mean of TEPS: the mean of us per edge, inverted */
		inv_sum += us * 1000000 / (edges ? edges : 1);
	}
	vmd_report("bfs_scale", g.scale);
	vmd_report("bfs_edges", g.ne);
	vmd_report("bfs_roots", roots);
	/* inv_sum / roots is picoseconds per edge; MTEPS = 10^6 / that */
	workload_score("bfs", "million traversed edges per second (harmonic mean)",
		       1000000000ULL * roots / (inv_sum ? inv_sum : 1));
	return 0;
}
