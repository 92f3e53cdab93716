/**
 * HTTP POSTs to addresses a template names (notify webhooks): the address actually connected to is checked, after
 * DNS, so neither a literal nor a name that resolves to a link-local, metadata or (unless allowed) private address
 * is reached.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { addressRefusal, literalAddress } from '../template/addresses.ts';

/** A target refused before anything was sent: final, retrying cannot help. */
export class RefusedTarget extends Error {
  override name = 'RefusedTarget';
}

/** dns.lookup that fails for any refused address among the answers (all answers: the socket may try each). */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      for (const { address } of addresses) {
        const refusal = addressRefusal(address, allowPrivate);
        if (refusal) return callback(new RefusedTarget(`${hostname} resolves to ${refusal}`), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

/** POSTs `body` to `url` and resolves with the HTTP status; rejects with RefusedTarget for a refused address. */
export function postJson(
  url: string,
  body: string,
  options: { headers: Record<string, string>; timeoutMs: number; allowPrivate: boolean },
): Promise<number> {
  const target = new URL(url);
  const literal = literalAddress(target);
  const refusal = literal === undefined ? undefined : addressRefusal(literal, options.allowPrivate);
  if (refusal) return Promise.reject(new RefusedTarget(`${target.host}: ${refusal}`));
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(target, {
      method: 'POST',
      headers: { ...options.headers, 'content-length': String(Buffer.byteLength(body)) },
      lookup: guardedLookup(options.allowPrivate),
      // A fresh connection: a pooled socket would skip the guarded lookup.
      agent: false,
      timeout: options.timeoutMs,
    });
    req.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
