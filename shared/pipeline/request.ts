/**
 * The request the planner stores for a job and the worker sends: planner and worker both hold
 * it, so it lives beside them rather than in either.
 */
import type { ChatMessage } from '../types';

/** The request the worker sends for a job, stored so that every attempt sends the same bytes. */
export interface StoredRequest {
  model: string;
  messages: ChatMessage[];
  maxTokens: number;
}
