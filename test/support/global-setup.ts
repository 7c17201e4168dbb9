// Once per test run: fail at once, in one line, when Java (which DynamoDB Local needs) is missing; each test
// file then starts its own DynamoDB Local (test/support/setup-env.ts).
import { assertJava } from '../../local/dynamo-local.ts';

export default function setup(): void {
  assertJava();
}
