import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORG, OTHER_ORG, TEST_CREDENTIALS, deletesTo, startTestGateway, type TestGateway } from './support/harness.ts';

const DELETE_TRACK = `mutation($organizationId: ID!, $trackId: ID!) {
  deleteTrack(organizationId: $organizationId, trackId: $trackId) {
    __typename
    ... on TrackDeletion {
      organizationId trackId detail deleted deletedAt deletedUpstream alreadyDeleted
      upstream { kind status attempts reason lastHttpStatus providerResponse }
      auditEvent { outcome action actor resourceId }
    }
    ... on Error { code message status }
    ... on ValidationError { field }
  }
}`;

const trackPath = (org: string, track: string) => `/v1/music/${org}/tracks/${track}`;

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.close();
});

async function track(id: string, ownerId = 'bob', organizationId = ORG, attributes?: Record<string, unknown>): Promise<void> {
  await t.register([{ kind: 'TRACK', id, organizationId, ownerId, ...(attributes ? { attributes } : {}) }]);
}

const REGISTER = `mutation($r: [ResourceInput!]!) {
  registerResources(resources: $r) { __typename ... on RegisterResourcesPayload { registered } ... on ValidationError { field message } }
}`;

function musicCalls() {
  return t.simulators.aitronos.requests.filter((r) => r.method === 'DELETE' && r.path.startsWith('/v1/music/'));
}

