import * as crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_ROOT,
  completedBy,
  consistencyProof,
  consistencyProofRanges,
  eventLeafHash,
  hashRange,
  inclusionProof,
  inclusionProofRanges,
  leafHash,
  naiveConsistencyProof,
  naiveInclusionProof,
  naiveRoot,
  newNodeHashes,
  nodeHash,
  nodeKey,
  proofNodes,
  rangeNodes,
  rootOf,
  verifyConsistency,
  verifyInclusion,
  type NodeId,
} from '../src/audit/merkle.ts';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const toHex = (hashes: readonly Uint8Array[]): string[] => hashes.map((h) => Buffer.from(h).toString('hex'));

// A numeric key (level · 2^32 + index) keeps a two-million-entry Map cheap to build.
const key = (id: NodeId): number => id.level * 2 ** 32 + id.index;

/** An in-memory node table grown leaf by leaf, as the gateway's stored hashes will be. */
class Store {
  readonly nodes = new Map<number, Buffer>();
  size = 0;
  lookups = 0;
  readonly lookup = (id: NodeId): Buffer | undefined => {
    this.lookups += 1;
    return this.nodes.get(key(id));
  };
  has(id: NodeId): boolean {
    return this.nodes.has(key(id));
  }
  append(hash: Buffer): void {
    const index = this.size;
    this.nodes.set(key({ level: 0, index }), hash);
    for (const { id, hash: node } of newNodeHashes(index, hash, this.lookup)) this.nodes.set(key(id), node);
    this.size += 1;
  }
}

function storeOf(leafHashes: readonly Buffer[]): Store {
  const store = new Store();
  for (const hash of leafHashes) store.append(hash);
  return store;
}

