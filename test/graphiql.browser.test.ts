// GraphiQL in a real browser (Debian's Chromium, driven by playwright-core): the sandbox gateway's
// page renders from local assets with no network beyond the gateway, opens with the admin key in
// the Headers editor, runs a deleteSession whose payload shows in the result pane, and runs the
// ready subscription over SSE, which shows a deletion made meanwhile arrive as DELETED.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayHandle } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const ARTIFACTS = join(import.meta.dirname, 'artifacts');

if (!hasChromium) console.warn(`GraphiQL browser test skipped: ${CHROMIUM} not found (apt-get install -y chromium chromium-driver).`);

let dir: string;
let gateway: GatewayHandle;
let browser: Browser;

beforeAll(async () => {
  if (!hasChromium) return;
  dir = mkdtempSync(join(tmpdir(), 'gateway-graphiql-'));
  gateway = await startGateway(loadConfig({ SANDBOX: '1', PORT: '0', DATABASE_PATH: join(dir, 'gateway.db'), AUDIT_SIGNING_KEY_FILE: join(dir, 'audit-signing-key.pem'), LOG_LEVEL: 'silent' }), {
    print: () => {},
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await gateway?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The text Monaco shows in the visible editor under `selector` (lines as spans; nbsp for spaces). */
async function editorText(page: Page, selector: string): Promise<string> {
  const text = await page.locator(`${selector} .view-lines`).filter({ visible: true }).first().innerText();
  return text.replace(/\u00a0/g, ' ');
}

describe('GraphiQL in Chromium', () => {
  it.skipIf(!hasChromium)('renders offline, carries the sandbox key, and runs deleteSession into the result pane', async () => {
    const origin = new URL(gateway.url).origin;
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const elsewhere: string[] = [];
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // Nothing may come from a CDN: any request not to the gateway (blob: workers aside) is refused and noted.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(origin) || url.startsWith('blob:') || url.startsWith('data:')) return route.continue();
      elsewhere.push(url);
      return route.abort();
    });

    await page.goto(`${gateway.url}/graphql`);
    await expect.poll(() => page.title()).toBe('Speech deletion gateway');
    await page.locator('.graphiql-query-editor .view-lines').waitFor({ state: 'visible', timeout: 20_000 });
    await expect.poll(() => editorText(page, '.graphiql-query-editor'), { timeout: 20_000 }).toContain('mutation DeleteDemoTranscription');

    // The sandbox opens with the demo admin key in the Headers editor.
    await page.getByRole('button', { name: /headers/i }).first().click();
    const admin = gateway.sandbox!.keys.admin;
    await expect.poll(() => editorText(page, '.graphiql-editor-tool')).toContain(`Bearer ${admin}`);

    // The sandbox query holds several operations: the Execute button offers them by name.
    const request = page.waitForRequest((r) => r.method() === 'POST' && r.url().startsWith(`${origin}/graphql`));
    await page.getByRole('button', { name: /execute query/i }).click();
    await page.getByRole('menuitem', { name: 'DeleteDemoSession' }).click();
    const sent = await request;
    expect(sent.headers().authorization).toBe(`Bearer ${admin}`);
    expect(sent.postDataJSON()).toMatchObject({ operationName: 'DeleteDemoSession' });

    await expect.poll(() => editorText(page, '.graphiql-response'), { timeout: 20_000 }).toContain('SessionDeletion');
    const result = await editorText(page, '.graphiql-response');
    expect(result).toContain(`"sessionId": "${gateway.sandbox!.resources.session}"`);
    expect(result).toContain('"documentsDeleted": 2');
    expect(result).toContain('"commentsDeleted": 1');
    expect(result).toContain('"status": "DELETED"');

    mkdirSync(ARTIFACTS, { recursive: true });
    // The Headers editor shows an API key: masked, so no key ends up in an artifact.
    await page.screenshot({ path: join(ARTIFACTS, 'graphiql-delete-session.png'), mask: [page.locator('.graphiql-editor-tool')] });
    expect(elsewhere).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it.skipIf(!hasChromium)('runs the ready subscription over SSE and shows the DELETED event of a delete made meanwhile', async () => {
    const origin = new URL(gateway.url).origin;
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${gateway.url}/graphql`);
    await page.locator('.graphiql-query-editor .view-lines').waitFor({ state: 'visible', timeout: 20_000 });
    await expect.poll(() => editorText(page, '.graphiql-query-editor'), { timeout: 20_000 }).toContain('subscription WatchDemoTranscription');

    const admin = gateway.sandbox!.keys.admin;
    const id = gateway.sandbox!.resources.aitronosTranscription;
    // GraphiQL subscribes with a GET that asks for text/event-stream and carries the Headers tab.
    const request = page.waitForRequest((r) => r.url().startsWith(`${origin}/graphql`) && (r.headers().accept ?? '').includes('text/event-stream'));
    await page.getByRole('button', { name: /execute query/i }).click();
    await page.getByRole('menuitem', { name: 'WatchDemoTranscription' }).click();
    const sent = await request;
    expect(sent.headers().authorization).toBe(`Bearer ${admin}`);
    await expect.poll(() => gateway.feed.streams, { timeout: 10_000 }).toBe(1);

    // Deleted elsewhere (as a frontend would), while GraphiQL's stream is open.
    const deleted = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ query: `mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename } }`, variables: { id } }),
    });
    expect(((await deleted.json()) as { data: { deleteTranscription: { __typename: string } } }).data.deleteTranscription.__typename).toBe('TranscriptionDeletion');

    await expect.poll(() => editorText(page, '.graphiql-response'), { timeout: 20_000 }).toContain('"status": "DELETED"');
    const result = await editorText(page, '.graphiql-response');
    expect(result).toContain(`"resourceId": "${id}"`);
    expect(result).toContain('"upstreamDeletionChanged"');
    // The stream completed after DELETED: nothing stays open.
    await expect.poll(() => gateway.feed.streams, { timeout: 10_000 }).toBe(0);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'graphiql-subscription.png'), mask: [page.locator('.graphiql-editor-tool')] });
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
