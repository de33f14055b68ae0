// The Merkle tree over one organisation's audit log, as RFC 6962 defines it (RFC 9162 §2.1 restates
// it; section numbers below are RFC 9162's). Pure functions only: no database, no clock.
//
// Storage model. A log of n leaves never needs its whole tree to answer a proof. Every hash a proof or
// a root is made of is the hash of a range D[begin:end] that RFC 9162's recursion visits, and such a
// range is a run of complete aligned subtrees, largest first (the binary digits of end - begin). So a
// gateway stores one hash per complete subtree (`NodeId`, written once, when its last leaf arrives,
// see `completedBy` / `newNodeHashes`), and answers any proof with O(log n) of them: collect the
// `NodeId`s with `proofNodes`, fetch them in one query, fold them with `hashRange`.
import * as crypto from 'node:crypto';

/**
 * A complete aligned subtree: the 2^level leaves [index·2^level, (index+1)·2^level). Level 0 is a
 * single leaf, whose hash is the leaf hash.
 */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** A half-open leaf range [begin, end). */
export type LeafRange = readonly [begin: number, end: number];

export const HASH_SIZE = 32;

/** Where a caller keeps the stored hashes: must return the 32-byte hash of a complete subtree. */
export type NodeLookup = (id: NodeId) => Uint8Array | undefined;

// One-shot hashing where the runtime has it (Node ≥ 20.12), as chain.ts does. Measured on Node 20:
// a hex digest decoded back is three times faster than asking crypto.hash for a Buffer, and it
// matters when a million-leaf log is (re)built.
const sha256: (data: Uint8Array) => Buffer =
  typeof crypto.hash === 'function'
    ? (data) => Buffer.from(crypto.hash('sha256', data, 'hex'), 'hex')
    : (data) => crypto.createHash('sha256').update(data).digest();

/** RFC 9162 §2.1.1: the hash of an empty list, MTH({}) = SHA-256(). */
export const EMPTY_ROOT: Buffer = sha256(new Uint8Array(0));

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);
// Reused input buffers for the common 32-byte case (hashing is synchronous, so nothing else can
// write to them between filling and hashing).
const leafInput = Buffer.alloc(1 + HASH_SIZE);
const nodeInput = Buffer.alloc(1 + 2 * HASH_SIZE);

/** RFC 9162 §2.1.1: a leaf's hash, SHA-256(0x00 || leaf). The prefix keeps leaves and nodes apart (second preimages). */
export function leafHash(leaf: Uint8Array): Buffer {
  if (leaf.length !== HASH_SIZE) return sha256(Buffer.concat([LEAF_PREFIX, leaf]));
  leafInput[0] = 0x00;
  leafInput.set(leaf, 1);
  return sha256(leafInput);
}

/** RFC 9162 §2.1.1: an interior node's hash, SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) return sha256(Buffer.concat([NODE_PREFIX, left, right]));
  nodeInput[0] = 0x01;
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return sha256(nodeInput);
}

/**
 * The leaf hash of an audit event: the leaf is the 32 bytes of its hex `hash` (PRODUCT.md "Proof a
 * deletion happened"), so the tree proves the chain's hashes, which prove the fields.
 */
export function eventLeafHash(eventHashHex: string): Buffer {
  if (!/^[0-9a-f]{64}$/.test(eventHashHex)) throw new RangeError(`an event hash is 64 lowercase hex digits, got ${JSON.stringify(eventHashHex)}`);
  return leafHash(Buffer.from(eventHashHex, 'hex'));
}

/** `level:index`, for Maps and SQL keys. */
export function nodeKey(id: NodeId): string {
  return `${id.level}:${id.index}`;
}

// Sizes and indexes are plain numbers: JavaScript's bit operators are 32-bit, so everything below uses
// arithmetic that stays exact up to Number.MAX_SAFE_INTEGER.

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function requireCount(name: string, n: number): void {
  if (!isCount(n)) throw new RangeError(`${name} must be a non-negative safe integer, got ${String(n)}`);
}

