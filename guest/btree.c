/* btree: a B+-tree index of 64-bit keys and values, 256-byte nodes (up
 * to 15 keys each), as a database keeps one. keys=N (default 8M, fewer if
 * mb=SIZE, default 768 MiB, cannot hold them) are bulk-loaded in order,
 * leaves three quarters full, and then ops=M operations (default 4M) run
 * at random: inserts=P percent of them (default 10) insert a new key
 * between two old ones (splitting nodes as they fill), the rest look up a
 * key inserted before. The figure of merit is operations per second
 * (score_x1000 = million ops/s x 1000). Verified: every lookup finds its
 * key with its value; at the end the leaves, in order, hold every key
 * inserted, ascending, each once, with its value, all at one depth, and
 * a walk of the tree reaches those leaves in that order, each key inside
 * its separators. Exits 1 if not (corrupt=1 changes a value first,
 * corrupt=2 drops a child of the root, to show it does). Reports
 * btree_keys, btree_nodes, btree_depth. Arguments: mb, keys, ops,
 * inserts, prep, seed. */
#include "vmd.h"
#include "workload.h"

VMD_GUEST_PURPOSE("B+-tree lookups and inserts over mb=SIZE: operations per second, verified");

#define FANOUT		15		/* keys a node holds */
#define STRIDE		1024		/* loaded keys are k * STRIDE: room between them */
#define NONE		0xffffffffU

struct node {
	uint32_t n, leaf;
	uint32_t next;			/* a leaf's right neighbour */
	uint32_t pad;
	uint64_t key[FANOUT];
	union {
		uint64_t value[FANOUT];		/* leaf */
		uint32_t child[FANOUT + 1];	/* inner: child[i] holds keys < key[i] */
	};
};
_Static_assert(sizeof(struct node) == 256, "a node is four cache lines");

struct tree {
	struct node *nodes;
	uint32_t nr, max, root, depth;
};

static uint64_t value_of(uint64_t key)
{
	return key * 0x9E3779B97F4A7C15ULL ^ 0x5bd1e995;
}

static uint32_t new_node(struct tree *t, uint32_t leaf)
{
	struct node *nd;

	VMD_ASSERT(t->nr < t->max);
	nd = &t->nodes[t->nr];
	nd->n = 0;
	nd->leaf = leaf;
	nd->next = NONE;
	return t->nr++;
}

/* The first slot whose key is >= key. */
static uint32_t lower_bound(const struct node *nd, uint64_t key)
{
	uint32_t i = 0;

	while (i < nd->n && nd->key[i] < key)
		i++;
	return i;
}

static uint32_t child_for(const struct node *nd, uint64_t key)
{
	uint32_t i = 0;

	while (i < nd->n && key >= nd->key[i])
		i++;
	return nd->child[i];
}

static int lookup(const struct tree *t, uint64_t key, uint64_t *value)
{
	const struct node *nd = &t->nodes[t->root];
	uint32_t i;

	while (!nd->leaf)
		nd = &t->nodes[child_for(nd, key)];
	i = lower_bound(nd, key);
	if (i == nd->n || nd->key[i] != key)
		return 0;
	*value = nd->value[i];
	return 1;
}

/* Inserts into the subtree at id (*added = 0 if the key was there
 * already); if the node split, returns the new right sibling and its
 * first key in *sep, else NONE. */
