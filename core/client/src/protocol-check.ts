/**
 * Type-level proof that protocol.ts is the core's contract (checked by `npm run build`, never
 * bundled: only `import type`, so the package carries no server code). If an event payload, a view
 * or the problem body changes in the core, one of the `Assert<…>` lines below stops compiling.
 */
import type { ConversationView as CoreConversationView, MessageView as CoreMessageView } from '../../src/chat/views';
import type { Problem as CoreProblem } from '../../src/errors';
import type { AttachmentDownload as CoreAttachmentDownload, UploadTicket as CoreUploadTicket } from '../../src/media/attachment-service';
import type { ClientToServerEvents as CoreC2S, ServerToClientEvents as CoreS2C } from '../../src/realtime/events';
import type { ConversationId, MessageId } from '../../src/domain/ids';
import type * as P from './protocol';

/** Ids are branded strings in the core; on the wire they are strings. */
type Unbrand<T> = T extends ConversationId | MessageId
  ? string
  : T extends (...args: infer A) => infer R
    ? (...args: { [K in keyof A]: Unbrand<A[K]> }) => Unbrand<R>
    : T extends readonly unknown[]
      ? { [K in keyof T]: Unbrand<T[K]> }
      : T extends object
        ? { [K in keyof T]: Unbrand<T[K]> }
        : T;

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
type Fn = (...args: never[]) => unknown;
type Params<T> = T extends Fn ? Parameters<T> : never;
type SameEvents<Core, Mine> = {
  [E in keyof Core]: E extends keyof Mine ? Equal<Unbrand<Params<Core[E]>>, Params<Mine[E]>> : false;
}[keyof Core];

export type Checks = [
  Assert<Equal<keyof CoreC2S, keyof P.ClientToServerEvents>>,
  Assert<SameEvents<CoreC2S, P.ClientToServerEvents>>,
  // The client may listen for events a core does not send yet (conversation_resync), never the reverse.
  Assert<SameEvents<CoreS2C, P.ServerToClientEvents>>,
  Assert<Equal<Unbrand<CoreMessageView>, P.MessageView>>,
  Assert<Equal<Unbrand<CoreConversationView>, P.ConversationView>>,
  Assert<Equal<CoreProblem, P.Problem>>,
  Assert<Equal<CoreUploadTicket, P.UploadTicket>>,
  Assert<Equal<CoreAttachmentDownload, P.AttachmentDownload>>,
];
