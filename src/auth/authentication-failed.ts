/**
 * A missing or bad credential. The message is for the server log only: the
 * caller gets UNAUTHENTICATED with no detail, so that probing teaches nothing.
 */
export class AuthenticationFailed extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AuthenticationFailed';
  }
}
