// First step of `npm test`: the suite's DynamoDB Local runs on Java, so a machine without it stops here, in a
// second, with the same one-line advice `npm start` gives, instead of after a minute of lint and type-check.
import { assertJava, JavaMissingError } from '../local/dynamo-local.ts';

try {
  assertJava();
} catch (error) {
  if (!(error instanceof JavaMissingError)) throw error;
  console.error(error.message);
  process.exit(1);
}
