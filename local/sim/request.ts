/**
 * A chat completion request as the simulator reads it: the OpenAI-compatible body, checked the
 * way DeepSeek answers a bad one (400 for a bad format or model, 422 for bad parameters).
 */
import * as z from 'zod';
import type { Catalog } from '../../shared/pricing/catalog';
import { HttpError } from './http';
import { findModel, ModelNotServedError, type SimModel } from './models';
import type { SimMessage } from './render';

const USER_ID_MAX_BYTES = 512;

const ContentPart = z.object({ type: z.string(), text: z.string().optional() }).loose();
const Message = z
  .object({
    role: z.enum(['system', 'user', 'assistant']),
    content: z.union([z.string(), z.array(ContentPart), z.null()]).optional(),
  })
  .loose();
const ChatRequest = z
  .object({
    model: z.string(),
    messages: z.array(Message).min(1),
    max_tokens: z.number().nullish(),
    max_completion_tokens: z.number().nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().nullish() }).loose().nullish(),
    response_format: z
      .object({ type: z.enum(['text', 'json_object']) })
      .loose()
      .nullish(),
    user_id: z.string().nullish(),
    user: z.string().nullish(),
  })
  .loose();
export type ChatRequest = z.infer<typeof ChatRequest>;

/** A request, its model, its messages as text, and the output and cache key limits it set. */
export interface ParsedChat {
  request: ChatRequest;
  model: SimModel;
  messages: SimMessage[];
  maxTokens: number;
  user: string;
}

function messageText(content: z.infer<typeof Message>['content']): string {
  if (typeof content === 'string') return content;
  if (!content) return '';
  return content.map((part) => part.text ?? '').join('');
}

/** Reads a chat completion body; throws the HttpError DeepSeek would answer a bad one with. */
export function parseChat(body: string, receivedAt: number, catalog: Catalog): ParsedChat {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new HttpError(400, 'Invalid Format: request body is not JSON', 'invalid_request_error');
  }
  const parsed = ChatRequest.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues[0]?.path.join('.') ?? 'body';
    throw new HttpError(400, `Invalid Format: ${where}`, 'invalid_request_error');
  }
  const request = parsed.data;
  let model: SimModel;
  try {
    // A model with no price in force is not served: it would otherwise be billed as $0.
    model = findModel(request.model, new Date(receivedAt), catalog);
  } catch (err) {
    if (err instanceof ModelNotServedError)
      throw new HttpError(400, `Model Not Exist: ${request.model}`, 'invalid_request_error');
    throw err;
  }
  const maxTokens =
    request.max_tokens ?? request.max_completion_tokens ?? (model.reasoning ? 32_768 : 4096);
  if (!Number.isInteger(maxTokens) || maxTokens < 1)
    throw new HttpError(
      422,
      'Invalid Parameters: max_tokens must be a positive integer',
      'invalid_request_error',
    );
  const user = request.user_id ?? request.user ?? '';
  if (Buffer.byteLength(user) > USER_ID_MAX_BYTES)
    throw new HttpError(422, 'Invalid Parameters: user_id is too long', 'invalid_request_error');
  const messages = request.messages.map((m) => ({
    role: m.role,
    content: messageText(m.content),
  }));
  return { request, model, messages, maxTokens, user };
}
