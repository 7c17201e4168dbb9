// Stripe emulator: what every resource operation works with: the state, the event log and the few
// settings that shape behaviour (where the emulator is reachable, how long a bank transfer takes).
import type { EventLog } from './events.ts';
import type { Store } from './store.ts';

export type EmulatorContext = {
  store: Store;
  events: EventLog;
  /** `http://host:port` of the emulator, for hosted page URLs. */
  baseUrl: string;
  /** How long after a bank transfer is chosen its funds arrive (Infinity: only when told to). */
  fundingDelayMs: number;
  /** Arms the timer that funds a bank transfer when it is due. */
  scheduleFunding(paymentIntentId: string, delayMs: number): void;
};