describe('deleteTrack', () => {
  it('sends one DELETE to /v1/music/{org}/tracks/{id} with X-API-Key and no Authorization header', async () => {
    await track('mtrack_first');
    const answer = await t.gql(t.keys.member, DELETE_TRACK, { organizationId: ORG, trackId: 'mtrack_first' });
    expect(answer.body.data!.deleteTrack).toMatchObject({
      __typename: 'TrackDeletion',
      organizationId: ORG,
      trackId: 'mtrack_first',
      detail: 'Track deleted.',
      deleted: true,
      deletedUpstream: true,
      alreadyDeleted: false,
      upstream: { kind: 'TRACK', status: 'DELETED', attempts: 1, lastHttpStatus: 200, providerResponse: { detail: 'Track deleted.' } },
      auditEvent: { outcome: 'DELETED', action: 'track.delete', resourceId: 'mtrack_first', actor: expect.stringContaining('user:bob') },
    });
    const calls = deletesTo(t.simulators.aitronos, trackPath(ORG, 'mtrack_first'));
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers['x-api-key']).toBe(TEST_CREDENTIALS.aitronosApiKey);
    expect(calls[0]!.headers.authorization).toBeUndefined();
  });

  it("puts the Aitronos organisation a track was registered with in the URL, and the track's own organisation when it has none", async () => {
    await track('mtrack_elsewhere', 'bob', ORG, { aitronosOrganizationId: 'aitronos_studio_9' });
    await track('mtrack_home');
    // Aitronos knows each track under one organisation only: any other in the URL is its 404.
    t.simulators.aitronos.setTrackOrganization('mtrack_elsewhere', 'aitronos_studio_9');
    t.simulators.aitronos.setTrackOrganization('mtrack_home', ORG);
    const elsewhere = await t.gql(t.keys.member, DELETE_TRACK, { organizationId: ORG, trackId: 'mtrack_elsewhere' });
    expect(elsewhere.body.data!.deleteTrack).toMatchObject({
      organizationId: ORG,
      deletedUpstream: true,
      upstream: { status: 'DELETED', lastHttpStatus: 200, reason: null },
    });
    expect(deletesTo(t.simulators.aitronos, trackPath('aitronos_studio_9', 'mtrack_elsewhere'))).toHaveLength(1);
    expect(musicCalls().filter((c) => c.path.includes('mtrack_elsewhere'))).toHaveLength(1);

    const home = await t.gql(t.keys.member, DELETE_TRACK, { organizationId: ORG, trackId: 'mtrack_home' });
    expect(home.body.data!.deleteTrack).toMatchObject({ organizationId: ORG, upstream: { status: 'DELETED', lastHttpStatus: 200 } });
    expect(deletesTo(t.simulators.aitronos, trackPath(ORG, 'mtrack_home'))).toHaveLength(1);
  });

  it('refuses to register a track whose aitronosOrganizationId is not an id (ValidationError on attributes), and registers a valid one', async () => {
    for (const aitronosOrganizationId of ['../admin', 'org a', '', 'x'.repeat(129), 42, null]) {
      const answer = await t.gql(t.keys.admin, REGISTER, {
        r: [{ kind: 'TRACK', id: 'mtrack_badorg', organizationId: ORG, ownerId: 'bob', attributes: { aitronosOrganizationId } }],
      });
      expect(answer.body.data!.registerResources, JSON.stringify(aitronosOrganizationId)).toMatchObject({ __typename: 'ValidationError', field: 'attributes' });
    }
    const good = await t.gql(t.keys.admin, REGISTER, {
      r: [{ kind: 'TRACK', id: 'mtrack_goodorg', organizationId: ORG, ownerId: 'bob', attributes: { aitronosOrganizationId: 'aitronos_org-7' } }],
    });
    expect(good.body.data!.registerResources).toEqual({ __typename: 'RegisterResourcesPayload', registered: 1 });
  });

  it('never calls a URL built from an aitronosOrganizationId that is not an id (a row written around registration): FAILED INVALID_ID', async () => {
    await track('mtrack_legacy');
    await t.sqlRun("UPDATE resources SET attributes = ? WHERE kind = 'TRACK' AND id = 'mtrack_legacy'", [
      JSON.stringify({ aitronosOrganizationId: '../../audio/transcribe/trans_x' }),
    ]);
    const answer = await t.gql(t.keys.member, DELETE_TRACK, { organizationId: ORG, trackId: 'mtrack_legacy' });
    expect(answer.body.data!.deleteTrack).toMatchObject({ deleted: true, deletedUpstream: false, upstream: { status: 'FAILED', reason: 'INVALID_ID' } });
    expect(t.simulators.aitronos.requests.filter((r) => r.path.includes('mtrack_legacy') || r.path.includes('trans_x'))).toHaveLength(0);
  });

  it('replays with alreadyDeleted and no second provider call', async () => {
    await track('mtrack_replay');
    const first = await t.gql(t.keys.member, DELETE_TRACK, { organizationId: ORG, trackId: 'mtrack_replay' });
    const again = await t.gql(t.keys.member, DELETE_TRACK, { organizationId: ORG, trackId: 'mtrack_replay' });
    expect(again.body.data!.deleteTrack).toMatchObject({
      __typename: 'TrackDeletion',
      alreadyDeleted: true,
      deletedAt: first.body.data!.deleteTrack.deletedAt,
      deletedUpstream: true,
      detail: 'Track deleted.',
      auditEvent: { outcome: 'ALREADY_DELETED' },
    });
    expect(deletesTo(t.simulators.aitronos, trackPath(ORG, 'mtrack_replay'))).toHaveLength(1);
  });

  it("counts Aitronos' own 404 envelope as deleted, but an HTML 404 as FAILED UNRECOGNIZED_RESPONSE", async () => {
    await track('mtrack_gone');
    await track('mtrack_proxy');
    t.simulators.aitronos.markMissing(trackPath(ORG, 'mtrack_gone'));
    const gone = await t.gql(t.keys.member, DELETE_TRACK, { organizationId: ORG, trackId: 'mtrack_gone' });
    expect(gone.body.data!.deleteTrack).toMatchObject({ deletedUpstream: true, upstream: { status: 'DELETED', reason: 'ALREADY_ABSENT', lastHttpStatus: 404 } });

    t.simulators.aitronos.pushFault({ status: 404, body: '<html>Not Found</html>', contentType: 'text/html', path: trackPath(ORG, 'mtrack_proxy') });
    const proxy = await t.gql(t.keys.member, DELETE_TRACK, { organizationId: ORG, trackId: 'mtrack_proxy' });
    expect(proxy.body.data!.deleteTrack).toMatchObject({
      deleted: true,
      deletedUpstream: false,
      upstream: { status: 'FAILED', reason: 'UNRECOGNIZED_RESPONSE', lastHttpStatus: 404 },
    });
  });

  it('keeps the provider deletion PENDING on 503 and says so in detail', async () => {
    await track('mtrack_busy');
    t.simulators.aitronos.pushFault({ status: 503, path: trackPath(ORG, 'mtrack_busy') });
    const answer = await t.gql(t.keys.member, DELETE_TRACK, { organizationId: ORG, trackId: 'mtrack_busy' });
    expect(answer.body.data!.deleteTrack).toMatchObject({
      deleted: true,
      deletedUpstream: false,
      detail: 'Deleted here; the provider deletion is pending and retried.',
      upstream: { status: 'PENDING', reason: 'PROVIDER_UNAVAILABLE', lastHttpStatus: 503 },
    });
  });

  it("fails the provider deletion when Aitronos answers 403 (it does not see the caller as the creator)", async () => {
    await track('mtrack_mismatch');
    t.simulators.aitronos.setTrackCreatorMismatch('mtrack_mismatch');
    const answer = await t.gql(t.keys.member, DELETE_TRACK, { organizationId: ORG, trackId: 'mtrack_mismatch' });
    expect(answer.body.data!.deleteTrack).toMatchObject({
      deleted: true,
      deletedUpstream: false,
      upstream: { status: 'FAILED', reason: 'FORBIDDEN', lastHttpStatus: 403 },
    });
  });

  it("answers NotFoundError when organizationId is not the caller's and the track's, and calls nobody", async () => {
    await track('mtrack_mine');
    await track('mtrack_theirs', 'oscar', OTHER_ORG);
    const cases = [
      // The caller's track, named with another organisation.
      { key: t.keys.member, organizationId: OTHER_ORG, trackId: 'mtrack_mine' },
      // Another organisation's track, named with its own organisation, asked from org_a.
      { key: t.keys.member, organizationId: OTHER_ORG, trackId: 'mtrack_theirs' },
      // Another organisation's track, named with the caller's organisation.
      { key: t.keys.member, organizationId: ORG, trackId: 'mtrack_theirs' },
      // The track's own organisation asked by a caller of another one.
      { key: t.keys.otherMember, organizationId: ORG, trackId: 'mtrack_mine' },
    ];
    for (const { key, organizationId, trackId } of cases) {
      const answer = await t.gql(key, DELETE_TRACK, { organizationId, trackId });
      expect(answer.body.data!.deleteTrack, `${organizationId}/${trackId}`).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND', status: 404 });
    }
    expect(musicCalls().filter((c) => c.path.includes('mtrack_mine') || c.path.includes('mtrack_theirs'))).toHaveLength(0);
  });

  it('refuses an admin who is not the creator (seed 003: not even an admin), and calls nobody', async () => {
    await track('mtrack_bobs');
    const admin = await t.gql(t.keys.admin, DELETE_TRACK, { organizationId: ORG, trackId: 'mtrack_bobs' });
    expect(admin.body.data!.deleteTrack).toMatchObject({ __typename: 'PermissionDeniedError', code: 'INSUFFICIENT_PERMISSIONS', status: 403 });
    const member = await t.gql(t.keys.member2, DELETE_TRACK, { organizationId: ORG, trackId: 'mtrack_bobs' });
    expect(member.body.data!.deleteTrack).toMatchObject({ __typename: 'PermissionDeniedError' });
    expect(deletesTo(t.simulators.aitronos, trackPath(ORG, 'mtrack_bobs'))).toHaveLength(0);
    const creator = await t.gql(t.keys.member, DELETE_TRACK, { organizationId: ORG, trackId: 'mtrack_bobs' });
    expect(creator.body.data!.deleteTrack).toMatchObject({ __typename: 'TrackDeletion', deletedUpstream: true });
  });

  it('never writes the X-API-Key credential or the callers\' keys to the logs or the provider errors', async () => {
    await track('mtrack_secret');
    t.simulators.aitronos.pushFault({
      status: 401,
      body: { success: false, error: { code: 'AUTHENTICATION_REQUIRED', status: 401, message: `bad key ${TEST_CREDENTIALS.aitronosApiKey}` } },
      path: trackPath(ORG, 'mtrack_secret'),
    });
    const answer = await t.gql(t.keys.member, `mutation { deleteTrack(organizationId: "${ORG}", trackId: "mtrack_secret") { ... on TrackDeletion { upstream { status lastError } } } }`);
    const upstream = answer.body.data!.deleteTrack.upstream;
    expect(upstream.status).toBe('FAILED');
    expect(upstream.lastError).not.toContain(TEST_CREDENTIALS.aitronosApiKey);
    const logs = t.logs.join('\n');
    expect(logs).toContain('provider_call');
    for (const secret of [TEST_CREDENTIALS.aitronosApiKey, t.keys.member, t.keys.admin]) expect(logs).not.toContain(secret);
  });

  it('rejects a malformed trackId or organizationId with ValidationError naming the argument', async () => {
    const before = t.simulators.aitronos.requests.length;
    const badTrack = await t.gql(t.keys.member, DELETE_TRACK, { organizationId: ORG, trackId: 'mtrack_x/../../audio' });
    expect(badTrack.body.data!.deleteTrack).toMatchObject({ __typename: 'ValidationError', field: 'trackId' });
    const badOrg = await t.gql(t.keys.member, DELETE_TRACK, { organizationId: 'org a', trackId: 'mtrack_first' });
    expect(badOrg.body.data!.deleteTrack).toMatchObject({ __typename: 'ValidationError', field: 'organizationId' });
    expect(t.simulators.aitronos.requests.length).toBe(before);
  });
});