static uint32_t insert_at(struct tree *t, uint32_t id, uint64_t key, uint64_t value, uint64_t *sep, int *added)
{
	struct node *nd = &t->nodes[id], *right;
	uint32_t i, r, half = (FANOUT + 1) / 2;

	if (nd->leaf) {
		i = lower_bound(nd, key);
		*added = i == nd->n || nd->key[i] != key;
		if (!*added)
			return NONE;
		for (uint32_t j = nd->n; j > i; j--) {
			nd->key[j] = nd->key[j - 1];
			nd->value[j] = nd->value[j - 1];
		}
		nd->key[i] = key;
		nd->value[i] = value;
		if (++nd->n < FANOUT)
			return NONE;
		/* full: the upper half goes to a new right leaf */
		r = new_node(t, 1);
		nd = &t->nodes[id];
		right = &t->nodes[r];
		for (uint32_t j = half; j < nd->n; j++) {
			right->key[j - half] = nd->key[j];
			right->value[j - half] = nd->value[j];
		}
		right->n = nd->n - half;
		nd->n = half;
		right->next = nd->next;
		nd->next = r;
		*sep = right->key[0];
		return r;
	}
	i = 0;
	while (i < nd->n && key >= nd->key[i])
		i++;
	r = insert_at(t, nd->child[i], key, value, sep, added);
	if (r == NONE)
		return NONE;
	nd = &t->nodes[id];
	for (uint32_t j = nd->n; j > i; j--) {
		nd->key[j] = nd->key[j - 1];
		nd->child[j + 1] = nd->child[j];
	}
	nd->key[i] = *sep;
	nd->child[i + 1] = r;
	if (++nd->n < FANOUT)
		return NONE;
	/* full: the middle key goes up, the keys after it to a new node */
	r = new_node(t, 0);
	nd = &t->nodes[id];
	right = &t->nodes[r];
	*sep = nd->key[half];
	for (uint32_t j = half + 1; j < nd->n; j++)
		right->key[j - half - 1] = nd->key[j];
	for (uint32_t j = half + 1; j <= nd->n; j++)
		right->child[j - half - 1] = nd->child[j];
	right->n = nd->n - half - 1;
	nd->n = half;
	return r;
}

/* 1 if key went in, 0 if it was there already. */
static int insert(struct tree *t, uint64_t key)
{
	uint64_t sep;
	int added;
	uint32_t r = insert_at(t, t->root, key, value_of(key), &sep, &added), root;

	if (r == NONE)
		return added;
	root = new_node(t, 0);
	t->nodes[root].n = 1;
	t->nodes[root].key[0] = sep;
	t->nodes[root].child[0] = t->root;
	t->nodes[root].child[1] = r;
	t->root = root;
	t->depth++;
	return added;
}

/* Leaves of keys 0, STRIDE, 2 STRIDE, ... three quarters full, then each
 * level above them, until one node is left. */
static void bulk_load(struct tree *t, uint64_t nkeys)
{
	uint32_t per = FANOUT * 3 / 4, first = t->nr, count = 0, prev = NONE;

	for (uint64_t k = 0; k < nkeys; k++) {
		struct node *nd;

		if (prev == NONE || t->nodes[prev].n == per) {
			uint32_t id = new_node(t, 1);

			if (prev != NONE)
				t->nodes[prev].next = id;
			prev = id;
			count++;
		}
		nd = &t->nodes[prev];
		nd->key[nd->n] = k * STRIDE;
		nd->value[nd->n++] = value_of(k * STRIDE);
	}
	t->depth = 1;
	while (count > 1) {
		uint32_t level = t->nr, made = 0;

		for (uint32_t c = 0; c < count; c++) {
			struct node *child = &t->nodes[first + c], *nd;

			if (c % (per + 1) == 0) {
				new_node(t, 0);
				made++;
				t->nodes[t->nr - 1].child[0] = first + c;
				continue;
			}
			nd = &t->nodes[t->nr - 1];
			/* the smallest key under the child: down its leftmost path */
			while (!child->leaf)
				child = &t->nodes[child->child[0]];
			nd->key[nd->n++] = child->key[0];
			nd->child[nd->n] = first + c;
		}
		first = level;
		count = made;
		t->depth++;
	}
	t->root = first;
}

/* The subtree at id (at depth d, its keys to lie in [lo, hi)): every
 * leaf at depth t->depth, every key inside its bounds, and its leaves the
 * next ones of the leaf chain (*leaf: the chain's next leaf, advanced
 * past each). A child pointer lost or a separator out of place leaves
 * keys that the chain holds but no lookup finds: caught here. */
static int walk(const struct tree *t, uint32_t id, uint32_t d, uint64_t lo, uint64_t hi, uint32_t *leaf)
{
	const struct node *nd;

	if (id >= t->nr || d > t->depth)
		return 0;
	nd = &t->nodes[id];
	if (nd->n > FANOUT - (nd->leaf ? 0 : 1))
		return 0;
	for (uint32_t i = 0; i < nd->n; i++)
		if (nd->key[i] < lo || nd->key[i] >= hi)
			return 0;
	if (nd->leaf) {
		if (d != t->depth || id != *leaf)
			return 0;
		*leaf = nd->next;
		return 1;
	}
	for (uint32_t i = 0; i <= nd->n; i++)
		if (!walk(t, nd->child[i], d + 1, i ? nd->key[i - 1] : lo, i < nd->n ? nd->key[i] : hi, leaf))
			return 0;
	return 1;
}

