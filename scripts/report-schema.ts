/** The JSON Schema of report.json, generated from the TypeScript definition (src/report/types.ts). */
import { fileURLToPath } from 'node:url';
import { createGenerator } from 'ts-json-schema-generator';

export function reportSchemaFromTypes(): Record<string, unknown> {
  const schema = createGenerator({
    path: fileURLToPath(new URL('../src/report/types.ts', import.meta.url)),
    tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)),
    type: 'Report',
    expose: 'export',
    topRef: true,
    jsDoc: 'basic',
    additionalProperties: false,
    skipTypeCheck: true,
  }).createSchema('Report') as Record<string, unknown>;
  return { $id: 'https://raw.githubusercontent.com/modelgate/modelgate/main/schema/report.schema.json', ...schema };
}
