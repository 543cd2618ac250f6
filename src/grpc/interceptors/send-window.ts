import { ServerInterceptingCall, type ServerInterceptingCallInterface, type ServerInterceptor } from '@grpc/grpc-js';
import { EncodedMessage, FramedMessages } from '../encoded-messages.js';

/**
 * The most bytes of already encoded messages a server-streaming call may
 * have handed to HTTP/2 and not yet seen written; twice HTTP/2's default
 * stream window, so that this window is not what holds a client back.
 */
export const SEND_WINDOW_BYTES = 128 * 1024;

/**
 * Lets a server-streaming call hand its messages to HTTP/2 several at a
 * time. grpc-js passes a handler's messages on one at a time: its call is a
 * Writable without writev, which hands over the next message only once the
 * last one's write has completed, and that completion comes a turn of the
 * event loop later. While writes keep the loop busy (a turn of 100 ms and
 * more), a WatchEvents subscriber then got about one event per turn, and
 * events waited seconds for their turn (docs/decisions.md, "Events reach
 * subscribers in the turn they are read"). Here a message already encoded
 * (EncodedMessage; FramedMessages, WatchEvents events written together;
 * or a Buffer, as a server with identity serializers sends) counts as
 * written as soon as it is handed on, while the call has less than
 * SEND_WINDOW_BYTES handed on and not yet written; past that, the
 * handler's stream waits, as before, for the writes to complete, so a
 * client that reads slowly still slows only its own call. A message of
 * unknown size fills the window: it is passed on alone, as grpc-js would.
 *
 * Put it last among the server's interceptors, so that it sees the
 * handler's messages first.
 */
export function sendWindowInterceptor(): ServerInterceptor {
  // A unary call passes as it is: a layer that only forwards costs every call its closures (grpc-js chains what an interceptor returns).
  return (method, call) => (method.responseStream ? new WindowedSendCall(call) : (call as ServerInterceptingCall));
}

class WindowedSendCall extends ServerInterceptingCall {
  /** Bytes handed on whose write has not completed. */
  private inFlight = 0;
  /** The handler stream's callback for the message that filled the window, called once the window has room again. */
  private waiting: (() => void) | undefined;

  constructor(next: ServerInterceptingCallInterface) {
    super(next);
  }

  override sendMessage(message: unknown, callback: () => void): void {
    const bytes = sizeOf(message);
    this.inFlight += bytes;
    super.sendMessage(message, () => {
      this.inFlight -= bytes;
      if (this.waiting && this.inFlight < SEND_WINDOW_BYTES) {
        const resume = this.waiting;
        this.waiting = undefined;
        resume();
      }
    });
    if (this.inFlight < SEND_WINDOW_BYTES) callback();
    else this.waiting = callback;
  }
}

/** The bytes of a message already encoded; SEND_WINDOW_BYTES for one of unknown size. */
function sizeOf(message: unknown): number {
  if (message instanceof EncodedMessage) return message.bytes.length;
  if (message instanceof FramedMessages) return message.frames.length;
  return Buffer.isBuffer(message) ? message.length : SEND_WINDOW_BYTES;
}
