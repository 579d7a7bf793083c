/**
 * Task files (FILE-1..FILE-8), level full, for a provider that announces `"files"`: the suite
 * opens file links (`<endpoint>/files?clientId=`) and moves real bytes. A provider that does not
 * announce it is never sent a file message: every check is then not applicable (FILE-1).
 */
import { createHash, randomBytes } from 'node:crypto';
import { v4 as uuid } from 'uuid';
import { WebSocket } from 'ws';
import { chunkHeader, decodeChunkFrame } from '../../../machines/files/chunkFrame.js';
import { fail, notApplicable, pass, type Check, type CheckResult } from '../types.js';
import type { ProviderProbe } from './probe.js';

type ProviderCheck = Check<ProviderProbe>;
type Json = Record<string, any>;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The service of this endpoint that takes task files, from its advertisements; undefined when none announces "files". */
function fileService(probe: ProviderProbe): Promise<string | undefined> {
  return probe.memo('files.service', async () => {
    const discovered = await probe.discover();
    for (const datagram of [...discovered.replies, ...discovered.unicast]) {
      const ad = datagram.json as Json | undefined;
      if (ad?.discoveryType !== 'ServiceAdvertisement' || !Array.isArray(ad.features) || !ad.features.includes('files')) continue;
      if (JSON.stringify(ad.capabilities ?? []).includes('"switchboard-file"')) return String(ad.serviceName);
    }
    return undefined;
  });
}

const NOT_ANNOUNCED = 'no advertisement of this provider announces "files" with a task file operation: the suite sends it no file message (FILE-1)';

/** One file link of the suite: JSON messages and binary frames, recorded. */
class SuiteFileLink {
  readonly received: Json[] = [];
  readonly chunks: Array<{ transferId: string; index: number; data: Uint8Array }> = [];
  readonly #socket: WebSocket;
  #wake: Array<() => void> = [];

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.on('error', () => undefined);
    socket.on('message', (data, isBinary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (isBinary) {
        const decoded = decodeChunkFrame(bytes, 16_777_216 + 261);
        if (decoded.ok) this.chunks.push({ ...decoded.frame, data: new Uint8Array(decoded.frame.data) });
      } else {
        try {
          this.received.push(JSON.parse(bytes.toString('utf8')) as Json);
        } catch {
          this.received.push({ type: 'not JSON' });
        }
      }
      for (const wake of this.#wake.splice(0)) wake();
    });
  }

