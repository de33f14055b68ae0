// Sandbox mode: the provider simulators on loopback, a demo organisation with an admin, a member and a
// viewer key, and demo resources of every kind, all printed. Never in production (config refuses).
import { randomBytes } from 'node:crypto';
import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import { run as runStatement } from './db/sql.ts';
import { createKey } from './auth/keys.ts';
import { registerResources, type ResourceInputValue } from './catalog/register.ts';
import type { Runtime } from './runtime.ts';
import { startSimulators, type Simulators } from './simulators/launcher.ts';

export const DEMO_ORG = 'org_demo';
const CUSTOM_BUCKET = 'demo-custom-recordings';

export interface Sandbox {
  simulators: Simulators;
  config: Config;
  keys: { admin: string; member: string; viewer: string };
  resources: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts the simulators and returns the config pointed at them, with sandbox credentials. */
export async function startSandboxProviders(config: Config): Promise<{ simulators: Simulators; config: Config }> {
  const secret = (name: string) => `sandbox-${name}-${randomBytes(8).toString('hex')}`;
  const credentials = {
    aitronosApiKey: secret('aitronos'),
    scriptixApiKey: secret('scriptix'),
    dailyApiKey: secret('daily'),
    revaiAccessToken: secret('revai'),
  };
  const customBuckets = config.daily.customBuckets.length > 0 ? config.daily.customBuckets : [CUSTOM_BUCKET];
  const simulators = await startSimulators({ credentials, dailyCustomBucket: customBuckets[0]! });
  return {
    simulators,
    config: {
      ...config,
      aitronos: { baseUrl: simulators.baseUrls.aitronos, credential: credentials.aitronosApiKey },
      scriptix: { baseUrl: simulators.baseUrls.scriptix, credential: credentials.scriptixApiKey },
      daily: { baseUrl: simulators.baseUrls.daily, credential: credentials.dailyApiKey, customBuckets },
      revai: { baseUrl: simulators.baseUrls.revai, credential: credentials.revaiAccessToken },
    },
  };
}

/**
 * Seeds the demo organisation: fresh keys (the previous run's demo keys are revoked, since a key is
 * shown only once) and fresh demo resources with a per-run suffix, so every start has live ones.
 */
export async function seedDemo(db: Database, runtime: Runtime, config: Config, simulators: Simulators) {
  const now = runtime.clock.now().toISOString();
  await db.write(() =>
    runStatement("UPDATE api_keys SET revoked_at = ? WHERE organization_id = ? AND substr(label, 1, 8) = 'sandbox:' AND revoked_at IS NULL", [now, DEMO_ORG]),
  );
  const key = async (user: string, role: string) =>
    (await createKey(db, runtime, { organizationId: DEMO_ORG, userId: user, role, label: `sandbox:${role}` })).key;
  const keys = { admin: await key('ada', 'admin'), member: await key('mo', 'member'), viewer: await key('vi', 'viewer') };

  const run = randomBytes(3).toString('hex');
  const ids = {
    aitronosTranscription: `trans_demo${run}`,
    revaiTranscription: `revjob${run}`,
    revaiTranscriptionInProgress: `revjobbusy${run}`,
    session: `sess_demo${run}`,
    document: `doc_demo${run}`,
    document2: `doc_demo${run}b`,
    comment: `cmt_demo${run}`,
    track: `mtrack_demo${run}`,
    batchJob: crypto.randomUUID(),
    // The demo data subject (eraseSubject): something at every provider, a session of their own
    // (deleted with its document and comment in one call) and a document in a session of mo's (one by
    // one; not the demo session above, whose cascade counts the other demo operations show).
    erasureSubject: `demo-subject-${run}`,
    subjectTranscription: `trans_subj${run}`,
    subjectRevaiTranscription: `revsubj${run}`,
    subjectSession: `sess_subj${run}`,
    subjectDocument: `doc_subj${run}`,
    subjectComment: `cmt_subj${run}`,
    subjectDocumentElsewhere: `doc_subj${run}x`,
    moSession: `sess_mo${run}`,
    subjectTrack: `mtrack_subj${run}`,
    subjectBatchJob: crypto.randomUUID(),
  };
  simulators.revai.setJobState(ids.revaiTranscriptionInProgress, 'in_progress');
  const bucket = config.daily.customBuckets[0] ?? CUSTOM_BUCKET;
  const owned = (ownerId: string) => ({ organizationId: DEMO_ORG, ownerId });
  const inputs: ResourceInputValue[] = [
    { kind: 'TRANSCRIPTION', id: ids.aitronosTranscription, provider: 'AITRONOS_AUDIO', ...owned('mo') },
    { kind: 'TRANSCRIPTION', id: ids.revaiTranscription, provider: 'REV_AI', ...owned('mo'), status: 'transcribed' },
    { kind: 'TRANSCRIPTION', id: ids.revaiTranscriptionInProgress, provider: 'REV_AI', ...owned('mo'), status: 'in_progress' },
    { kind: 'SESSION', id: ids.session, ...owned('mo') },
    { kind: 'DOCUMENT', id: ids.document, sessionId: ids.session, ...owned('mo') },
    { kind: 'DOCUMENT', id: ids.document2, sessionId: ids.session, ...owned('mo') },
    { kind: 'COMMENT', id: ids.comment, sessionId: ids.session, documentId: ids.document, ...owned('vi') },
    { kind: 'TRACK', id: ids.track, ...owned('ada') },
    {
      kind: 'BATCH_JOB',
      id: ids.batchJob,
      ...owned('mo'),
      attributes: {
        output: {
          transcription: [{ format: 'txt', s3Config: { bucket, key: `${bucket}/${ids.batchJob}/transcript/output.txt`, region: 'eu-central-1' } }],
        },
      },
    },
    ...subjectResources(ids),
  ];
  const result = await registerResources(db, runtime, { operator: true }, { traceId: 'sandbox', now: runtime.clock.now() }, inputs);
  if ('__typename' in result) throw new Error(`sandbox seeding failed: ${result.message}`);
  return { keys, resources: ids };
}

/** The demo data subject's resources, at all five providers. */
function subjectResources(ids: Record<string, string>): ResourceInputValue[] {
  const theirs = { organizationId: DEMO_ORG, ownerId: ids.erasureSubject! };
  return [
    { kind: 'TRANSCRIPTION', id: ids.subjectTranscription!, provider: 'AITRONOS_AUDIO', ...theirs },
    { kind: 'TRANSCRIPTION', id: ids.subjectRevaiTranscription!, provider: 'REV_AI', ...theirs, status: 'transcribed' },
    { kind: 'SESSION', id: ids.subjectSession!, ...theirs },
    { kind: 'DOCUMENT', id: ids.subjectDocument!, sessionId: ids.subjectSession!, ...theirs },
    { kind: 'COMMENT', id: ids.subjectComment!, sessionId: ids.subjectSession!, documentId: ids.subjectDocument!, ...theirs },
    { kind: 'SESSION', id: ids.moSession!, organizationId: DEMO_ORG, ownerId: 'mo' },
    { kind: 'DOCUMENT', id: ids.subjectDocumentElsewhere!, sessionId: ids.moSession!, ...theirs },
    { kind: 'TRACK', id: ids.subjectTrack!, ...theirs },
    { kind: 'BATCH_JOB', id: ids.subjectBatchJob!, ...theirs },
  ];
}

export function sandboxBanner(url: string, keys: Sandbox['keys'], ids: Record<string, string>, simulators: Simulators): string {
  const line = '='.repeat(78);
  return [
    line,
    '  SANDBOX — provider simulators on loopback; nothing leaves this machine.',
    line,
    `  GraphiQL:      ${url}/graphql   (opens with the admin key filled in)`,
    `  Organisation:  ${DEMO_ORG}`,
    `  Admin key:     ${keys.admin}   (user ada)`,
    `  Member key:    ${keys.member}   (user mo)`,
    `  Viewer key:    ${keys.viewer}   (user vi)`,
    '  Demo resources:',
    `    deleteTranscription(transcriptionId: "${ids.aitronosTranscription}")   Aitronos audio`,
    `    deleteTranscription(transcriptionId: "${ids.revaiTranscription}")   Rev AI (completed)`,
    `    deleteTranscription(transcriptionId: "${ids.revaiTranscriptionInProgress}")   Rev AI (in progress → PENDING)`,
    `    deleteSession(sessionId: "${ids.session}")   2 documents, 1 comment (owner mo)`,
    `    deleteDocument(sessionId: "${ids.session}", documentId: "${ids.document}")`,
    `    deleteComment(sessionId: "${ids.session}", documentId: "${ids.document}", commentId: "${ids.comment}")`,
    `    deleteTrack(organizationId: "${DEMO_ORG}", trackId: "${ids.track}")   creator ada only`,
    `    deleteBatchJob(batchJobId: "${ids.batchJob}")`,
    `  Demo data subject: ${ids.erasureSubject}   8 resources at all five providers`,
    `    eraseSubject(input: { subjectId: "${ids.erasureSubject}" })   or: gateway erasure request --org ${DEMO_ORG} --subject ${ids.erasureSubject}`,
    '  Simulators (faults: POST {url}/__sim/faults, e.g. {"status":503,"times":3}):',
    ...Object.entries(simulators.baseUrls).map(([name, base]) => `    ${name.padEnd(9)} ${base}`),
    line,
  ].join('\n');
}

export function sandboxQuery(ids: Record<string, string>): string {
  return `# SANDBOX: the Headers tab below holds the demo admin key. Run an operation with ▶.

mutation DeleteDemoTranscription {
  deleteTranscription(transcriptionId: "${ids.aitronosTranscription}") {
    __typename
    ... on TranscriptionDeletion {
      transcriptionId provider deleted deletedAt deletedUpstream alreadyDeleted
      upstream { status attempts reason lastHttpStatus providerResponse }
      auditEvent { id outcome hash }
      metadata { requestId processingTimeMs }
    }
    ... on Error { code message systemMessage traceId }
  }
}

# Live status: run WatchDemoTranscription in a second tab (+ above the editor), then
# DeleteDemoTranscription here. It sends the current state first (nothing before a delete), then
# each change, and ends after DELETED or FAILED.
subscription WatchDemoTranscription {
  upstreamDeletionChanged(kind: TRANSCRIPTION, id: "${ids.aitronosTranscription}") {
    kind resourceId provider status attempts reason lastHttpStatus nextAttemptAt completedAt
  }
}

mutation DeleteDemoRevAiJobInProgress {
  deleteTranscription(transcriptionId: "${ids.revaiTranscriptionInProgress}") {
    __typename
    ... on TranscriptionDeletion { provider deletedUpstream upstream { status reason nextAttemptAt } }
    ... on Error { code message }
  }
}

mutation DeleteDemoComment {
  deleteComment(sessionId: "${ids.session}", documentId: "${ids.document}", commentId: "${ids.comment}") {
    __typename
    ... on CommentDeletion { commentId deletedUpstream upstream { status } }
    ... on Error { code message }
  }
}

mutation DeleteDemoDocument {
  deleteDocument(sessionId: "${ids.session}", documentId: "${ids.document}") {
    __typename
    ... on DocumentDeletion { documentId commentsDeleted deletedUpstream alreadyDeleted }
    ... on Error { code message }
  }
}

mutation DeleteDemoTrack {
  deleteTrack(organizationId: "${DEMO_ORG}", trackId: "${ids.track}") {
    __typename
    ... on TrackDeletion { trackId detail deletedUpstream }
    ... on Error { code message }
  }
}

mutation DeleteDemoBatchJob {
  deleteBatchJob(batchJobId: "${ids.batchJob}") {
    __typename
    ... on BatchJobDeletion { batchJobId deletedUpstream job { status } retainedObjects { bucket key region format } }
    ... on Error { code message }
  }
}

mutation DeleteDemoSession {
  deleteSession(sessionId: "${ids.session}") {
    __typename
    ... on SessionDeletion { sessionId documentsDeleted commentsDeleted deletedUpstream upstream { status } }
    ... on Error { code message }
  }
}

# Many at once: validateOnly previews (nothing written, no provider called); drop it to delete.
mutation PreviewDemoCleanup {
  deleteResources(validateOnly: true, targets: [
    { kind: SESSION, id: "${ids.session}" }
    { kind: TRANSCRIPTION, id: "${ids.revaiTranscription}" }
    { kind: BATCH_JOB, id: "${ids.batchJob}" }
    { kind: TRACK, id: "${ids.track}", organizationId: "${DEMO_ORG}" }
  ]) {
    __typename
    ... on DeleteResourcesPayload {
      validateOnly deleted alreadyDeleted rejected
      results {
        __typename
        ... on DeletionPreview { kind id provider alreadyDeleted documentsDeleted commentsDeleted retainedObjects { bucket key } }
        ... on Deletion { deletedUpstream alreadyDeleted upstream { kind resourceId status } }
        ... on Error { code message }
      }
    }
    ... on ValidationError { field message }
  }
}

# Erase a person everywhere (GDPR Art. 17): everything the demo subject holds, at every provider.
# Answers at once (RUNNING); run DemoErasureStatus with the id to watch it complete and get the receipt.
mutation EraseDemoSubject {
  eraseSubject(input: { subjectId: "${ids.erasureSubject}", reason: "demo ticket 1" }) {
    __typename
    ... on ErasureRequest {
      id status dueBy
      totals { resources deleted pending failed alreadyDeleted }
      providers { provider status resources deleted pending failed }
    }
    ... on Error { code message }
  }
}

query DemoErasureStatus($id: ID! = "paste the id EraseDemoSubject gave") {
  erasureRequest(id: $id) { status completedAt totals { resources deleted pending failed } receipt }
}

query DemoReceipt {
  resource(kind: TRANSCRIPTION, id: "${ids.aitronosTranscription}") {
    id deletedAt upstream { status completedAt }
    deletionReceipt { at actor action outcome upstreamHttpStatus hash previousHash }
  }
}
`;
}