/* The tree and its leaves: the tree leads to every leaf of the chain, in
 * order, all at one depth; the chain holds every key once, ascending,
 * with its value. Returns the keys found, or UINT64_MAX if wrong. */
static uint64_t check_tree(const struct tree *t)
{
	const struct node *nd = &t->nodes[t->root];
	uint64_t keys = 0, last = 0;
	uint32_t leaf;

	while (!nd->leaf)
		nd = &t->nodes[nd->child[0]];
	leaf = (uint32_t)(nd - t->nodes);
	if (!walk(t, t->root, 1, 0, UINT64_MAX, &leaf) || leaf != NONE)
		return UINT64_MAX;
	for (;;) {
		for (uint32_t i = 0; i < nd->n; i++) {
			if ((keys && nd->key[i] <= last) || nd->value[i] != value_of(nd->key[i]))
				return UINT64_MAX;
			last = nd->key[i];
			keys++;
		}
		if (nd->next == NONE)
			return keys;
		nd = &t->nodes[nd->next];
	}
}

int main(void)
{
	uint64_t bytes, base = workload_span(768, &bytes), rng = vmd_arg_u64("seed", 1) * 0x2545F4914F6CDD1DULL + 3;
	uint64_t nkeys = vmd_arg_u64("keys", 8 << 20), ops = vmd_arg_u64("ops", 4 << 20);
	uint64_t inserts = vmd_arg_u64("inserts", 10), inserted = 0, dups = 0, found = 0, t0, us, keys;
	struct tree t = { .nodes = (struct node *)(uintptr_t)base, .max = (uint32_t)(bytes / sizeof(struct node)) };

	/* room for the loaded leaves, the levels above them (a tenth more)
	 * and the nodes inserts split off (one in FANOUT / 2 inserts at
	 * worst, the levels above included: a quarter of them, generously) */
	uint64_t split_room = ops * inserts / 100 / 4 + 64, per_leaf = FANOUT * 3 / 4;

	VMD_ASSERT(inserts <= 100 && split_room < t.max);
	if ((nkeys / per_leaf + 1) * 11 / 10 + split_room > t.max)
		nkeys = (t.max - split_room) * 10 / 11 * per_leaf;
	VMD_ASSERT(nkeys >= 1024);
	bulk_load(&t, nkeys);
	t0 = vmd_rdtsc();
	for (uint64_t op = 0; op < ops; op++) {
		uint64_t r = vmd_rand(&rng), k = (r >> 16) % nkeys, v;

		if (r % 100 < inserts) {
			/* between two loaded keys, at random (one there already
			 * stays, as a unique index keeps it) */
			if (insert(&t, k * STRIDE + 1 + (vmd_rand(&rng) % (STRIDE - 1))))
				inserted++;
			else
				dups++;
			continue;
		}
		if (lookup(&t, k * STRIDE, &v) && v == value_of(k * STRIDE))
			found++;
	}
	us = workload_us(vmd_rdtsc() - t0);
	if (vmd_arg_u64("corrupt", 0) == 1) {	/* a test of the check: a value lost */
		struct node *nd = &t.nodes[t.root];

		while (!nd->leaf)
			nd = &t.nodes[nd->child[nd->n]];
		nd->value[nd->n - 1] ^= 1;
	}
	if (vmd_arg_u64("corrupt", 0) == 2)	/* the root's last child lost: */
		t.nodes[t.root].n--;		/* its leaves stay on the chain */
	keys = check_tree(&t);
	vmd_report("btree_keys", keys);
	vmd_report("btree_nodes", t.nr);
	vmd_report("btree_depth", t.depth);
	if (found + inserted + dups != ops || keys != nkeys + inserted) {
		vmd_printf("btree: verification failed: %lu of %lu lookups found, %lu keys in the leaves "
			   "for %lu loaded and %lu inserted\n", found, ops - inserted - dups, keys, nkeys, inserted);
		return 1;
	}
	workload_score("btree", "million operations per second", ops * 1000 / (us ? us : 1));
	return 0;
}