/** RFC 9162 §2.1.1's k: the largest power of two smaller than n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The smallest power of two ≥ n (n ≥ 1). */
function bitCeil(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function isPowerOfTwo(n: number): boolean {
  return n >= 1 && bitCeil(n) === n;
}

/**
 * The complete aligned subtrees whose hashes make MTH(D[begin:end]), left to right (largest first).
 *
 * Defined for the ranges RFC 9162 §2.1.1's recursion visits: begin = 0, or begin a multiple of the
 * smallest power of two ≥ end - begin (then every split point k of §2.1.1 falls on a subtree
 * boundary, so the left part of each split is one complete subtree and the recursion continues on
 * the right). Other ranges are never needed for roots or proofs, and a RangeError says so.
 */
export function rangeNodes(begin: number, end: number): NodeId[] {
  requireCount('begin', begin);
  requireCount('end', end);
  if (begin > end) throw new RangeError(`range [${begin}, ${end}) ends before it begins`);
  const n = end - begin;
  if (n === 0) return [];
  if (begin % bitCeil(n) !== 0) {
    throw new RangeError(`range [${begin}, ${end}) is not one RFC 9162's recursion visits: ${begin} is not a multiple of ${bitCeil(n)}`);
  }
  let top = 1;
  let level = 0;
  while (top * 2 <= n) {
    top *= 2;
    level += 1;
  }
  const nodes: NodeId[] = [];
  let at = begin;
  for (let size = top; size >= 1; size /= 2, level -= 1) {
    if (Math.floor(n / size) % 2 === 1) {
      nodes.push({ level, index: at / size });
      at += size;
    }
  }
  return nodes;
}

function lookupHash(lookup: NodeLookup, id: NodeId): Uint8Array {
  const hash = lookup(id);
  if (!hash || hash.length !== HASH_SIZE) throw new Error(`no stored hash for node level ${id.level} index ${id.index}`);
  return hash;
}

/**
 * MTH(D[begin:end]) from the hashes of `rangeNodes(begin, end)`.
 *
 * Folded right to left: RFC 9162 §2.1.1 splits off the largest power of two on the left and recurses
 * on the right, so MTH = node(A, node(B, node(C, D))) for subtrees A > B > C > D. A left fold
 * node(node(node(A, B), C), D) is a different (wrong) tree whenever there are three or more.
 */
export function hashRange(nodes: readonly NodeId[], lookup: NodeLookup): Buffer {
  const last = nodes.at(-1);
  if (!last) return Buffer.from(EMPTY_ROOT);
  let hash: Buffer = Buffer.from(lookupHash(lookup, last));
  for (let i = nodes.length - 2; i >= 0; i -= 1) hash = nodeHash(lookupHash(lookup, nodes[i]!), hash);
  return hash;
}

/** RFC 9162 §2.1.1: MTH(D[0:size]), the root of the tree of the first `size` leaves. */
export function rootOf(size: number, lookup: NodeLookup): Buffer {
  return hashRange(rangeNodes(0, size), lookup);
}

/**
 * RFC 9162 §2.1.3.1: the ranges whose MTH make PATH(index, D[0:size]), in the proof's order (the
 * sibling nearest the leaf first). Each step of the recursion adds the MTH of the half the leaf is
 * not in, and appends it after the rest of the path, so the top-level sibling comes last.
 */
export function inclusionProofRanges(index: number, size: number): LeafRange[] {
  requireCount('index', index);
  requireCount('size', size);
  if (index >= size) throw new RangeError(`leaf index ${index} is not in a tree of size ${size}`);
  const topDown: LeafRange[] = [];
  let begin = 0;
  let end = size;
  while (end - begin > 1) {
    const mid = begin + splitPoint(end - begin);
    if (index < mid) {
      topDown.push([mid, end]);
      end = mid;
    } else {
      topDown.push([begin, mid]);
      begin = mid;
    }
  }
  return topDown.reverse();
}

/**
 * RFC 9162 §2.1.4.1: the ranges whose MTH make PROOF(fromSize, D[0:toSize]) = SUBPROOF(m, D[n], true),
 * in the proof's order. The recursion ends at the subtree D[m'] that is the old tree's last complete
 * part: it is left out when it is the whole old tree (b = true, the verifier has that root), else
 * it comes first. Every sibling on the way down follows it, nearest first.
 *
 * fromSize = toSize, and fromSize = 0, give the empty proof (RFC 9162 defines proofs for
 * 0 < m < n; an empty tree is a prefix of every tree).
 */
export function consistencyProofRanges(fromSize: number, toSize: number): LeafRange[] {
  requireCount('fromSize', fromSize);
  requireCount('toSize', toSize);
  if (fromSize > toSize) throw new RangeError(`fromSize ${fromSize} is larger than toSize ${toSize}`);
  if (fromSize === 0 || fromSize === toSize) return [];
  const topDown: LeafRange[] = [];
  let m = fromSize;
  let begin = 0;
  let end = toSize;
  let whole = true;
  while (m !== end - begin) {
    const k = splitPoint(end - begin);
    if (m <= k) {
      topDown.push([begin + k, end]);
      end = begin + k;
    } else {
      topDown.push([begin, begin + k]);
      m -= k;
      begin += k;
      whole = false;
    }
  }
  if (!whole) topDown.push([begin, end]);
  return topDown.reverse();
}

/**
 * Every stored node the given ranges need, each once, in first-use order: one database query
 * fetches a whole proof, or the proofs of a whole receipt at once (pass their ranges together).
 */
export function proofNodes(ranges: readonly LeafRange[]): NodeId[] {
  const seen = new Set<string>();
  const nodes: NodeId[] = [];
  for (const [begin, end] of ranges) {
    for (const id of rangeNodes(begin, end)) {
      const key = nodeKey(id);
      if (seen.has(key)) continue;
      seen.add(key);
      nodes.push(id);
    }
  }
  return nodes;
}

/** The proof hashes for ranges from `inclusionProofRanges` or `consistencyProofRanges`. */
export function proofHashes(ranges: readonly LeafRange[], lookup: NodeLookup): Buffer[] {
  return ranges.map(([begin, end]) => hashRange(rangeNodes(begin, end), lookup));
}

/** RFC 9162 §2.1.3.1 from stored nodes. */
export function inclusionProof(index: number, size: number, lookup: NodeLookup): Buffer[] {
  return proofHashes(inclusionProofRanges(index, size), lookup);
}

/** RFC 9162 §2.1.4.1 from stored nodes. */
export function consistencyProof(fromSize: number, toSize: number, lookup: NodeLookup): Buffer[] {
  return proofHashes(consistencyProofRanges(fromSize, toSize), lookup);
}

/**
 * The complete subtrees of level ≥ 1 whose last leaf is `leafIndex`, lowest first: what appending
 * that leaf completes. (Level 0, the leaf itself, is the caller's to store.) A subtree of level l is
 * complete once the size is a multiple of 2^l, so these are the levels 1..t where 2^t divides
 * leafIndex + 1: on average one node per leaf, never more than log2(n).
 */
export function completedBy(leafIndex: number): NodeId[] {
  requireCount('leafIndex', leafIndex);
  const size = leafIndex + 1;
  const nodes: NodeId[] = [];
  for (let level = 1, width = 2; size % width === 0; level += 1, width *= 2) nodes.push({ level, index: size / width - 1 });
  return nodes;
}

/**
 * The hashes of `completedBy(leafIndex)`, to store with the leaf. Each is node(left sibling, the one
 * below it): the left siblings are complete subtrees stored earlier (looked up), the right ones are
 * the leaf and the nodes computed just before.
 */
export function newNodeHashes(leafIndex: number, leafHashValue: Uint8Array, lookup: NodeLookup): { id: NodeId; hash: Buffer }[] {
  if (leafHashValue.length !== HASH_SIZE) throw new RangeError(`a leaf hash is ${HASH_SIZE} bytes, got ${leafHashValue.length}`);
  let right: Uint8Array = leafHashValue;
  return completedBy(leafIndex).map((id) => {
    const hash = nodeHash(lookupHash(lookup, { level: id.level - 1, index: id.index * 2 }), right);
    right = hash;
    return { id, hash };
  });
}

// Verification takes untrusted input (a receipt, an API answer): it checks every argument's type and
// size itself and answers false rather than throwing.

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === HASH_SIZE;
}

