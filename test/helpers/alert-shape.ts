/**
 * The shape every pgshift alert has on the wire, as zod schemas: the SNS message (MessageStructure json, one
 * document per protocol) and the custom notification Amazon Q Developer in chat applications (AWS Chatbot)
 * posts: version "1.0", source "custom", content.textType "client-markdown", title, description, nextSteps,
 * keywords (docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html).
 */
import { z } from 'zod';

export const chatbotNotification = z.object({
  version: z.literal('1.0'),
  source: z.literal('custom'),
  id: z.string().optional(),
  content: z.object({
    textType: z.literal('client-markdown'),
    title: z.string().min(1),
    description: z.string().min(1),
    nextSteps: z.array(z.string().min(1)).min(1),
    keywords: z.array(z.string().min(1)).min(1),
  }),
  metadata: z
    .object({
      threadId: z.string().optional(),
      summary: z.string().optional(),
      eventType: z.string().optional(),
      relatedResources: z.array(z.string()).optional(),
      additionalContext: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
});
export type ChatbotNotification = z.infer<typeof chatbotNotification>;

/** SNS requires `default` when MessageStructure is json; email reads `email`, Chatbot (HTTPS) reads `https`. */
export const snsDocuments = z.object({
  default: z.string().min(1),
  email: z.string().min(1),
  https: z.string().min(1),
  'email-json': z.string().min(1),
});

/** The per-protocol documents of one published message, the Chatbot one parsed and validated. */
export function parseAlertMessage(message: string): { email: string; chatbot: ChatbotNotification } {
  const docs = snsDocuments.parse(JSON.parse(message));
  return { email: docs.email, chatbot: chatbotNotification.parse(JSON.parse(docs.https)) };
}

/** The four things every alert's email says (docs/alerts.md). */
export const EMAIL_LINES = [
  'What ran: ',
  'Database: ',
  'What happened: ',
  'State of the database now: ',
  'What to do:',
];