  static async open(endpoint: string, clientId: string, timeoutMs: number): Promise<SuiteFileLink> {
    const url = new URL(endpoint);
    url.pathname = '/files';
    url.searchParams.set('clientId', clientId);
    const socket = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no file link within ${timeoutMs} ms`)), timeoutMs);
      socket.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    return new SuiteFileLink(socket);
  }

  get open(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  send(type: string, payload: Json): void {
    this.#socket.send(JSON.stringify({ type, messageId: uuid(), timestamp: new Date().toISOString(), payload }));
  }

  sendBinary(bytes: Uint8Array): void {
    this.#socket.send(bytes, { binary: true });
  }

  /** The first message about `transferId` after `skip` of them, of one of `types` (any when empty). */
  async answer(transferId: string, timeoutMs: number, ...types: string[]): Promise<Json | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find((m) => m.payload?.transferId === transferId && (types.length === 0 || types.includes(m.type)));
      if (found !== undefined || Date.now() >= deadline) return found;
      await new Promise<void>((resolve) => {
        this.#wake.push(resolve);
        setTimeout(resolve, Math.min(100, Math.max(1, deadline - Date.now())));
      });
    }
  }

  close(): void {
    this.#socket.terminate();
  }
}

const describeMessage = (message: Json | undefined) =>
  message === undefined ? 'nothing' : `${message.type}${message.payload?.code === undefined ? '' : ` ${message.payload.code}`}`;

/**
 * Pushes `bytes` as the file `claimed` (its sha256 and size), obeying FileNeed and the credits
 * (FILE-4); resolves with the verdict (FileDone, FileFailed, FileHave, or nothing).
 */
async function push(link: SuiteFileLink, clientId: string, serviceName: string, claimed: { sha256: string; size: number }, bytes: Uint8Array, timeoutMs: number): Promise<Json | undefined> {
  const transferId = `conformance-${uuid()}`;
  link.send('FileOffer', { transferId, clientId, serviceName, file: claimed });
  const first = await link.answer(transferId, timeoutMs, 'FileNeed', 'FileHave', 'FileFailed');
  if (first?.type !== 'FileNeed') return first;
  const chunkBytes = Number(first.payload.chunkBytes);
  const count = Math.ceil(bytes.byteLength / chunkBytes);
  let credits = Number(first.payload.credits);
  let next = 0;
  let creditsSeen = 0;
  const deadline = Date.now() + timeoutMs;
  while (next < count && Date.now() < deadline) {
    while (credits > 0 && next < count) {
      link.sendBinary(Buffer.concat([chunkHeader(transferId, next), bytes.subarray(next * chunkBytes, Math.min(bytes.byteLength, (next + 1) * chunkBytes))]));
      next++;
      credits--;
    }
    if (next >= count) break;
    await link.answer(transferId, 100, 'FileFailed');
    const grants = link.received.filter((m) => m.type === 'FileCredit' && m.payload?.transferId === transferId);
    for (const grant of grants.slice(creditsSeen)) credits += Number(grant.payload.credits);
    creditsSeen = grants.length;
    if (link.received.some((m) => m.type === 'FileFailed' && m.payload?.transferId === transferId)) break;
  }
  return link.answer(transferId, timeoutMs, 'FileDone', 'FileFailed');
}

/** Runs `body` with file links that are closed afterwards; not applicable without "files". */
async function withFiles(probe: ProviderProbe, body: (serviceName: string, links: (clientId: string) => Promise<SuiteFileLink>) => Promise<CheckResult>): Promise<CheckResult> {
  const serviceName = await fileService(probe);
  if (serviceName === undefined) return notApplicable(NOT_ANNOUNCED);
  const opened: SuiteFileLink[] = [];
  try {
    return await body(serviceName, async (clientId) => {
      const link = await SuiteFileLink.open(probe.endpoint, clientId, probe.timing.answerMs);
      opened.push(link);
      return link;
    });
  } finally {
    for (const link of opened) link.close();
  }
}

const roundTrip: ProviderCheck = {
  name: 'provider.files.roundTrip',
  requirements: ['FILE-2', 'FILE-3', 'FILE-4', 'FILE-5'],
  level: 'full',
  title: 'A file pushed in chunks within the credits is verified (FileDone); offered again it is held (FileHave); pulled back it has the same bytes',
  timeoutMs: 20_000,
  run: (probe) =>
    withFiles(probe, async (serviceName, link) => {
      const clientId = `conformance-files-${uuid()}`;
      const files = await link(clientId);
      const bytes = new Uint8Array(randomBytes(300_000));
      const file = { sha256: sha256(bytes), size: bytes.byteLength, name: 'conformance.bin' };
      const verdict = await push(files, clientId, serviceName, file, bytes, probe.timing.answerMs * 4);
      if (verdict?.type !== 'FileDone' || verdict.payload?.sha256 !== file.sha256) return fail(`pushed ${file.size} bytes: expected FileDone with the sha256, got ${describeMessage(verdict)}`);
      const again = await push(files, clientId, serviceName, file, bytes, probe.timing.answerMs);
      if (again?.type !== 'FileHave') return fail(`offered the same file again: expected FileHave (FILE-3), got ${describeMessage(again)}`);
      const pull = `conformance-pull-${uuid()}`;
      files.send('FileRequest', { transferId: pull, clientId, serviceName, sha256: file.sha256 });
      const offer = await files.answer(pull, probe.timing.answerMs, 'FileOffer', 'FileFailed');
      if (offer?.type !== 'FileOffer') return fail(`FileRequest for a file this client sent: expected FileOffer (FILE-8), got ${describeMessage(offer)}`);
      files.send('FileNeed', { transferId: pull, chunkBytes: 65_536, credits: 1024 });
      const deadline = Date.now() + probe.timing.answerMs * 4;
      const count = Math.ceil(file.size / 65_536);
      while (files.chunks.filter((c) => c.transferId === pull).length < count && Date.now() < deadline) await files.answer(pull, 100, 'FileFailed');
      const chunks = files.chunks.filter((c) => c.transferId === pull).sort((a, b) => a.index - b.index);
      const back = Buffer.concat(chunks.map((c) => c.data));
      if (sha256(back) !== file.sha256) return fail(`pulled ${chunks.length} chunks, ${back.byteLength} bytes: not the file sent`);
      files.send('FileDone', { transferId: pull, sha256: file.sha256 });
      return pass(`FileDone for ${file.size} bytes in ${Math.ceil(file.size / Number(65_536))}+ chunks; FileHave on the second offer; pulled back ${chunks.length} chunks, same SHA-256`);
    }),
};

const hashMismatch: ProviderCheck = {
  name: 'provider.files.hashMismatch',
  requirements: ['FILE-2'],
  level: 'full',
  title: 'Bytes that do not hash to the offered sha256 get FileFailed FILE_HASH_MISMATCH, and nothing of them is kept',
  timeoutMs: 15_000,
  run: (probe) =>
    withFiles(probe, async (serviceName, link) => {
      const clientId = `conformance-files-${uuid()}`;
      const files = await link(clientId);
      const claimed = new Uint8Array(randomBytes(20_000));
      const sent = new Uint8Array(randomBytes(20_000));
      const file = { sha256: sha256(claimed), size: claimed.byteLength };
      const verdict = await push(files, clientId, serviceName, file, sent, probe.timing.answerMs * 2);
      if (verdict?.type !== 'FileFailed' || verdict.payload?.code !== 'FILE_HASH_MISMATCH') return fail(`sent other bytes than offered: expected FileFailed FILE_HASH_MISMATCH, got ${describeMessage(verdict)}`);
      const again = await push(files, clientId, serviceName, file, claimed, probe.timing.answerMs * 2);
      if (again?.type === 'FileHave') return fail('after the mismatch, an offer of the claimed file got FileHave: the wrong bytes were kept under its hash');
      return pass(`FileFailed FILE_HASH_MISMATCH; the claimed file offered afterwards: ${describeMessage(again)}`);
    }),
};

const foreign: ProviderCheck = {
  name: 'provider.files.foreign',
  requirements: ['FILE-8'],
  level: 'full',
  title: "Another client cannot fetch or confirm a client's file, knowing its hash: FileNeed for its offer, FILE_NOT_FOUND for its request",
  timeoutMs: 15_000,
  run: (probe) =>
    withFiles(probe, async (serviceName, link) => {
      const owner = `conformance-files-${uuid()}`;
      const bytes = new Uint8Array(randomBytes(10_000));
      const file = { sha256: sha256(bytes), size: bytes.byteLength };
      const sent = await push(await link(owner), owner, serviceName, file, bytes, probe.timing.answerMs * 2);
      if (sent?.type !== 'FileDone') return fail(`the owner's upload got ${describeMessage(sent)}`);
      const other = `conformance-files-${uuid()}`;
      const thief = await link(other);
      const probeOffer = `conformance-${uuid()}`;
      thief.send('FileOffer', { transferId: probeOffer, clientId: other, serviceName, file });
      const offered = await thief.answer(probeOffer, probe.timing.answerMs);
      const request = `conformance-${uuid()}`;
      thief.send('FileRequest', { transferId: request, clientId: other, serviceName, sha256: file.sha256 });
      const requested = await thief.answer(request, probe.timing.answerMs);
      const problems: string[] = [];
      if (offered?.type !== 'FileNeed') problems.push(`another client's offer of the same hash got ${describeMessage(offered)}, expected FileNeed`);
      if (requested?.type !== 'FileFailed' || requested.payload?.code !== 'FILE_NOT_FOUND') problems.push(`another client's FileRequest got ${describeMessage(requested)}, expected FileFailed FILE_NOT_FOUND`);
      return problems.length === 0 ? pass('FileNeed for the offer, FILE_NOT_FOUND for the request') : fail(problems.join('; '));
    }),
};