function isProof(value: unknown): value is readonly Uint8Array[] {
  return Array.isArray(value) && value.every(isHash);
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

const half = (n: number): number => Math.floor(n / 2);
const odd = (n: number): boolean => n % 2 === 1;

/**
 * RFC 9162 §2.1.3.2: whether `proof` shows the leaf with hash `leafHashValue` at `index` in the tree
 * of `size` leaves whose root is `root`. Never throws.
 */
export function verifyInclusion(leafHashValue: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  try {
    if (!isHash(leafHashValue) || !isHash(root) || !isProof(proof) || !isCount(index) || !isCount(size)) return false;
    // Step 1.
    if (index >= size) return false;
    // Steps 2 and 3.
    let fn = index;
    let sn = size - 1;
    let r: Uint8Array = leafHashValue;
    // Step 4.
    for (const p of proof) {
      if (sn === 0) return false;
      if (odd(fn) || fn === sn) {
        r = nodeHash(p, r);
        // On the right border a missing right sibling moves the leaf up without a hash.
        if (!odd(fn)) {
          while (!odd(fn) && fn !== 0) {
            fn = half(fn);
            sn = half(sn);
          }
        }
      } else {
        r = nodeHash(r, p);
      }
      fn = half(fn);
      sn = half(sn);
    }
    // Step 5: every level used exactly once (sn 0), and the root matches.
    return sn === 0 && sameHash(r, root);
  } catch {
    return false;
  }
}

/**
 * RFC 9162 §2.1.4.2: whether `proof` shows the tree of `toSize` leaves (root `toRoot`) extends the
 * tree of `fromSize` leaves (root `fromRoot`). Never throws.
 *
 * Equal sizes need an empty proof and equal roots. fromSize 0 needs an empty proof and fromRoot the
 * empty tree's hash: stricter than transparency-dev/merkle, which does not look at the roots there.
 */
export function verifyConsistency(fromSize: number, toSize: number, proof: readonly Uint8Array[], fromRoot: Uint8Array, toRoot: Uint8Array): boolean {
  try {
    if (!isCount(fromSize) || !isCount(toSize) || !isProof(proof) || !isHash(fromRoot) || !isHash(toRoot)) return false;
    if (fromSize > toSize) return false;
    if (fromSize === toSize) return proof.length === 0 && sameHash(fromRoot, toRoot);
    if (fromSize === 0) return proof.length === 0 && sameHash(fromRoot, EMPTY_ROOT);
    // Step 1.
    if (proof.length === 0) return false;
    // Step 2: when the old tree is one complete subtree, its root is the proof's implicit first hash.
    const path = isPowerOfTwo(fromSize) ? [fromRoot, ...proof] : [...proof];
    // Step 3.
    let fn = fromSize - 1;
    let sn = toSize - 1;
    // Step 4.
    while (odd(fn)) {
      fn = half(fn);
      sn = half(sn);
    }
    // Step 5.
    let fr: Uint8Array = path[0]!;
    let sr: Uint8Array = path[0]!;
    // Step 6.
    for (const c of path.slice(1)) {
      if (sn === 0) return false;
      if (odd(fn) || fn === sn) {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
        if (!odd(fn)) {
          while (!odd(fn) && fn !== 0) {
            fn = half(fn);
            sn = half(sn);
          }
        }
      } else {
        sr = nodeHash(sr, c);
      }
      fn = half(fn);
      sn = half(sn);
    }
    // Step 7.
    return sn === 0 && sameHash(fr, fromRoot) && sameHash(sr, toRoot);
  } catch {
    return false;
  }
}

// The RFC's recursive definitions, word for word, over a list of leaf hashes: the reference the
// stored-subtree functions above are tested against. O(n) per call; for tests and small logs.

/** RFC 9162 §2.1.1 MTH over leaf hashes (so MTH of one leaf is its leaf hash). */
export function naiveRoot(leafHashes: readonly Uint8Array[]): Buffer {
  const n = leafHashes.length;
  if (n === 0) return Buffer.from(EMPTY_ROOT);
  if (n === 1) return Buffer.from(leafHashes[0]!);
  const k = splitPoint(n);
  return nodeHash(naiveRoot(leafHashes.slice(0, k)), naiveRoot(leafHashes.slice(k)));
}

/** RFC 9162 §2.1.3.1 PATH(m, D[n]). */
export function naiveInclusionProof(index: number, leafHashes: readonly Uint8Array[]): Buffer[] {
  const n = leafHashes.length;
  if (!isCount(index) || index >= n) throw new RangeError(`leaf index ${index} is not in a tree of size ${n}`);
  if (n === 1) return [];
  const k = splitPoint(n);
  if (index < k) return [...naiveInclusionProof(index, leafHashes.slice(0, k)), naiveRoot(leafHashes.slice(k))];
  return [...naiveInclusionProof(index - k, leafHashes.slice(k)), naiveRoot(leafHashes.slice(0, k))];
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true); empty for m = 0 and m = n. */
export function naiveConsistencyProof(fromSize: number, leafHashes: readonly Uint8Array[]): Buffer[] {
  const n = leafHashes.length;
  if (!isCount(fromSize) || fromSize > n) throw new RangeError(`fromSize ${fromSize} is not in 0..${n}`);
  if (fromSize === 0) return [];
  const subproof = (m: number, d: readonly Uint8Array[], whole: boolean): Buffer[] => {
    if (m === d.length) return whole ? [] : [naiveRoot(d)];
    const k = splitPoint(d.length);
    if (m <= k) return [...subproof(m, d.slice(0, k), whole), naiveRoot(d.slice(k))];
    return [...subproof(m - k, d.slice(k), false), naiveRoot(d.slice(0, k))];
  };
  return subproof(fromSize, leafHashes, true);
}
