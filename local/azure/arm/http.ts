/** The request and response shapes that ARM handlers see: parsed, authenticated, never raw sockets. */

export interface ArmRequest {
  method: string;
  /** Path with repeated slashes collapsed, without the query. */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  apiVersion: string;
  /** Parsed JSON body (undefined when the request had none). */
  body: unknown;
  /** `https://127.0.0.1:PORT`, for absolute polling URLs. */
  origin: string;
  operation: string;
}

export interface ArmResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}
