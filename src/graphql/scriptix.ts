// deleteSession, deleteDocument, deleteComment: Scriptix speech-to-text (seed 001).
// A session takes its documents and their comments with it; a document takes its comments.
import type { DeletionSuccess } from '../deletion/pipeline.ts';
import { DeletionInterface, deleteMutation } from './deletion.ts';
import { builder } from './builder.ts';

const SessionDeletion = builder.objectRef<DeletionSuccess>('SessionDeletion').implement({
  description: 'A deleted Scriptix session, with the documents and comments it took along (one provider call).',
  interfaces: [DeletionInterface],
  fields: (t) => ({
    sessionId: t.id({ resolve: (d) => d.resource.id }),
    documentsDeleted: t.int({ description: 'Documents this request newly marked deleted.', resolve: (d) => d.cascade.documents }),
    commentsDeleted: t.int({ description: 'Comments this request newly marked deleted.', resolve: (d) => d.cascade.comments }),
  }),
});

const DocumentDeletion = builder.objectRef<DeletionSuccess>('DocumentDeletion').implement({
  description: 'A deleted Scriptix document, with the comments it took along.',
  interfaces: [DeletionInterface],
  fields: (t) => ({
    sessionId: t.id({ resolve: (d) => d.resource.sessionId ?? '' }),
    documentId: t.id({ resolve: (d) => d.resource.id }),
    commentsDeleted: t.int({ description: 'Comments this request newly marked deleted.', resolve: (d) => d.cascade.comments }),
  }),
});

const CommentDeletion = builder.objectRef<DeletionSuccess>('CommentDeletion').implement({
  description: 'A deleted Scriptix comment.',
  interfaces: [DeletionInterface],
  fields: (t) => ({
    sessionId: t.id({ resolve: (d) => d.resource.sessionId ?? '' }),
    documentId: t.id({ resolve: (d) => d.resource.documentId ?? '' }),
    commentId: t.id({ resolve: (d) => d.resource.id }),
  }),
});

deleteMutation<{ sessionId: string }, DeletionSuccess>({
  kind: 'SESSION',
  field: 'deleteSession',
  idArg: 'sessionId',
  result: 'DeleteSessionResult',
  description: 'Delete a Scriptix session and everything in it. Its owner or an admin may.',
  args: { sessionId: 'The Scriptix session id.' },
  payload: SessionDeletion,
});

deleteMutation<{ sessionId: string; documentId: string }, DeletionSuccess>({
  kind: 'DOCUMENT',
  field: 'deleteDocument',
  idArg: 'documentId',
  result: 'DeleteDocumentResult',
  description: 'Delete a document of a Scriptix session and its comments. Its owner or an admin may. A document of another session is NotFoundError.',
  args: { sessionId: 'The session the document belongs to.', documentId: 'The document id.' },
  payload: DocumentDeletion,
  match: (args) => ({ sessionId: args.sessionId }),
});

deleteMutation<{ sessionId: string; documentId: string; commentId: string }, DeletionSuccess>({
  kind: 'COMMENT',
  field: 'deleteComment',
  idArg: 'commentId',
  result: 'DeleteCommentResult',
  description: "Delete a comment of a Scriptix document. The comment's owner, the document's or session's owner, or an admin may.",
  args: { sessionId: 'The session of the document.', documentId: 'The document the comment is on.', commentId: 'The comment id.' },
  payload: CommentDeletion,
  match: (args) => ({ sessionId: args.sessionId, documentId: args.documentId }),
});
