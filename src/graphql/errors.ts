// The expected-failure types of every result union, with the seeds' envelope fields.
import type { ErrorEnvelope, GatewayError, ValidationError as ValidationErrorValue } from '../errors.ts';
import { builder } from './builder.ts';

export const ErrorInterface = builder.interfaceRef<ErrorEnvelope>('Error').implement({
  description: "An expected failure, shaped like the providers' error envelope (code, message, trace id …).",
  fields: (t) => ({
    code: t.exposeString('code', { description: 'Stable machine-readable code, e.g. NOT_FOUND.' }),
    message: t.exposeString('message', { description: 'A sentence for people.' }),
    systemMessage: t.exposeString('systemMessage', { nullable: true, description: 'What exactly went wrong, for developers.' }),
    type: t.exposeString('type', { description: 'client_error, authorization_error …' }),
    status: t.exposeInt('status', { description: 'The HTTP status this failure would have in a REST API.' }),
    details: t.field({ type: 'JSON', nullable: true, resolve: (error) => error.details }),
    traceId: t.exposeString('traceId', { description: 'Quote it when asking for help; it is in the audit trail and the logs.' }),
    timestamp: t.field({ type: 'DateTime', resolve: (error) => error.timestamp }),
  }),
});

export const NotFoundError = builder.objectRef<GatewayError>('NotFoundError').implement({
  description: 'No such resource in your organisation (code NOT_FOUND, 404).',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => (value as GatewayError).__typename === 'NotFoundError',
});

export const PermissionDeniedError = builder.objectRef<GatewayError>('PermissionDeniedError').implement({
  description: 'Your role or ownership does not allow this (code INSUFFICIENT_PERMISSIONS, 403).',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => (value as GatewayError).__typename === 'PermissionDeniedError',
});

export const ValidationError = builder.objectRef<ValidationErrorValue>('ValidationError').implement({
  description: 'An argument is malformed (code VALIDATION_ERROR, 400); `field` names it.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => (value as GatewayError).__typename === 'ValidationError',
  fields: (t) => ({
    field: t.exposeString('field', { nullable: true, description: 'The offending argument or input field.' }),
  }),
});

export const ERROR_TYPES = [NotFoundError, PermissionDeniedError, ValidationError] as const;
