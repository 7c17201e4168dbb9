// The catch-all route: anything no other route matches answers the contract's 404 body.
import { unknownRoute } from '#shared/http/not-found.ts';

export const handler = unknownRoute;
