/** Who sent a request, as both transports (REST and tRPC) hand it to the verbs. */
export interface ClientInfo {
  /** The client's address, for throttling; "unknown" when there is no socket (in-process requests). */
  ip: string;
  /** The request reached the edge over TLS, so cookies get the Secure attribute. */
  secure: boolean;
}
