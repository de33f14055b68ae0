// deleteTrack: Aitronos music (seed 003). Only the track's creator may delete it, not even an admin.
import type { DeletionSuccess } from '../deletion/pipeline.ts';
import { DeletionInterface, deleteMutation } from './deletion.ts';
import { builder } from './builder.ts';

const TrackDeletion = builder.objectRef<DeletionSuccess>('TrackDeletion').implement({
  description: 'A deleted Aitronos music track.',
  interfaces: [DeletionInterface],
  fields: (t) => ({
    organizationId: t.id({ resolve: (d) => d.resource.organizationId }),
    trackId: t.id({ resolve: (d) => d.resource.id }),
    detail: t.string({
      description: "The provider's confirmation (e.g. \"Track deleted.\"), or a note while the deletion is still pending upstream.",
      resolve: (d) => {
        const detail = d.upstream.result?.detail;
        if (typeof detail === 'string') return detail;
        if (d.upstream.status === 'DELETED') return 'Track deleted.';
        return d.upstream.status === 'PENDING' ? 'Deleted here; the provider deletion is pending and retried.' : 'Deleted here; the provider deletion failed.';
      },
    }),
  }),
});

deleteMutation<{ organizationId: string; trackId: string }, DeletionSuccess>({
  kind: 'TRACK',
  field: 'deleteTrack',
  idArg: 'trackId',
  result: 'DeleteTrackResult',
  description: "Delete an Aitronos music track. Only its creator may (seed 003). `organizationId` must be yours and the track's.",
  args: { organizationId: 'Your organisation, which the track belongs to.', trackId: 'The track id (`mtrack_…`).' },
  payload: TrackDeletion,
  match: (args) => ({ organizationId: args.organizationId }),
});