const limits: ProviderCheck = {
  name: 'provider.files.limits',
  requirements: ['FILE-1', 'FILE-6'],
  level: 'full',
  title: 'An oversized offer gets FILE_TOO_LARGE before any chunk; a binary message of no transfer gets Error INVALID_MESSAGE; the link stays open',
  timeoutMs: 15_000,
  run: (probe) =>
    withFiles(probe, async (serviceName, link) => {
      const clientId = `conformance-files-${uuid()}`;
      const files = await link(clientId);
      const big = `conformance-${uuid()}`;
      files.send('FileOffer', { transferId: big, clientId, serviceName, file: { sha256: 'ab'.repeat(32), size: 2 ** 52 } });
      const refused = await files.answer(big, probe.timing.answerMs);
      files.sendBinary(Buffer.concat([chunkHeader('no-such-transfer', 0), Buffer.from('stray bytes')]));
      files.sendBinary(Buffer.from([0xff, 0x00, 0x01]));
      const deadline = Date.now() + probe.timing.answerMs;
      while (files.received.filter((m) => m.type === 'Error').length < 2 && Date.now() < deadline) await files.answer('-', 100);
      const errors = files.received.filter((m) => m.type === 'Error');
      const problems: string[] = [];
      if (refused?.type !== 'FileFailed' || refused.payload?.code !== 'FILE_TOO_LARGE') problems.push(`an offer of 2^52 bytes got ${describeMessage(refused)}, expected FileFailed FILE_TOO_LARGE`);
      if (errors.length < 2 || errors.some((e) => e.payload?.code !== 'INVALID_MESSAGE')) problems.push(`two stray binary messages got ${errors.map(describeMessage).join(', ') || 'nothing'}, expected Error INVALID_MESSAGE each`);
      if (!files.open) problems.push('the provider closed the file link');
      return problems.length === 0 ? pass('FILE_TOO_LARGE; Error INVALID_MESSAGE twice; the link stayed open') : fail(problems.join('; '));
    }),
};

export const fileChecks: readonly ProviderCheck[] = [roundTrip, hashMismatch, foreign, limits];
