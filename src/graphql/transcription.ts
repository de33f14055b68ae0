// deleteTranscription: Aitronos audio transcriptions (trans_ ids) and Rev AI jobs.
import type { Provider } from '../domain.ts';
import type { DeletionSuccess } from '../deletion/pipeline.ts';
import { DeletionInterface, deleteMutation } from './deletion.ts';
import { ProviderEnum } from './enums.ts';
import { builder } from './builder.ts';

const TranscriptionDeletion = builder.objectRef<DeletionSuccess>('TranscriptionDeletion').implement({
  description: 'A deleted transcription. Rev AI jobs still in progress stay PENDING (reason JOB_IN_PROGRESS) until they complete.',
  interfaces: [DeletionInterface],
  fields: (t) => ({
    transcriptionId: t.id({ resolve: (d) => d.resource.id }),
    provider: t.field({ type: ProviderEnum, resolve: (d) => d.resource.provider as Provider }),
  }),
});

deleteMutation<{ transcriptionId: string }, DeletionSuccess>({
  kind: 'TRANSCRIPTION',
  field: 'deleteTranscription',
  idArg: 'transcriptionId',
  result: 'DeleteTranscriptionResult',
  description: 'Delete a transcription (Aitronos audio or Rev AI). Admins and members of its organisation may.',
  args: { transcriptionId: 'The transcription id: `trans_…` at Aitronos, the job id at Rev AI.' },
  payload: TranscriptionDeletion,
});
