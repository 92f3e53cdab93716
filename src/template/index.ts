/** Template entry points: any input shape (file, text or JSON) in; a normalized BakeSpec or every error out. */

export type * from './spec.ts';
export { LIMITS } from './schema.ts';
export { parseArmId, parseArmIdOf, type ArmId } from './arm-id.ts';
export { MAX_ERRORS, parseTemplate, type ParseOptions } from './parse.ts';
export { convertTemplate, loadTemplate, loadTemplateFile, type Conversion, type LoadOptions, type LoadResult, type TemplateFormat, type TemplateInput } from './load.ts';