// Published vectors from transparency-dev/merkle: testonly/constants.go (LeafInputs, NodeHashes,
// RootHashes) and proof/verify_test.go (inclusionProofs, consistencyProofs; leaf numbers there are
// 1-based). They are the RFC 6962 reference tree used by Certificate Transparency's own tests.
const LEAF_INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(hex);
const NODE_HASHES = [
  [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
    '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
    'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
    '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1',
  ],
  [
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
  ],
  ['d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'],
  ['5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'],
];
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION_VECTORS: { index: number; size: number; proof: string[] }[] = [
  { index: 0, size: 1, proof: [] },
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];
const CONSISTENCY_VECTORS: { from: number; to: number; proof: string[] }[] = [
  { from: 1, to: 1, proof: [] },
  {
    from: 1,
    to: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    from: 6,
    to: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    from: 2,
    to: 5,
    proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'],
  },
  {
    from: 6,
    to: 7,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

const referenceLeaves = LEAF_INPUTS.map(leafHash);
const referenceStore = storeOf(referenceLeaves);

describe('RFC 6962 hashing (transparency-dev/merkle rfc6962/rfc6962_test.go)', () => {
  it('hashes the empty tree, an empty leaf, a leaf and a node as the published vectors', () => {
    expect(EMPTY_ROOT.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(leafHash(new Uint8Array(0)).toString('hex')).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
    expect(leafHash(Buffer.from('L123456')).toString('hex')).toBe('395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56');
    expect(nodeHash(Buffer.from('N123'), Buffer.from('N456')).toString('hex')).toBe('aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb');
  });

  it('keeps a node apart from a leaf of the same bytes, and depends on the order of children', () => {
    const a = leafHash(Buffer.from('Hello'));
    const b = leafHash(Buffer.from('World'));
    expect(nodeHash(a, b).equals(leafHash(Buffer.concat([a, b])))).toBe(false);
    expect(nodeHash(a, b).equals(nodeHash(b, a))).toBe(false);
  });

  it('takes an event leaf as the 32 bytes of its hex hash, and refuses anything else', () => {
    const eventHash = 'ab'.repeat(32);
    expect(eventLeafHash(eventHash).equals(leafHash(Buffer.from(eventHash, 'hex')))).toBe(true);
    expect(() => eventLeafHash('AB'.repeat(32))).toThrow(RangeError);
    expect(() => eventLeafHash('ab'.repeat(31))).toThrow(RangeError);
  });
});

describe('the RFC 6962 reference tree (transparency-dev/merkle testonly/constants.go)', () => {
  it('stores exactly the published hash of every complete subtree after eight appends', () => {
    for (const [level, row] of NODE_HASHES.entries()) {
      for (const [index, want] of row.entries()) expect(referenceStore.lookup({ level, index })?.toString('hex'), `${level}:${index}`).toBe(want);
    }
    expect(referenceStore.nodes.size).toBe(NODE_HASHES.flat().length);
  });

  it('computes the published root of every size 0..8 from stored subtrees and naively', () => {
    for (let size = 0; size <= 8; size += 1) {
      expect(rootOf(size, referenceStore.lookup).toString('hex'), `size ${size}`).toBe(ROOTS[size]);
      expect(naiveRoot(referenceLeaves.slice(0, size)).toString('hex'), `size ${size}`).toBe(ROOTS[size]);
    }
  });

  it('produces and verifies the published inclusion proofs (proof/verify_test.go)', () => {
    for (const { index, size, proof } of INCLUSION_VECTORS) {
      expect(toHex(inclusionProof(index, size, referenceStore.lookup)), `${index}/${size}`).toEqual(proof);
      expect(toHex(naiveInclusionProof(index, referenceLeaves.slice(0, size)))).toEqual(proof);
      expect(verifyInclusion(referenceLeaves[index]!, index, size, proof.map(hex), hex(ROOTS[size]!))).toBe(true);
    }
  });

  it('produces and verifies the published consistency proofs (proof/verify_test.go)', () => {
    for (const { from, to, proof } of CONSISTENCY_VECTORS) {
      expect(toHex(consistencyProof(from, to, referenceStore.lookup)), `${from}->${to}`).toEqual(proof);
      expect(toHex(naiveConsistencyProof(from, referenceLeaves.slice(0, to)))).toEqual(proof);
      expect(verifyConsistency(from, to, proof.map(hex), hex(ROOTS[from]!), hex(ROOTS[to]!))).toBe(true);
    }
  });
});

describe('which stored nodes a proof needs', () => {
  const id = (level: number, index: number): NodeId => ({ level, index });
  const asSet = (nodes: readonly NodeId[]): string[] => nodes.map(nodeKey).sort();

  // The node lists of transparency-dev/merkle proof/proof_test.go (TestInclusion, TestConsistency):
  // the same stored nodes, whatever the order they fetch them in.
  it('needs the same nodes as transparency-dev/merkle for its inclusion cases', () => {
    const cases: [index: number, size: number, nodes: NodeId[]][] = [
      [0, 1, []],
      [0, 2, [id(0, 1)]],
      [1, 2, [id(0, 0)]],
      [1, 3, [id(0, 0), id(0, 2)]],
      [0, 7, [id(0, 1), id(1, 1), id(0, 6), id(1, 2)]],
      [2, 7, [id(0, 3), id(1, 0), id(0, 6), id(1, 2)]],
      [4, 7, [id(0, 5), id(0, 6), id(2, 0)]],
      [6, 7, [id(1, 2), id(2, 0)]],
      [2, 4, [id(0, 3), id(1, 0)]],
      [3, 5, [id(0, 2), id(1, 0), id(0, 4)]],
      [3, 6, [id(0, 2), id(1, 0), id(1, 2)]],
      [4, 6, [id(0, 5), id(2, 0)]],
      [10, 15, [id(0, 11), id(1, 4), id(0, 14), id(1, 6), id(3, 0)]],
      [24, 31, [id(0, 25), id(1, 13), id(0, 30), id(1, 14), id(3, 2), id(4, 0)]],
      [81, 95, [id(0, 80), id(1, 41), id(2, 21), id(0, 94), id(1, 46), id(2, 22), id(4, 4), id(6, 0)]],
    ];
    for (const [index, size, nodes] of cases) expect(asSet(proofNodes(inclusionProofRanges(index, size))), `${index}/${size}`).toEqual(asSet(nodes));
  });

  it('needs the same nodes as transparency-dev/merkle for its consistency cases', () => {
    const cases: [from: number, to: number, nodes: NodeId[]][] = [
      [1, 2, [id(0, 1)]],
      [1, 4, [id(0, 1), id(1, 1)]],
      [1, 6, [id(0, 1), id(1, 1), id(1, 2)]],
      [2, 3, [id(0, 2)]],
      [2, 8, [id(1, 1), id(2, 1)]],
      [3, 7, [id(0, 2), id(0, 3), id(1, 0), id(0, 6), id(1, 2)]],
      [4, 7, [id(0, 6), id(1, 2)]],
      [5, 7, [id(0, 4), id(0, 5), id(0, 6), id(2, 0)]],
      [6, 7, [id(1, 2), id(0, 6), id(2, 0)]],
      [7, 8, [id(0, 6), id(0, 7), id(1, 2), id(2, 0)]],
      [5, 5, []],
      [2, 4, [id(1, 1)]],
      [3, 5, [id(0, 2), id(0, 3), id(1, 0), id(0, 4)]],
      [3, 6, [id(0, 2), id(0, 3), id(1, 0), id(1, 2)]],
      [4, 6, [id(1, 2)]],
      [1, 7, [id(0, 1), id(1, 1), id(0, 6), id(1, 2)]],
      [10, 15, [id(1, 4), id(1, 5), id(0, 14), id(1, 6), id(3, 0)]],
      [24, 31, [id(3, 2), id(0, 30), id(1, 14), id(2, 6), id(4, 0)]],
      [81, 95, [id(0, 80), id(0, 81), id(1, 41), id(2, 21), id(0, 94), id(1, 46), id(2, 22), id(4, 4), id(6, 0)]],
    ];
    for (const [from, to, nodes] of cases) expect(asSet(proofNodes(consistencyProofRanges(from, to))), `${from}->${to}`).toEqual(asSet(nodes));
  });

  it('lists a range as its complete aligned subtrees, largest first', () => {
    expect(rangeNodes(0, 7)).toEqual([id(2, 0), id(1, 2), id(0, 6)]);
    expect(rangeNodes(8, 16)).toEqual([id(3, 1)]);
    expect(rangeNodes(16, 21)).toEqual([id(2, 4), id(0, 20)]);
    expect(rangeNodes(5, 5)).toEqual([]);
  });

  it('refuses ranges the recursion never visits, and bad numbers', () => {
    expect(() => rangeNodes(1, 3)).toThrow(RangeError);
    expect(() => rangeNodes(4, 9)).toThrow(RangeError);
    expect(() => rangeNodes(3, 2)).toThrow(RangeError);
    expect(() => rangeNodes(-1, 2)).toThrow(RangeError);
    expect(() => rangeNodes(0, 2.5)).toThrow(RangeError);
    expect(() => inclusionProofRanges(3, 3)).toThrow(RangeError);
    expect(() => inclusionProofRanges(0, 0)).toThrow(RangeError);
    expect(() => consistencyProofRanges(4, 3)).toThrow(RangeError);
    expect(() => rootOf(Number.MAX_SAFE_INTEGER + 1, referenceStore.lookup)).toThrow(RangeError);
  });

  it('names the missing node when the store lacks one', () => {
    expect(() => rootOf(9, referenceStore.lookup)).toThrow(/level 0 index 8/);
  });

  it('dedupes nodes shared by several proofs, so one query fetches a whole receipt', () => {
    const ranges = [...inclusionProofRanges(0, 8), ...inclusionProofRanges(1, 8), ...inclusionProofRanges(7, 8)];
    const nodes = proofNodes(ranges);
    expect(new Set(nodes.map(nodeKey)).size).toBe(nodes.length);
    expect(asSet(nodes)).toEqual(asSet([id(0, 1), id(0, 0), id(1, 1), id(2, 1), id(0, 6), id(1, 2), id(2, 0)]));
  });
});

// draft-ietf-plants-merkle-tree-certs, appendix "Subtree Test Vectors", as reproduced by
// transparency-dev/merkle testonly/vectors_test.go (TestSubtreeHashVectors): over leaves d[i] = the
// byte i, for every end 1..130 and every start with start = 0 or start a multiple of bit_ceil(end -
// start) — exactly the ranges rangeNodes accepts — a rolling SHA-256 of "[start, end) <hex MTH>\n".
describe('subtree hashes of every range the recursion visits (draft-ietf-plants-merkle-tree-certs vectors)', () => {
  const max = 130;
  const store = storeOf(Array.from({ length: max }, (_, i) => leafHash(Buffer.from([i]))));
  const valid = (start: number, end: number): boolean => {
    if (start === 0) return true;
    let ceil = 1;
    while (ceil < end - start) ceil *= 2;
    return start % ceil === 0;
  };

  it('folds every such range to the published rolling hash', () => {
    const rolling = crypto.createHash('sha256');
    let ranges = 0;
    for (let end = 1; end <= max; end += 1) {
      for (let start = 0; start < end; start += 1) {
        if (!valid(start, end)) {
          expect(() => rangeNodes(start, end)).toThrow(RangeError);
          continue;
        }
        rolling.update(`[${start}, ${end}) ${hashRange(rangeNodes(start, end), store.lookup).toString('hex')}\n`);
        ranges += 1;
      }
    }
    expect(ranges).toBeGreaterThan(max);
    expect(rolling.digest('hex')).toBe('94a95384a8c69acea9b50d035a58285b3a777cb7a724005faa5e1f1e1190007f');
  });

  it('would not match with a left-to-right fold', () => {
    // The fold direction matters as soon as a range has three subtrees (size 7 = 4 + 2 + 1).
    const nodes = rangeNodes(0, 7);
    const left = nodes.slice(1).reduce((acc, id) => nodeHash(acc, store.lookup(id)!), store.lookup(nodes[0]!)!);
    expect(left.equals(hashRange(nodes, store.lookup))).toBe(false);
    expect(hashRange(nodes, store.lookup).equals(naiveRoot(Array.from({ length: 7 }, (_, i) => store.lookup({ level: 0, index: i })!)))).toBe(true);
  });
});

describe('stored subtrees against the RFC recursion, every size up to 300', () => {
  const MAX = 300;
  const FULL = 64; // every index and every fromSize up to here; sampled above
  const leaves = Array.from({ length: MAX }, (_, i) => leafHash(Buffer.from(`event ${i}`)));
  const naiveRoots = Array.from({ length: MAX + 1 }, (_, size) => naiveRoot(leaves.slice(0, size)));
  const store = storeOf(leaves);
  const sample = (size: number): number[] => {
    if (size <= FULL) return Array.from({ length: size }, (_, i) => i);
    const picks = new Set([0, 1, size - 2, size - 1, Math.floor(size / 2), Math.floor(size / 3), (size * 7919) % size, (size * 104729 + 13) % size]);
    return [...picks].filter((i) => i >= 0 && i < size);
  };

  it('computes the same root as the naive recursion at every size', () => {
    for (let size = 0; size <= MAX; size += 1) expect(rootOf(size, store.lookup).equals(naiveRoots[size]!), `size ${size}`).toBe(true);
  });

  it('assembles the naive inclusion proof, which verifies, for every index (sampled above 64 leaves)', () => {
    for (let size = 1; size <= MAX; size += 1) {
      const prefix = leaves.slice(0, size);
      for (const index of sample(size)) {
        const proof = inclusionProof(index, size, store.lookup);
        expect(toHex(proof), `${index}/${size}`).toEqual(toHex(naiveInclusionProof(index, prefix)));
        expect(verifyInclusion(leaves[index]!, index, size, proof, naiveRoots[size]!), `${index}/${size}`).toBe(true);
      }
    }
  });

  it('assembles the naive consistency proof, which verifies, for every fromSize ≤ toSize (sampled above 64 leaves)', () => {
    for (let to = 0; to <= MAX; to += 1) {
      const prefix = leaves.slice(0, to);
      const froms = to <= FULL ? Array.from({ length: to + 1 }, (_, i) => i) : [...sample(to), to];
      for (const from of froms) {
        const proof = consistencyProof(from, to, store.lookup);
        expect(toHex(proof), `${from}->${to}`).toEqual(toHex(naiveConsistencyProof(from, prefix)));
        expect(verifyConsistency(from, to, proof, naiveRoots[from]!, naiveRoots[to]!), `${from}->${to}`).toBe(true);
      }
    }
  });

  it('keeps exactly the complete subtrees as leaves arrive, each with its naive hash, and every proof finds its nodes', () => {
    const growing = new Store();
    for (let size = 1; size <= MAX; size += 1) {
      growing.append(leaves[size - 1]!);
      const expected: NodeId[] = [];
      for (let level = 0, width = 1; width <= size; level += 1, width *= 2) {
        for (let index = 0; (index + 1) * width <= size; index += 1) expected.push({ level, index });
      }
      expect([...growing.nodes.keys()].sort((a, b) => a - b), `size ${size}`).toEqual(expected.map(key).sort((a, b) => a - b));
      if (size % 37 === 0 || size <= 20) {
        for (const id of expected) {
          const width = 2 ** id.level;
          expect(growing.lookup(id)!.equals(naiveRoot(leaves.slice(id.index * width, (id.index + 1) * width))), nodeKey(id)).toBe(true);
        }
      }
      const needed = proofNodes([...inclusionProofRanges(size - 1, size), ...inclusionProofRanges(0, size), ...consistencyProofRanges(Math.ceil(size / 3), size)]);
      for (const id of [...needed, ...rangeNodes(0, size)]) expect(growing.has(id), `${nodeKey(id)} at size ${size}`).toBe(true);
    }
  });

  it('completes the subtrees a leaf closes, lowest first', () => {
    expect(completedBy(0)).toEqual([]);
    expect(completedBy(1)).toEqual([{ level: 1, index: 0 }]);
    expect(completedBy(6)).toEqual([]);
    expect(completedBy(7)).toEqual([
      { level: 1, index: 3 },
      { level: 2, index: 1 },
      { level: 3, index: 0 },
    ]);
    expect(completedBy(11)).toEqual([
      { level: 1, index: 5 },
      { level: 2, index: 2 },
    ]);
    expect(() => newNodeHashes(1, Buffer.alloc(31), referenceStore.lookup)).toThrow(RangeError);
  });
});

describe('verification refuses what does not prove', () => {
  const leaves = Array.from({ length: 40 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
  const store = storeOf(leaves);
  const someHash = hex('abacaba000000000000000000000000000000000000000000060061e00123456');
  const flip = (proof: Buffer[], i: number): Buffer[] => proof.map((h, j) => (j === i ? Buffer.from(h.map((b, k) => (k === 0 ? b ^ 8 : b))) : h));

  // The corruptions of transparency-dev/merkle proof/verify_test.go (corruptInclusionProof,
  // corruptConsistencyProof), applied to every proof of trees up to 40 leaves. (Not "size + 1": a
  // proof for leaf 0 of 3 has the shape of one for leaf 0 of 4, and RFC 9162 verification cannot tell
  // them apart; the signed checkpoint is what binds a size to its root.)
  it('rejects a wrong index, size, leaf or root, and a proof with hashes added, removed or flipped', () => {
    for (let size = 1; size <= 40; size += 1) {
      const root = rootOf(size, store.lookup);
      for (let index = 0; index < size; index += 1) {
        const leaf = leaves[index]!;
        const proof = inclusionProof(index, size, store.lookup);
        expect(verifyInclusion(leaf, index, size, proof, root)).toBe(true);
        const probes: [string, Uint8Array, number, number, Uint8Array[], Uint8Array][] = [
          ['index - 1', leaf, index - 1, size, proof, root],
          ['index + 1', leaf, index + 1, size, proof, root],
          ['index ^ 2', leaf, index ^ 2, size, proof, root],
          ['size * 2', leaf, index, size * 2, proof, root],
          ['size / 2', leaf, index, Math.floor(size / 2), proof, root],
          ['wrong leaf', leafHash(Buffer.from('WrongLeaf')), index, size, proof, root],
          ['empty root', leaf, index, size, proof, EMPTY_ROOT],
          ['random root', leaf, index, size, proof, someHash],
          ['trailing garbage', leaf, index, size, [...proof, Buffer.alloc(0)], root],
          ['trailing root', leaf, index, size, [...proof, root], root],
          ['preceding garbage', leaf, index, size, [Buffer.alloc(0), ...proof], root],
          ['preceding root', leaf, index, size, [root, ...proof], root],
          ...proof.map((_, i) => [`flipped proof[${i}]`, leaf, index, size, flip(proof, i), root] as [string, Uint8Array, number, number, Uint8Array[], Uint8Array]),
        ];
        if (proof.length > 0) probes.push(['removed component', leaf, index, size, proof.slice(0, -1), root]);
        if (proof.length > 1) probes.push(['inserted component', leaf, index, size, [proof[0]!, someHash, ...proof.slice(1)], root]);
        for (const [what, l, i, s, p, r] of probes) expect(verifyInclusion(l, i, s, p, r), `${what} at ${index}/${size}`).toBe(false);
      }
    }
  });

  it('rejects wrong sizes, wrong or swapped roots, an empty proof, and hashes added, removed or flipped', () => {
    for (let to = 2; to <= 40; to += 1) {
      const root2 = rootOf(to, store.lookup);
      for (let from = 1; from < to; from += 1) {
        const root1 = rootOf(from, store.lookup);
        const proof = consistencyProof(from, to, store.lookup);
        expect(verifyConsistency(from, to, proof, root1, root2)).toBe(true);
        const probes: [string, number, number, Uint8Array[], Uint8Array, Uint8Array][] = [
          ['from - 1', from - 1, to, proof, root1, root2],
          ['from + 1', from + 1, to, proof, root1, root2],
          ['from ^ 2', from ^ 2, to, proof, root1, root2],
          ['to * 2', from, to * 2, proof, root1, root2],
          ['to / 2', from, Math.floor(to / 2), proof, root1, root2],
          ['wrong root1', from, to, proof, someHash, root2],
          ['wrong root2', from, to, proof, root1, someHash],
          ['swapped roots', from, to, proof, root2, root1],
          ['empty proof', from, to, [], root1, root2],
          ['trailing garbage', from, to, [...proof, Buffer.alloc(0)], root1, root2],
          ['trailing root1', from, to, [...proof, root1], root1, root2],
          ['trailing root2', from, to, [...proof, root2], root1, root2],
          ['preceding garbage', from, to, [Buffer.alloc(0), ...proof], root1, root2],
          ['preceding root1', from, to, [root1, ...proof], root1, root2],
          ['preceding root2', from, to, [root2, ...proof], root1, root2],
          ['preceding proof[0]', from, to, [proof[0]!, ...proof], root1, root2],
          ['truncated', from, to, proof.slice(0, -1), root1, root2],
          ['fromSize > toSize', to, from, proof, root2, root1],
          ...proof.map((_, i) => [`flipped proof[${i}]`, from, to, flip(proof, i), root1, root2] as [string, number, number, Uint8Array[], Uint8Array, Uint8Array]),
        ];
        for (const [what, f, t, p, r1, r2] of probes) expect(verifyConsistency(f, t, p, r1, r2), `${what} at ${from}->${to}`).toBe(false);
      }
    }
  });

  it('treats equal sizes and the empty tree strictly', () => {
    const root = rootOf(5, store.lookup);
    expect(verifyConsistency(5, 5, [], root, root)).toBe(true);
    expect(verifyConsistency(5, 5, [], root, someHash)).toBe(false);
    expect(verifyConsistency(5, 5, [root], root, root)).toBe(false);
    expect(verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)).toBe(true);
    expect(verifyConsistency(0, 5, [], EMPTY_ROOT, root)).toBe(true);
    expect(verifyConsistency(0, 5, [], someHash, root)).toBe(false);
    expect(verifyConsistency(0, 5, [EMPTY_ROOT], EMPTY_ROOT, root)).toBe(false);
    expect(verifyInclusion(leaves[0]!, 0, 1, [], leaves[0]!)).toBe(true);
    expect(verifyInclusion(leaves[0]!, 0, 0, [], leaves[0]!)).toBe(false);
  });

  it('answers false, never throws, on input of the wrong type or size', () => {
    const root = rootOf(8, store.lookup);
    const proof = inclusionProof(3, 8, store.lookup);
    const bad: unknown[][] = [
      [leaves[3], 3, 8, proof, root.subarray(1)],
      [leaves[3]!.subarray(0, 31), 3, 8, proof, root],
      [leaves[3], 3, 8, null, root],
      [leaves[3], 3, 8, 'proof', root],
      [leaves[3], 3, 8, [...proof.slice(0, 2), 'x'], root],
      [leaves[3], 3.5, 8, proof, root],
      [leaves[3], -3, 8, proof, root],
      [leaves[3], 3, Number.NaN, proof, root],
      [leaves[3], 3, Number.POSITIVE_INFINITY, proof, root],
      [leaves[3], 3, 2 ** 60, proof, root],
      ['leaf', 3, 8, proof, root],
      [undefined, undefined, undefined, undefined, undefined],
    ];
    const verify = verifyInclusion as (...args: unknown[]) => boolean;
    const consistent = verifyConsistency as (...args: unknown[]) => boolean;
    for (const args of bad) {
      expect(() => verify(...args)).not.toThrow();
      expect(verify(...args)).toBe(false);
    }
    const cproof = consistencyProof(3, 8, store.lookup);
    const root3 = rootOf(3, store.lookup);
    for (const args of [
      [3, 8, cproof, root3.subarray(2), root],
      [3, 8, null, root3, root],
      [3, '8', cproof, root3, root],
      [-1, 8, cproof, root3, root],
      [3, 8, [cproof[0], 7], root3, root],
      [],
    ]) {
      expect(() => consistent(...args)).not.toThrow();
      expect(consistent(...args)).toBe(false);
    }
    expect(verifyConsistency(3, 8, cproof, root3, root)).toBe(true);
  });
});

describe('a log of 1,000,000 events', () => {
  it('answers a root and proofs from O(log n) stored nodes (times printed, not asserted)', { timeout: 180_000 }, () => {
    const n = 1_000_000;
    const store = new Store();
    const started = performance.now();
    const leaf = Buffer.alloc(32);
    for (let i = 0; i < n; i += 1) {
      leaf.writeUInt32BE(i, 0);
      store.append(leafHash(leaf));
    }
    const built = performance.now();

    store.lookups = 0;
    let t = performance.now();
    const root = rootOf(n, store.lookup);
    const rootMs = performance.now() - t;
    const rootLookups = store.lookups;

    store.lookups = 0;
    const index = 765_432;
    t = performance.now();
    const proof = inclusionProof(index, n, store.lookup);
    const proofMs = performance.now() - t;
    const proofLookups = store.lookups;

    store.lookups = 0;
    t = performance.now();
    const cproof = consistencyProof(654_321, n, store.lookup);
    const consistencyMs = performance.now() - t;
    const consistencyLookups = store.lookups;

    t = performance.now();
    const included = verifyInclusion(store.lookup({ level: 0, index })!, index, n, proof, root);
    const verifyMs = performance.now() - t;
    const consistent = verifyConsistency(654_321, n, cproof, rootOf(654_321, store.lookup), root);

    console.info(
      `1,000,000 leaves: built ${store.nodes.size} stored nodes in ${Math.round(built - started)} ms; ` +
        `root ${rootMs.toFixed(3)} ms (${rootLookups} lookups); inclusion proof ${proofMs.toFixed(3)} ms ` +
        `(${proof.length} hashes, ${proofLookups} lookups); consistency proof ${consistencyMs.toFixed(3)} ms ` +
        `(${cproof.length} hashes, ${consistencyLookups} lookups); inclusion verified in ${verifyMs.toFixed(3)} ms`,
    );
    expect(included).toBe(true);
    expect(consistent).toBe(true);
    // What makes it O(log n): nodes touched, not time. log2(1e6) < 20.
    expect(rootLookups).toBeLessThanOrEqual(20);
    expect(proofLookups).toBeLessThanOrEqual(2 * 20);
    expect(consistencyLookups).toBeLessThanOrEqual(2 * 20);
    expect(store.nodes.size).toBe(2 * n - 7); // one per complete subtree: n leaves + n - popcount(n) nodes (popcount(1e6) = 7)
  });
});
