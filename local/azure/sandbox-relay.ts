/**
 * The guest end of a guest's network, started by the guest's init inside its network namespace: it listens on the
 * guest's own loopback and relays each connection to one of the emulator's unix sockets (by its path inside the
 * guest). It imports only Node built-ins: it keeps running after the host's file tree is detached from the guest.
 * Usage: sandbox-relay.ts READY_FILE PORT=SOCKET…
 */
import { writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';

const [readyFile, ...routes] = process.argv.slice(2);

function relay(port: number, socketPath: string): Promise<Server> {
  const server = createServer((guestSide) => {
    const hostSide = connect(socketPath);
    guestSide.pipe(hostSide).pipe(guestSide);
    guestSide.on('error', () => hostSide.destroy());
    hostSide.on('error', () => guestSide.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

await Promise.all(
  routes.map((route) => {
    const [port, socketPath] = route.split('=');
    if (!port || !socketPath || !Number.isInteger(Number(port))) throw new Error(`relay route: expected PORT=SOCKET, found ${JSON.stringify(route)}`);
    return relay(Number(port), socketPath);
  }),
);
if (readyFile) writeFileSync(readyFile, '');
