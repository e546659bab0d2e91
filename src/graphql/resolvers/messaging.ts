// Messaging domain resolvers: User.messages, sendSms (users + Twilio) and sendEmail (users + SendGrid).
import type { Resolvers } from '../../generated/graphql.js';
import type { Connection } from '../../models/connection.js';
import { type Message, messageTopic } from '../../models/messaging.js';
import { requireAdmin, requireSelfOrAdmin, requireViewer } from '../authz.js';
import { badUserInput, userError } from '../errors.js';
import { checkIdempotencyKey, runIdempotent } from './idempotency.js';
import { checkFirst } from './paging.js';

const EMPTY: Connection<never> = { edges: [], pageInfo: { hasNextPage: false, endCursor: null } };
const MAX_SMS_BODY = 1600; // Twilio's limit, in characters
const EMAIL = /^[^\s@<>()[\],;:"]+@[^\s@<>()[\],;:"]+\.[^\s@<>()[\],;:"]+$/;

export const messagingResolvers: Resolvers = {
  User: {
    messages: (user, { first, after }, ctx) => {
      requireSelfOrAdmin(ctx, user.id);
      const count = checkFirst(first ?? 10);
      const to = user.phone;
      if (!to) return EMPTY;
      return ctx.services.sms.messagesPage(to, { first: count, after }, ctx.upstream);
    },
  },
  Subscription: {
    messageUpdated: {
      subscribe: (_parent, { userId }, ctx) => {
        requireSelfOrAdmin(ctx, userId);
        return ctx.pushes.subscribe(messageTopic(userId));
      },
      resolve: (message: Message) => message,
    },
  },
  MessageConnection: {
    nodes: (connection) => connection.edges.map((edge) => edge.node),
  },
  Mutation: {
    sendSms: async (_parent, { input }, ctx) => {
      const viewer = requireSelfOrAdmin(ctx, input.userId);
      const body = input.body;
      if (body.trim().length === 0 || body.length > MAX_SMS_BODY) {
        throw badUserInput(`"body" must be 1..${MAX_SMS_BODY} characters; got ${body.length}`, 'body');
      }
      checkIdempotencyKey(input.idempotencyKey);
      return runIdempotent(
        ctx,
        {
          mutation: 'sendSms',
          viewerId: viewer.id,
          key: input.idempotencyKey,
          input: { userId: input.userId, body },
        },
        async () => {
          const user = await ctx.loaders.user.load(input.userId);
          if (!user) throw userError('NOT_FOUND', `No user with id "${input.userId}"`);
          if (!user.phone) throw badUserInput(`User "${input.userId}" has no phone number`, 'userId');
          const message = await ctx.services.sms.sendSms(
            { to: user.phone, body, userId: user.id },
            ctx.upstream,
          );
          return { message };
        },
      );
    },
    sendEmail: async (_parent, { input }, ctx) => {
      const viewer = requireViewer(ctx);
      checkIdempotencyKey(input.idempotencyKey);
      if ((input.userId == null) === (input.to == null)) {
        throw badUserInput('Give exactly one of "userId" and "to"', input.userId == null ? 'userId' : 'to');
      }
      if (input.subject.trim() === '' || input.subject.length > 998)
        throw badUserInput('"subject" must be 1..998 characters', 'subject');
      if (!input.text && !input.html) throw badUserInput('Give "text", "html" or both', 'text');
      if (input.to != null) {
        // A raw address could be anyone's: only admins may send there.
        requireAdmin(ctx);
        if (!EMAIL.test(input.to) || input.to.length > 320)
          throw badUserInput(`"to" is not an email address`, 'to');
      } else {
        requireSelfOrAdmin(ctx, input.userId as string);
      }
      return runIdempotent(
        ctx,
        {
          mutation: 'sendEmail',
          viewerId: viewer.id,
          key: input.idempotencyKey,
          input: {
            userId: input.userId ?? null,
            to: input.to ?? null,
            subject: input.subject,
            text: input.text ?? null,
            html: input.html ?? null,
          },
        },
        async () => {
          let to: string;
          let toName: string | undefined;
          const customArgs: Record<string, string> = {};
          if (input.to != null) {
            to = input.to;
          } else {
            const userId = input.userId as string;
            const user = await ctx.loaders.user.load(userId);
            if (!user) throw userError('NOT_FOUND', `No user with id "${userId}"`);
            to = user.email;
            toName = `${user.firstName} ${user.lastName}`.trim();
            customArgs.user_id = user.id;
          }
          const receipt = await ctx.services.email.sendEmail(
            {
              to,
              toName,
              subject: input.subject,
              text: input.text,
              html: input.html,
              customArgs: Object.keys(customArgs).length > 0 ? customArgs : undefined,
            },
            ctx.upstream,
          );
          return { receipt };
        },
      );
    },
  },
};
