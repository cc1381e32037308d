export { canonicalJson, prefixKey, prefixMessages, requestHash } from './keys';
export { LANGUAGES, type Language, languageOf, outputPathFor } from './language';
export { buildMessages, type ContextFile, type PromptInput, sharedContextFrom } from './messages';
export {
  ACKNOWLEDGEMENT,
  NO_SHARED_CONTEXT,
  SHARED_CONTEXT_HEADER,
  systemTemplate,
} from './templates';
